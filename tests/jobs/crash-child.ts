// Child process for the crash-safety test: opens the workspace (recovering an interrupted run),
// runs the queue, and reports its phases on stdout ("PHASE name fraction") so the parent can
// SIGKILL it at chosen moments. CRASH_MODE=commit makes it SIGKILL itself inside the recording
// transaction (after the edit's rows are written, before COMMIT).
//   argv: init|run  modelDir dbFile workspaceDir
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { QueueRunner } from '../../src-main/jobs/studio/runner';
import { fastProfile, worldEdits } from './helpers';

async function main() {
  const [mode, modelDir, dbFile, workspaceDir] = process.argv.slice(2);
  const out = (s: string) => process.stdout.write(s + '\n');
  const ws = await Workspace.open({ modelDir, dbFile, workspaceDir, cacheDir: process.env.EAC_CACHE_DIR, onProgress: (p) => out(`PHASE open-${p}`) });
  if (mode === 'init') {
    const q = ws.ledger.createQueue(ws.modelId, 'crash', 'rome', fastProfile('gpt2-world-a', 8), worldEdits(Number(process.env.CRASH_EDITS ?? 8), 40));
    out(`QUEUE ${q.id}`);
    await ws.close();
    return;
  }
  out(`READY recovered=${ws.recoveredItems.length}`);
  if (process.env.CRASH_MODE === 'commit') {
    const orig = ws.ledger.recordEdit.bind(ws.ledger);
    ws.ledger.recordEdit = ((...a: Parameters<typeof orig>) => {
      const r = orig(...a);
      out('PHASE mid-commit');
      process.kill(process.pid, 'SIGKILL');
      return r;
    }) as typeof orig;
  }
  const queueId = ws.ledger.queuesForModel(ws.modelId)[0].id;
  const runner = new QueueRunner(ws);
  const res = await runner.run(queueId, {}, {
    progress: (p) => out(`PHASE ${p.phase} ${(p.fraction ?? 0).toFixed(3)}`),
    emit: (ev) => {
      if (ev.type === 'edit.recorded') out(`EDIT ${ev.editId}`);
    },
  });
  out(`DONE ${res.state} ${res.editIds.length}`);
  await ws.close();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

// Child process for the crash-safety test: opens the workspace (recovering an interrupted run),
// runs the queue, and reports its phases on stdout ("PHASE name fraction") so the parent can
// SIGKILL it at chosen moments. CRASH_MODE=commit arms the ledger's crash hook (../store/crash-hook.ts, given as
// its beforeCommit option; EAC_TEST_CRASH_BEFORE_COMMIT=recordEdit): the process SIGKILLs itself inside the recording
// transaction, after the edit's last statement and before COMMIT, printing
// "EAC_TEST_CRASH_BEFORE_COMMIT recordEdit inTransaction=true {editId, seq, eventId}" to stderr first.
//   argv: init|run  modelDir dbFile workspaceDir
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { QueueRunner } from '../../src-main/jobs/studio/runner';
import { crashBeforeCommit } from '../store/crash-hook';
import { fastProfile, worldEdits } from './helpers';

async function main() {
  const [mode, modelDir, dbFile, workspaceDir] = process.argv.slice(2);
  const out = (s: string) => process.stdout.write(s + '\n');
  const ws = await Workspace.open({
    modelDir,
    dbFile,
    workspaceDir,
    cacheDir: process.env.EAC_CACHE_DIR,
    onProgress: (p) => out(`PHASE open-${p}`),
    ledger: { beforeCommit: crashBeforeCommit },
  });
  if (mode === 'init') {
    const q = ws.ledger.queues.createQueue(ws.modelId, 'crash', 'rome', fastProfile('gpt2-world-a', 8), worldEdits(Number(process.env.CRASH_EDITS ?? 8), 40));
    out(`QUEUE ${q.id}`);
    await ws.close();
    return;
  }
  // edits= : how many edits the ledger holds after recovery (the parent checks that a killed commit left none)
  out(`READY recovered=${ws.recoveredItems.length} edits=${ws.ledger.history(ws.modelId).edits.length}`);
  if (process.env.CRASH_MODE === 'commit') process.env.EAC_TEST_CRASH_BEFORE_COMMIT = 'recordEdit';
  const queueId = ws.ledger.queues.queuesForModel(ws.modelId)[0].id;
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

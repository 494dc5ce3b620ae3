// `eac health --model DIR [--db FILE] [--tasks FILE...] [--n N] [--json]`: health tasks on the
// resident model (rebuilt from the ledger when --db is given; the run is then recorded there).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pickTasks, runHealthCheck } from '../../jobs/studio/health-core';
import { Workspace } from '../../jobs/studio/workspace';
import { choiceOption, defineCommand, intOption, optionalString, printJson, requireString, UsageError, asInputError, type CliIO } from '../command';
import { DEVICES } from '../engine';

export default defineCommand({
  name: 'health',
  summary: 'run general-ability health tasks on a model (optionally its ledger\'s edited state)',
  usage: 'health --model DIR [--db FILE] [--tasks FILE...] [--task ID...] [--n N] [--device D] [--json]',
  help: [
    'Options:',
    '  --model DIR     Hugging Face folder',
    '  --db FILE       ledger: rebuild the edited model from it and record the runs (retention vs the baseline)',
    '  --tasks FILE    task JSON (or world-a style JSONL); repeatable (default: the bundled tasks that fit the model)',
    '  --task ID       run only these task ids; repeatable',
    '  --n N           examples per task (default 20)',
    '  --device D      cpu (default), webgpu or cuda',
    '  --json          one JSON object with the scores',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    db: { type: 'string', multiple: true },
    tasks: { type: 'string', multiple: true },
    task: { type: 'string', multiple: true },
    n: { type: 'string', multiple: true },
    device: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(values, _pos, io: CliIO) {
    const modelDir = path.resolve(io.cwd, requireString(values, 'model'));
    const dbArg = optionalString(values, 'db');
    const device = choiceOption(values, 'device', DEVICES, 'cpu');
    const n = values.n ? intOption(values, 'n', { min: 1 }) : undefined;
    const files = ((values.tasks as string[] | undefined) ?? []).map((f) => path.resolve(io.cwd, f));
    for (const f of files) if (!fs.existsSync(f)) throw new UsageError('usage', `task file not found: ${f}`);
    const ids = (values.task as string[] | undefined) ?? undefined;
    const json = !!values.json;
    // without --db the run goes to a throw-away ledger (the base model, nothing recorded for the user)
    const tmp = dbArg ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'eac-health-'));
    let ws: Workspace;
    try {
      ws = await Workspace.open({ modelDir, dbFile: dbArg ? path.resolve(io.cwd, dbArg) : path.join(tmp!, 'ledger.sqlite'), device });
    } catch (e) {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      // a broken model folder is bad input (2); a ledger held by another writer or an I/O failure is not (1)
      throw asInputError(e);
    }
    try {
      let tasks;
      try {
        tasks = pickTasks(ws, ids, files);
      } catch (e) {
        throw new UsageError('usage', (e as Error).message);
      }
      const res = await runHealthCheck(ws, tasks, { n, onProgress: (f, m) => !json && io.err(`\r${m} (${(f * 100).toFixed(0)}%)   `) });
      if (!json) io.err('\n');
      const out = {
        model: modelDir,
        db: dbArg ? path.resolve(io.cwd, dbArg) : null,
        editsApplied: ws.liveCount(),
        baseline: res.baseline,
        scores: res.scores.map((s) => ({ task: s.taskId, metric: s.metric, score: s.score, n: s.n, baseline: s.baselineScore, retention_pct: s.retentionPct })),
      };
      if (json) printJson(io, out);
      else for (const s of out.scores) io.out(`${s.task} ${s.metric} ${s.score.toFixed(3)} (n ${s.n})${s.retention_pct !== null ? ` retention ${s.retention_pct.toFixed(1)}%` : ''}\n`);
    } finally {
      await ws.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }
    return 0;
  },
});

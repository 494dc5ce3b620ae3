// Sequential editing over a list of requests without a ledger: batching for MEMIT methods,
// per-request validation (invalid rows are reported and skipped), and optional health evaluation
// every K edits (the one health runner, eval/health.ts runHealth). Used by the experiment, which
// compares methods on fresh models; `eac edit` and the app run queues through jobs/studio/runner.ts.
import { runHealth } from '../eval/health';
import type { TaskDef, TaskResult } from '../eval/tasks';
import type { EditRequest } from '../facts/types';
import type { Editor } from './editor';
import { METHOD_IS_BATCHED } from './methods';
import type { EditMethod, EditProgress, EditResult } from './types';

export interface SequenceOptions {
  method: EditMethod;
  batchSize?: number;
  evalTasks?: TaskDef[];
  evalEvery?: number;
  evalN?: number;
  signal?: AbortSignal;
  onEdit?: (r: EditResult, editsDone: number) => void | Promise<void>;
  onSkip?: (req: EditRequest, reason: string) => void;
  onHealth?: (editsDone: number, results: TaskResult[]) => void;
  onProgress?: (p: EditProgress) => void;
}

export interface SequenceSummary {
  method: EditMethod;
  edits: number;
  skipped: number;
  /** mean metrics over all edited requests, measured right after each edit */
  immediate: { reliability: number; generalization: number | null; locality: number | null };
  health: { edits: number; scores: Record<string, number> }[];
  results: EditResult[];
}

const avg = (xs: (number | null)[]) => {
  const v = xs.filter((x): x is number => x !== null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

export async function runSequence(editor: Editor, requests: EditRequest[], o: SequenceOptions): Promise<SequenceSummary> {
  const batchSize = METHOD_IS_BATCHED[o.method] ? Math.max(1, o.batchSize ?? 1) : 1;
  const valid: EditRequest[] = [];
  let skipped = 0;
  for (const r of requests) {
    const err = editor.check(r);
    if (err) {
      skipped++;
      o.onSkip?.(r, err);
    } else valid.push(r);
  }
  const health: SequenceSummary['health'] = [];
  const evalNow = async (done: number) => {
    if (!o.evalTasks?.length) return;
    const res = await runHealth(editor.model, o.evalTasks, { n: o.evalN, signal: o.signal });
    health.push({ edits: done, scores: Object.fromEntries(res.map((x) => [x.taskId, x.score])) });
    o.onHealth?.(done, res);
  };
  await evalNow(0);
  const results: EditResult[] = [];
  let done = 0;
  for (let i = 0; i < valid.length; i += batchSize) {
    const batch = valid.slice(i, i + batchSize);
    const r = await editor.edit(o.method, batch, { signal: o.signal, onProgress: o.onProgress });
    results.push(r);
    const before = done;
    done += batch.length;
    await o.onEdit?.(r, done);
    if (o.evalEvery && Math.floor(done / o.evalEvery) > Math.floor(before / o.evalEvery)) await evalNow(done);
  }
  if (o.evalTasks?.length && (!health.length || health[health.length - 1].edits !== done)) await evalNow(done);
  const metrics = results.flatMap((r) => r.metrics);
  return {
    method: o.method,
    edits: done,
    skipped,
    immediate: {
      reliability: avg(metrics.map((m) => m.reliability)) ?? 0,
      generalization: avg(metrics.map((m) => m.generalization)),
      locality: avg(metrics.map((m) => m.locality)),
    },
    health,
    results,
  };
}

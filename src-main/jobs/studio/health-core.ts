// Health checks on the resident (edited) model, stored in the ledger with retention vs the baseline.
import fs from 'node:fs';
import path from 'node:path';
import type { HealthChartRun, HealthTaskScore, HealthTaskSummary } from '../../api/contract';
import { HEALTH_SAMPLE_SEED, loadHealthTasks, runHealth } from '../../engine/eval/health';
import { retention, type TaskDef } from '../../engine/eval/tasks';
import { resourcesDir } from '../../engine/paths';
import type { HealthRun } from '../../store';
import { CODES, defaultProfileFor, studioError, type Workspace } from './workspace';

export const DEFAULT_HEALTH_N = 20;
const PAPER_TASK_FILES = ['rte.json', 'nq.json', 'samsum.json', 'sst2.json'];

export interface LoadedTask {
  task: TaskDef;
  file: string;
}

/** Bundled task files plus extra ones; ids must be unique (a later file with the same id wins). */
export function loadTasks(extraFiles: string[] = []): LoadedTask[] {
  const dir = path.join(resourcesDir(), 'tasks');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
  const byId = new Map<string, LoadedTask>();
  for (const file of [...files, ...extraFiles.map((f) => path.resolve(f))]) {
    let tasks: TaskDef[];
    try {
      tasks = loadHealthTasks(file);
    } catch (e) {
      throw studioError(`health task file ${file}: ${(e as Error).message}`);
    }
    for (const t of tasks) byId.set(t.id, { task: t, file });
  }
  return [...byId.values()];
}

export function summarizeTask(t: LoadedTask): HealthTaskSummary {
  const { task } = t;
  return {
    id: task.id,
    name: task.name,
    kind: task.kind,
    metric: task.metric,
    examples: task.examples.length,
    maxNewTokens: task.maxNewTokens,
    source: task.source,
    license: task.license,
    file: t.file,
  };
}

/**
 * The default task set for a model: the world-a tasks for the fixture / demo models (their tiny
 * vocabulary cannot read the paper's samples), the paper's four tasks otherwise.
 */
export function defaultTaskIds(modelDir: string, tasks: LoadedTask[]): string[] {
  const prof = defaultProfileFor(modelDir);
  const world = prof !== null && prof.endsWith('world-a');
  const ids = tasks
    .filter((t) => (world ? path.basename(t.file) === 'world-a.json' : PAPER_TASK_FILES.includes(path.basename(t.file))))
    .map((t) => t.task.id);
  return ids.length ? ids : tasks.map((t) => t.task.id);
}

export function pickTasks(ws: Workspace, taskIds: string[] | undefined, taskFiles: string[] = []): TaskDef[] {
  const all = loadTasks(taskFiles);
  const extraIds = taskFiles.length ? all.filter((t) => taskFiles.map((f) => path.resolve(f)).includes(t.file)).map((t) => t.task.id) : [];
  const ids = taskIds ?? (extraIds.length ? extraIds : defaultTaskIds(ws.model.ck.dir, all));
  return ids.map((id) => {
    const t = all.find((x) => x.task.id === id);
    if (!t) throw studioError(`unknown health task "${id}" (known: ${all.map((x) => x.task.id).join(', ')})`, CODES.notFound);
    return t.task;
  });
}


/** A health run's comparison key: task, example count, sample seed. */
export function baselineKey(taskId: string, n: number, seed: number = HEALTH_SAMPLE_SEED): string {
  return `${taskId}|${n}|${seed}`;
}

export interface Baseline {
  score: number;
  runId: number;
  n: number;
  seed: number;
}

/**
 * The latest baseline per (task, example count, sample seed): a run on the base model (0 edits
 * applied) or a run flagged as baseline. Runs recorded before seeds were recorded used the same
 * first-n selection, so they count as seed 0.
 */
export function baselines(ws: Workspace): Map<string, Baseline> {
  return baselinesOf(ws.ledger.healthSeries(ws.modelId));
}

/** The sample seed a run was recorded with (runs from before seeds were recorded: seed 0). */
export function runSeed(r: HealthRun): number {
  return typeof r.details.seed === 'number' ? r.details.seed : HEALTH_SAMPLE_SEED;
}

/** Whether a run can serve as a baseline: on the base model, or flagged as one. */
function isBaselineRun(r: HealthRun): boolean {
  return !Number.isNaN(r.score) && ((r.details as { baseline?: boolean }).baseline === true || r.editsApplied === 0);
}

/** baselines() over a list of runs (ordered by id). */
export function baselinesOf(runs: HealthRun[]): Map<string, Baseline> {
  const out = new Map<string, Baseline>();
  const put = (r: HealthRun) => {
    if (Number.isNaN(r.score)) return;
    const seed = runSeed(r);
    out.set(baselineKey(r.taskId, r.n, seed), { score: r.score, runId: r.id, n: r.n, seed });
  };
  for (const r of runs) if ((r.details as { baseline?: boolean }).baseline === true) put(r);
  for (const r of runs) if (r.editsApplied === 0) put(r);
  return out;
}

/**
 * The chart's runs: each with its sample seed and its retention recomputed against the baseline of
 * the same (task, example count, seed) that was in effect when it was recorded (the latest such
 * baseline run with a lower or equal id). A run with no matching baseline gets no retention, so a
 * score at n 30 is never divided by a baseline at n 10 (runs recorded before baselines were keyed
 * may carry such a number in retentionPct; it is replaced here).
 */
export function chartRuns(runs: HealthRun[]): HealthChartRun[] {
  const latest = new Map<string, Baseline>();
  return [...runs]
    .sort((a, b) => a.id - b.id)
    .map((r) => {
      const seed = runSeed(r);
      const key = baselineKey(r.taskId, r.n, seed);
      const baseline = isBaselineRun(r);
      if (baseline) latest.set(key, { score: r.score, runId: r.id, n: r.n, seed });
      const b = latest.get(key);
      const cmp = scoreAgainst(r.score, b);
      return { ...r, seed, baseline, baselineScore: b?.score ?? null, retentionPct: cmp.retentionPct, notMeasurable: cmp.notMeasurable };
    });
}

/** Examples a run of `task` with `n` asked actually scores. */
function examplesFor(t: TaskDef, n: number): number {
  return Math.min(n, t.examples.length);
}

/** Whether every task has a run recorded for the current live state with n examples. */
export function hasRunForCurrentState(ws: Workspace, taskIds: string[], n: number = DEFAULT_HEALTH_N): boolean {
  const head = ws.headSeq();
  const live = ws.liveCount();
  const runs = ws.ledger.healthSeries(ws.modelId).filter((r) => r.afterEditSeq === head && r.editsApplied === live);
  const all = loadTasks();
  return taskIds.every((id) => {
    const t = all.find((x) => x.task.id === id)?.task;
    const want = t ? examplesFor(t, n) : n;
    return runs.some((r) => r.taskId === id && r.n === want);
  });
}

export interface HealthCheckOptions {
  n?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (fraction: number, message: string) => void;
  /** record the runs as the baseline (no baseline yet) */
  asBaseline?: boolean;
}

/** Retention against a matching baseline; null when there is none or the task is not measurable. */
export function scoreAgainst(score: number, b: Baseline | undefined): { retentionPct: number | null; notMeasurable: boolean } {
  if (!b) return { retentionPct: null, notMeasurable: false };
  // the base model scores 0: no retention can be measured (0 vs 0 is not "100 %")
  if (b.score === 0) return { retentionPct: null, notMeasurable: true };
  const r = retention(score, b.score);
  return { retentionPct: Number.isFinite(r) ? r : null, notMeasurable: false };
}

/**
 * Runs the tasks on the live model (engine/eval/health.ts runHealth) and records one health run per
 * task. A task with no baseline for the same (task, example count, sample seed) gets one first:
 * measured on the base model (factors set aside) when edits are live, so retention is always
 * relative to the unedited model on the same examples.
 */
export async function runHealthCheck(
  ws: Workspace,
  tasks: TaskDef[],
  o: HealthCheckOptions = {},
): Promise<{ runs: HealthRun[]; scores: HealthTaskScore[]; baseline: boolean }> {
  const base = baselines(ws);
  const live = ws.liveCount() > 0;
  const nAsked = o.n ?? DEFAULT_HEALTH_N;
  const seed = HEALTH_SAMPLE_SEED;
  const keyOf = (t: TaskDef) => baselineKey(t.id, examplesFor(t, nAsked), seed);
  const missing = tasks.filter((t) => !base.has(keyOf(t)));
  const isBaseline = o.asBaseline ?? (!live || missing.length > 0);
  const runs: HealthRun[] = [];
  const scores: HealthTaskScore[] = [];
  const steps = tasks.length + (live && !o.asBaseline ? missing.length : 0);
  let step = 0;
  const run = async (t: TaskDef) => {
    const at = step++;
    const [r] = await runHealth(ws.model, [t], {
      n: nAsked,
      batchSize: o.batchSize,
      signal: o.signal,
      onProgress: (_id, d, tot) => o.onProgress?.((at + (tot ? d / tot : 1)) / steps, `${t.id} ${d}/${tot}`),
    });
    return r;
  };
  for (const t of tasks) {
    const key = keyOf(t);
    if (live && !base.has(key) && !o.asBaseline) {
      const b0 = await ws.withBase(() => run(t));
      const rec = ws.ledger.recordHealth(ws.modelId, {
        taskId: t.id,
        metric: b0.metric,
        score: b0.score,
        n: b0.n,
        afterEditSeq: 0,
        editsApplied: 0,
        baselineScore: b0.score,
        retentionPct: null,
        details: { baseline: true, seed, examples: b0.examples.slice(0, 5) },
      });
      runs.push(rec);
      base.set(key, { score: b0.score, runId: rec.id, n: b0.n, seed });
    }
    const res = await run(t);
    const flagBaseline = !base.has(key) || o.asBaseline === true;
    const b = flagBaseline ? { score: res.score, runId: -1, n: res.n, seed } : base.get(key);
    const cmp = scoreAgainst(res.score, b);
    runs.push(
      ws.ledger.recordHealth(ws.modelId, {
        taskId: t.id,
        metric: res.metric,
        score: res.score,
        n: res.n,
        baselineScore: b?.score ?? null,
        retentionPct: cmp.retentionPct,
        details: { baseline: flagBaseline, seed, notMeasurable: cmp.notMeasurable, examples: res.examples.slice(0, 5) },
      }),
    );
    if (flagBaseline) base.set(key, { score: res.score, runId: runs[runs.length - 1].id, n: res.n, seed });
    scores.push({
      taskId: t.id,
      metric: res.metric,
      score: res.score,
      n: res.n,
      seed,
      baselineScore: b?.score ?? null,
      retentionPct: cmp.retentionPct,
      notMeasurable: cmp.notMeasurable,
      samples: res.examples.slice(0, 5),
    });
  }
  return { runs, scores, baseline: isBaseline };
}

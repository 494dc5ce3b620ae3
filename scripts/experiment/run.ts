// One experiment run on the product's pipeline: every method gets its own resident model and a throw-away
// ledger (a Workspace), and its edits go through the queue runner that the app's queue jobs and `eac edit`
// use (jobs/studio/runner.ts): the same request checks, batching, edit, recording and health checks.
// The requests are queued one checkpoint segment at a time, so a batched method's last batch before a
// checkpoint is cut there (the checkpoint measures exactly the first c requests) and every method stands at
// the same count when the JSON is written. At each checkpoint every fact edited so far is measured again
// ("final") on the live model; the health scores are the runner's check after the segment's last edit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HealthTaskScore } from '../../src-main/api/contract';
import type { EditMethod, EditProfile, EditResult } from '../../src-main/engine/edit';
import type { NormControl, ZEditMethod } from '../../src-main/engine/edit/profile';
import { localityPredictions, requestMetrics } from '../../src-main/engine/edit/metrics';
import type { RequestMetrics } from '../../src-main/engine/edit/types';
import { EacError } from '../../src-main/engine/errors';
import type { TaskDef } from '../../src-main/engine/eval/tasks';
import type { EditRequest } from '../../src-main/engine/facts/types';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { QueueRunner } from '../../src-main/jobs/studio/runner';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import type { Variant } from './variants';

export interface Checkpoint {
  edits: number;
  immediate: { reliability: number; generalization: number; locality: number };
  final: { reliability: number; generalization: number; locality: number };
  l1GrowthPct: Record<string, number>;
  health: Record<string, number>;
  anchorsMean: number | null;
  secondsPerEdit: number;
}

export interface RunResult {
  model: string;
  profile: string;
  variant: Variant;
  /** the profile's norm control (absent in runs before --norm-control: 'off', every bundled profile's) */
  normControl?: NormControl;
  /** the profile's NAS anchor norms, with normControl 'nas-anchor' */
  normAnchor?: { rome?: number; memit?: number };
  /** the methods the profile gives its norm control to (profile normControlMethods; absent: every z method) */
  normControlMethods?: ZEditMethod[];
  /** facts per update for the batched methods (absent in runs before --batch-size: 1) */
  batchSize?: number;
  edits: number;
  /** health of the unedited model (same for every method) */
  health0: Record<string, number>;
  methods: { method: EditMethod; skipped: number; checkpoints: Checkpoint[]; l1Series: { edits: number; layer: number; pct: number }[] }[];
}

export interface ExperimentOptions {
  modelDir: string;
  /** the profile with the variant applied (variants.ts applyVariant) */
  profile: EditProfile;
  variant: Variant;
  methods: EditMethod[];
  requests: EditRequest[];
  /** edit counts (request counts, skipped requests included) at which the JSON is written; the last request is one */
  checkpoints: number[];
  batchSize: number;
  tasks: TaskDef[];
  /** examples per health task */
  evalN: number;
  /** the JSON file, rewritten at each checkpoint */
  out: string;
  /** where the per-method ledgers go (kept); default a temporary folder this run creates and removes */
  ledgerDir?: string;
  /** key statistics cache (default $EAC_CACHE_DIR or ~/.cache/eac-studio, as for the app) */
  cacheDir?: string;
  /** progress lines (stderr in the script) */
  log?: (line: string) => void;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const avgOf = (xs: (number | null)[]) => mean(xs.filter((x): x is number => x !== null));
const scoresOf = (s: HealthTaskScore[]) => Object.fromEntries(s.map((x) => [x.taskId, x.score]));

/** One method's workspace and what the experiment measures of it. */
interface MethodRun {
  method: EditMethod;
  ws: Workspace;
  runner: QueueRunner;
  metrics: RequestMetrics[];
  /** indices into the requests, in edit order */
  edited: number[];
  l1: Record<string, number>;
  l1Series: { edits: number; layer: number; pct: number }[];
  anchors: number[];
  ms: number;
  skipped: number;
  /** the scores of the runner's latest health check (the live model has not changed since) */
  health: HealthTaskScore[] | null;
  /** its first: the runner checks health before the first edit of a fresh ledger, on the unedited model */
  health0: HealthTaskScore[] | null;
  checkpoints: Checkpoint[];
}

/** The segment [from, to) of the requests as one queue, run to its end on the method's runner. */
async function runSegment(r: MethodRun, o: ExperimentOptions, from: number, to: number): Promise<void> {
  const { ws } = r;
  const q = ws.ledger.queues.createQueue(ws.modelId, `experiment ${o.variant} requests ${from + 1}-${to}`, r.method, o.profile, o.requests.slice(from, to));
  const indexOf = new Map(ws.ledger.queues.queueItems(q.id).map((it) => [it.id, from + it.position]));
  const failed: string[] = [];
  const res = await r.runner.run(
    q.id,
    { batchSize: o.batchSize, healthN: o.evalN },
    {
      healthTasks: o.tasks,
      healthAtEnd: true,
      emit: (ev) => {
        if (ev.type !== 'queue.item') return;
        if (ev.item.status === 'invalid') r.skipped++;
        if (ev.item.status === 'failed') failed.push(`${ev.item.request?.caseId ?? `item ${ev.item.id}`}: ${ev.item.error}`);
      },
      onHealth: (scores) => {
        r.health = scores;
        r.health0 ??= scores;
      },
      onEdit: (e: EditResult, _rec, itemIds) => {
        // the editor's own phases (key statistics included, as in the edit's wall time), not the recording
        r.ms += Object.values(e.timings).reduce((a, b) => a + (b ?? 0), 0);
        const last = Math.max(...itemIds.map((id) => indexOf.get(id)!));
        r.edited.push(...itemIds.map((id) => indexOf.get(id)!));
        r.metrics.push(...e.metrics);
        for (const n of e.norms) {
          r.l1[`L${n.layer}`] = n.l1GrowthPct;
          r.l1Series.push({ edits: last + 1, layer: n.layer, pct: n.l1GrowthPct });
        }
        const d = e.details as { anchors?: { count: number } | null; requests?: { anchors?: { count: number } | null }[] };
        for (const a of [d.anchors, ...(d.requests ?? []).map((x) => x.anchors)]) if (a) r.anchors.push(a.count);
        if (r.edited.length % 10 === 0 || last + 1 === to)
          o.log?.(`${r.method}: ${last + 1}/${o.requests.length} requests, ${r.edited.length} edited, ${(r.ms / 1000 / r.edited.length).toFixed(2)} s/edit`);
      },
    },
  );
  // the experiment measures every request it was given: an edit that threw ends the run instead of leaving a hole
  if (failed.length) throw new EacError('internal', `${r.method}: ${failed.length} edit(s) failed: ${failed.slice(0, 3).join('; ')}`);
  if (res.state !== 'done') throw new EacError('internal', `${r.method}: the queue run ended ${res.state}`);
}

/** Runs the experiment, rewriting `o.out` at each checkpoint; returns the result. */
export async function runExperiment(o: ExperimentOptions): Promise<RunResult> {
  const N = o.requests.length;
  const checkpoints = [...new Set([...o.checkpoints, N])].filter((c) => c > 0 && c <= N).sort((a, b) => a - b);
  const tmp = o.ledgerDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'eac-experiment-'));
  const ledgerDir = o.ledgerDir ?? tmp!;
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const runs: MethodRun[] = [];
  try {
    for (const method of o.methods) {
      const model = LoadedModel.open(o.modelDir);
      const ws = await Workspace.open({ modelDir: o.modelDir, dbFile: path.join(ledgerDir, `${method}.sqlite`), model, cacheDir: o.cacheDir }).catch(async (e) => {
        await model.release();
        throw e;
      });
      runs.push({ method, ws, runner: new QueueRunner(ws), metrics: [], edited: [], l1: {}, l1Series: [], anchors: [], ms: 0, skipped: 0, health: null, health0: null, checkpoints: [] });
    }
    // neighbourhood predictions of the unedited model, to judge locality after the sequence
    const preLoc: number[][][] = [];
    for (const q of o.requests) preLoc.push(await localityPredictions(runs[0].ws.model, q));
    const result: RunResult = { model: path.basename(o.modelDir), profile: o.profile.name, variant: o.variant, normControl: o.profile.normControl ?? 'off', ...(o.profile.normControl === 'nas-anchor' ? { normAnchor: o.profile.normAnchor } : {}), ...(o.profile.normControl !== 'off' && o.profile.normControlMethods ? { normControlMethods: o.profile.normControlMethods } : {}), batchSize: o.batchSize, edits: 0, health0: {}, methods: [] };
    let from = 0;
    for (const c of checkpoints) {
      for (const r of runs) await runSegment(r, o, from, c);
      result.health0 = scoresOf(runs[0].health0 ?? []);
      for (const r of runs) {
        const finals: RequestMetrics[] = [];
        for (const i of r.edited) finals.push(await requestMetrics(r.ws.model, o.requests[i], preLoc[i]));
        r.checkpoints.push({
          edits: r.edited.length,
          immediate: { reliability: avgOf(r.metrics.map((m) => m.reliability)), generalization: avgOf(r.metrics.map((m) => m.generalization)), locality: avgOf(r.metrics.map((m) => m.locality)) },
          final: { reliability: avgOf(finals.map((m) => m.reliability)), generalization: avgOf(finals.map((m) => m.generalization)), locality: avgOf(finals.map((m) => m.locality)) },
          l1GrowthPct: { ...r.l1 },
          health: r.health ? scoresOf(r.health) : {},
          anchorsMean: r.anchors.length ? mean(r.anchors) : null,
          secondsPerEdit: r.ms / 1000 / Math.max(1, r.edited.length),
        });
      }
      from = c;
      result.edits = c;
      result.methods = runs.map((r) => ({ method: r.method, skipped: r.skipped, checkpoints: r.checkpoints, l1Series: r.l1Series }));
      fs.writeFileSync(o.out, resultJson(result));
      o.log?.(`checkpoint ${c} written to ${o.out}`);
    }
    return result;
  } finally {
    for (const r of runs) await r.ws.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The result file's text: indented, with every innermost object (an L1-series point, a metric triple,
 * the health scores) on one line. Indented in full, each point of the L1 series took five lines and
 * ~75 bytes; a 500-edit run of three edited layers holds 1500 of them per method, and the files live
 * in the repository, whose size the device transfer bounds (tests/bench/device-pack.test.ts).
 */
export function resultJson(result: unknown): string {
  // `{` then a newline is always structural (JSON strings hold no raw newline), and a body without
  // braces or brackets is an innermost object, re-serialised on one line
  return JSON.stringify(result, null, 1).replace(/\{\n[^{}[\]]*?\n\s*\}/g, (m) => JSON.stringify(JSON.parse(m))) + '\n';
}

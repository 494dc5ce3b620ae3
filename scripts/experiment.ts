// Sequential-editing experiment on a fixture model: ROME vs EAC-ROME, MEMIT vs EAC-MEMIT and AlphaEdit vs EAC-AlphaEdit over the
// first N world-a edit requests, all methods advanced edit by edit (one resident model per method), so
// an interrupted run still has every method at the same count. At each checkpoint every edited fact
// is measured again ("final"), the health tasks run, and the JSON is rewritten.
//   npm run experiment -- --model gpt2-world-a --variant default --edits 300 [--checkpoints 100,300] [--batch-size 10]
//   npm run experiment -- --report experiments/a.json,experiments/b.json   (README table from results)
// Variants (profile overrides; README "Profile schema" names the source of each option):
//   default       the profile as it is (published code: ROME/MEMIT's own, the EAC authors' for EAC)
//   authors-rome  + rome.mom2Adjustment false (the EAC authors' / EasyEdit's ROME configs)
//   paper         the EAC paper's wording: saliency v* ⊙ ∇L, percentile anchors, λΣα|z| + μ‖z‖²
//   previous      this project's choices before issue 10 (single-step score, squared weight decay, ...)
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Editor, loadProfile, statsProvider, type EditMethod, type EditProfile } from '../src-main/engine/edit';
import { METHOD_IS_BATCHED } from '../src-main/engine/edit/methods';
import { localityPredictions, requestMetrics } from '../src-main/engine/edit/metrics';
import { runHealth } from '../src-main/engine/eval/health';
import { loadTaskFile } from '../src-main/engine/eval/tasks';
import { parseFacts } from '../src-main/engine/facts';
import type { EditRequest } from '../src-main/engine/facts/types';
import { fixturesDir, packageRoot } from '../src-main/engine/paths';
import { LoadedModel } from '../src-main/engine/runtime/model';

export const VARIANTS = ['default', 'authors-rome', 'paper', 'previous'] as const;
export type Variant = (typeof VARIANTS)[number];

/** The profile a variant edits with (a copy). */
export function applyVariant(base: EditProfile, variant: Variant): EditProfile {
  const p = structuredClone(base);
  if (variant === 'authors-rome') p.rome.mom2Adjustment = false;
  if (variant === 'paper') {
    // paper §3/§4: score v* ⊙ ∇L after the first half of the steps; |score| ≥ γ with γ the P85
    // (GPT2-XL) / P95 (LLaMA-3) percentile on CounterFact; retrain the anchors for the rest of the
    // steps under λΣα|z| + μ‖z‖² (λ 5e-7; μ 0.5 GPT2-XL, 1e-3 LLaMA-3)
    const pct = p.arch === 'gpt2' ? 85 : 95;
    p.eac.saliency = 'value';
    p.eac.stage1Floor = 'none';
    p.eac.lambda = 5e-7;
    p.eac.mu = p.arch === 'gpt2' ? 0.5 : 1e-3;
    for (const m of ['rome', 'memit'] as const) {
      p.eac.scoreStep = Math.max(1, Math.floor(p[m].vSteps / 2));
      p.eac[m] = { anchors: { mode: 'percentile', value: pct }, elasticNet: 'paper', retrainSteps: p[m].vSteps - p.eac.scoreStep, retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: p.eac[m].minAnchors, retrainKlReference: 'original' };
    }
  }
  if (variant === 'previous') {
    // the fixture profiles before issue 10 (commit 1a1c81f): weight decay 0.1·‖z‖²/‖v‖², KL(original‖edited)
    // at the last token, plain key mean, score z ⊙ ∇L at step 15, P80 for both methods, μ 0.05 scaled by ‖v‖²
    for (const m of ['rome', 'memit'] as const) {
      Object.assign(p[m], { weightDecay: 0.1, weightDecayForm: 'squared', klDirection: 'original-edited', klPosition: 'last' });
    }
    p.memit.keyWeighting = 'mean';
    p.rome.mom2Adjustment = true;
    Object.assign(p.eac, { saliency: 'step', scoreStep: 15, stage1Floor: 'none', lambda: 5e-7, mu: 0.05, eps: 1e-8 });
    for (const m of ['rome', 'memit'] as const) {
      p.eac[m] = { anchors: { mode: 'percentile', value: 80 }, elasticNet: 'previous', retrainSteps: p[m].vSteps - 1 - 15, retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: 0, retrainKlReference: 'original' };
    }
  }
  p.name = variant === 'default' ? p.name : `${p.name}+${variant}`;
  return p;
}

interface Checkpoint {
  edits: number;
  immediate: { reliability: number; generalization: number; locality: number };
  final: { reliability: number; generalization: number; locality: number };
  l1GrowthPct: Record<string, number>;
  health: Record<string, number>;
  anchorsMean: number | null;
  secondsPerEdit: number;
}

interface RunResult {
  model: string;
  profile: string;
  variant: Variant;
  /** facts per update for the batched methods (absent in runs before --batch-size: 1) */
  batchSize?: number;
  edits: number;
  /** health of the unedited model (same for every method) */
  health0: Record<string, number>;
  methods: { method: EditMethod; skipped: number; checkpoints: Checkpoint[]; l1Series: { edits: number; layer: number; pct: number }[] }[];
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const avgOf = (xs: (number | null)[]) => mean(xs.filter((x): x is number => x !== null));

async function run(values: Record<string, string | boolean | undefined>) {
  const root = packageRoot();
  const modelArg = String(values.model ?? 'gpt2-world-a');
  const modelDir = fs.existsSync(path.join(fixturesDir(), modelArg)) ? path.join(fixturesDir(), modelArg) : path.resolve(modelArg);
  const modelName = path.basename(modelDir);
  const variant = String(values.variant ?? 'default') as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`--variant must be one of ${VARIANTS.join(', ')}`);
  const profile = applyVariant(loadProfile(String(values.profile ?? modelName)), variant);
  const N = Number(values.edits ?? 100);
  const checkpoints = [...new Set([...String(values.checkpoints ?? '100,300').split(',').map(Number), N])].filter((c) => c > 0 && c <= N).sort((a, b) => a - b);
  const methods = String(values.methods ?? 'rome,eac-rome,memit,eac-memit,alphaedit,eac-alphaedit').split(',') as EditMethod[];
  const evalN = Number(values['eval-n'] ?? 100);
  const batchSize = Math.max(1, Number(values['batch-size'] ?? 1));
  if (!Number.isInteger(batchSize)) throw new Error('--batch-size must be a positive integer');
  const factsFile = String(values.facts ?? path.join(fixturesDir(), 'world-a', 'edits.json'));
  const tasks = loadTaskFile(path.join(root, 'resources', 'tasks', 'world-a.json'));
  const requests = parseFacts(path.basename(factsFile), fs.readFileSync(factsFile, 'utf8')).requests.slice(0, N);
  const out = String(values.out ?? path.join(root, 'experiments', `${modelName}-${variant}-${N}.json`));
  fs.mkdirSync(path.dirname(out), { recursive: true });

  const runs = methods.map((method) => {
    const model = LoadedModel.open(modelDir);
    const editor = new Editor(model, profile, statsProvider(model, profile));
    return { method, model, editor, pending: [] as EditRequest[], metrics: [] as { reliability: number; generalization: number | null; locality: number | null }[], edited: [] as EditRequest[], l1: {} as Record<string, number>, l1Series: [] as { edits: number; layer: number; pct: number }[], anchors: [] as number[], ms: 0, skipped: 0, checkpoints: [] as Checkpoint[] };
  });
  // neighbourhood predictions of the unedited model, to judge locality after the sequence
  const preLoc: number[][][] = [];
  for (const r of requests) preLoc.push(await localityPredictions(runs[0].model, r));
  const h0 = await runHealth(runs[0].model, tasks, { n: evalN });
  const health0 = Object.fromEntries(h0.map((x) => [x.taskId, x.score]));
  const result: RunResult = { model: modelName, profile: profile.name, variant, batchSize, edits: 0, health0, methods: [] };
  const save = () => {
    result.methods = runs.map((r) => ({ method: r.method, skipped: r.skipped, checkpoints: r.checkpoints, l1Series: r.l1Series }));
    fs.writeFileSync(out, JSON.stringify(result, null, 1));
  };
  const t0 = performance.now();
  for (let i = 0; i < requests.length; i++) {
    const req = requests[i];
    for (const r of runs) {
      if (r.editor.check(req)) {
        r.skipped++;
        continue;
      }
      // batched methods (--batch-size B) edit B facts in one update; the rest one at a time
      r.pending.push(req);
      const flush = i + 1 === requests.length || checkpoints.includes(i + 1);
      if (r.pending.length < (METHOD_IS_BATCHED[r.method] ? batchSize : 1) && !flush) continue;
      const batch = r.pending;
      r.pending = [];
      const t = performance.now();
      const res = await r.editor.edit(r.method, batch);
      r.ms += performance.now() - t;
      r.edited.push(...batch);
      r.metrics.push(...res.metrics);
      for (const n of res.norms) {
        r.l1[`L${n.layer}`] = n.l1GrowthPct;
        r.l1Series.push({ edits: i + 1, layer: n.layer, pct: n.l1GrowthPct });
      }
      const d = res.details as { anchors?: { count: number } | null; requests?: { anchors?: { count: number } | null }[] };
      for (const a of [d.anchors, ...(d.requests ?? []).map((x) => x.anchors)]) if (a) r.anchors.push(a.count);
    }
    const done = i + 1;
    if (done % 10 === 0) {
      const per = runs.map((r) => `${r.method} ${(r.ms / 1000 / done).toFixed(2)} s/edit`).join(', ');
      process.stderr.write(`${modelName}/${variant}: ${done}/${N} edits, ${((performance.now() - t0) / 1000).toFixed(0)} s (${per})\n`);
    }
    if (!checkpoints.includes(done)) continue;
    for (const r of runs) {
      const finals = [];
      for (const q of r.edited) finals.push(await requestMetrics(r.model, q, preLoc[requests.indexOf(q)]));
      const h = await runHealth(r.model, tasks, { n: evalN });
      r.checkpoints.push({
        edits: r.edited.length,
        immediate: { reliability: avgOf(r.metrics.map((m) => m.reliability)), generalization: avgOf(r.metrics.map((m) => m.generalization)), locality: avgOf(r.metrics.map((m) => m.locality)) },
        final: { reliability: avgOf(finals.map((m) => m.reliability)), generalization: avgOf(finals.map((m) => m.generalization)), locality: avgOf(finals.map((m) => m.locality)) },
        l1GrowthPct: { ...r.l1 },
        health: Object.fromEntries(h.map((x) => [x.taskId, x.score])),
        anchorsMean: r.anchors.length ? mean(r.anchors) : null,
        secondsPerEdit: r.ms / 1000 / Math.max(1, r.edited.length),
      });
    }
    result.edits = done;
    save();
    process.stderr.write(`${modelName}/${variant}: checkpoint ${done} written to ${path.relative(root, out)}\n`);
  }
  for (const r of runs) await r.model.release();
  return out;
}

/** Runs of the same model and variant (e.g. one process per method pair) become one table. */
export function mergeRuns(runs: RunResult[]): RunResult[] {
  const by = new Map<string, RunResult>();
  for (const r of runs) {
    const k = `${r.model}|${r.variant}|${r.batchSize ?? 1}`;
    const m = by.get(k);
    if (!m) by.set(k, structuredClone(r));
    else {
      m.methods.push(...r.methods);
      m.edits = Math.max(m.edits, r.edits);
    }
  }
  return [...by.values()];
}

/** A task counts for retention when the unedited model does it clearly better than chance. */
export const CAN_DO = 0.6;

export function reportTable(results: RunResult[]): string {
  const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const lines: string[] = [];
  for (const res of results) {
    const can = Object.entries(res.health0).filter(([, s]) => s >= CAN_DO).map(([t]) => t);
    const skipped = Object.entries(res.health0).filter(([, s]) => s < CAN_DO).map(([t, s]) => `${t} ${s.toFixed(2)}`);
    lines.push(
      `**${res.model}**, profile \`${res.profile}\`, variant \`${res.variant}\`${(res.batchSize ?? 1) > 1 ? `, batch size ${res.batchSize} for the batched methods` : ''}: world-a requests edited one after another, one row per method at each checkpoint ` +
        `(\`npm run experiment -- --model ${res.model} --variant ${res.variant} --edits N\`). Health retention = score after / before, ` +
        `${evalNote(res)}; the lowest over the tasks the unedited model can do (score ≥ ${CAN_DO}: ${can.join(', ')}${skipped.length ? `; left out: ${skipped.join(', ')}` : ''}).`,
      '',
      '| method | edits | immediate rel / gen / loc | final rel / gen / loc | L1 growth per edited layer (%) | health retention (min; per task) | anchors | s/edit |',
      '|---|---|---|---|---|---|---|---|',
    );
    const cps = [...new Set(res.methods.flatMap((m) => m.checkpoints.map((c) => c.edits)))].sort((a, b) => a - b);
    for (const e of cps)
      for (const m of res.methods) {
        const c = m.checkpoints.find((x) => x.edits === e);
        if (!c) continue;
        const ret = can.map((t) => (res.health0[t] > 0 ? c.health[t] / res.health0[t] : NaN));
        lines.push(
          `| ${m.method} | ${c.edits} | ${f(c.immediate.reliability)} / ${f(c.immediate.generalization)} / ${f(c.immediate.locality)} | ${f(c.final.reliability)} / ${f(c.final.generalization)} / ${f(c.final.locality)} | ${Object.entries(
            c.l1GrowthPct,
          )
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')} | ${f(ret.length ? Math.min(...ret) : null, 2)}; ${ret.map((x) => f(x, 2)).join(' / ')} | ${c.anchorsMean === null ? '–' : c.anchorsMean.toFixed(1)} | ${c.secondsPerEdit.toFixed(2)} |`,
        );
      }
    lines.push('');
  }
  return lines.join('\n').trimEnd();
}

function evalNote(res: RunResult): string {
  return `tasks ${Object.keys(res.health0).join(' / ')}`;
}

function writeReadme(table: string) {
  const readme = path.join(packageRoot(), 'README.md');
  if (!fs.existsSync(readme)) return;
  const text = fs.readFileSync(readme, 'utf8');
  const start = '<!-- experiment:start -->';
  const end = '<!-- experiment:end -->';
  const block = `${start}\n${table}\n${end}`;
  const next = text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), () => block) : `${text.trimEnd()}\n\n## Experiment: sequential editing\n\n${block}\n`;
  fs.writeFileSync(readme, next);
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      profile: { type: 'string' },
      variant: { type: 'string' },
      edits: { type: 'string' },
      checkpoints: { type: 'string' },
      methods: { type: 'string' },
      facts: { type: 'string' },
      'eval-n': { type: 'string' },
      'batch-size': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
      'no-readme': { type: 'boolean' },
    },
  });
  const files = values.report ? values.report.split(',') : [await run(values)];
  const table = reportTable(mergeRuns(files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as RunResult)));
  console.log(table);
  if (!values['no-readme']) writeReadme(table);
}

await main();

// Bench sections for editing (per-edit time by phase, per method) and health (examples/s per task).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Editor, EDIT_METHODS, loadProfile, statsProvider } from '../src-main/engine/edit';
import { loadHealthTasks, runHealth } from '../src-main/engine/eval/health';
import { parseFacts } from '../src-main/engine/facts';
import { fixturesDir } from '../src-main/engine/paths';
import type { BenchSection } from './bench';

const worldA = path.join(fixturesDir(), 'world-a');

const edit: BenchSection = {
  name: 'edit',
  description: 'per-edit wall time by phase for each method (the same 2 sequential edits for every method, after one warm-up edit, each method from the unedited model; statistics computed once, cold)',
  async run(ctx) {
    const model = ctx.requireModel();
    const profile = loadProfile(ctx.fixture);
    profile.stats.samples = Math.min(profile.stats.samples, 1000);
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-bench-stats-'));
    const requests = parseFacts('edits.json', fs.readFileSync(path.join(worldA, 'edits.json'), 'utf8')).requests;
    const out: Record<string, number | string> = {};
    try {
      const t0 = performance.now();
      await statsProvider(model, profile, { cacheDir })([...new Set([profile.rome.layer, ...profile.memit.layers])]);
      out.statistics_cold_ms = performance.now() - t0;
      out.statistics_samples = profile.stats.samples;
      for (const method of EDIT_METHODS) {
        // every method edits the same requests from the unedited model (its edits are withdrawn below): the
        // z loop's length depends on the request, so different requests per method made the methods'
        // times incomparable (stop 26/27: EAC-AlphaEdit 1.4-1.8x EAC-MEMIT here, 1.08x on the same requests)
        let next = 0;
        const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir }));
        const applied = [...(await editor.edit(method, [requests[next++]])).deltas];
        const phases: Record<string, number> = {};
        let total = 0;
        const reps = 2;
        for (let i = 0; i < reps; i++) {
          const s = performance.now();
          const r = await editor.edit(method, [requests[next++]]);
          total += performance.now() - s;
          applied.push(...r.deltas);
          for (const [p, ms] of Object.entries(r.timings)) phases[p] = (phases[p] ?? 0) + (ms ?? 0) / reps;
        }
        out[`${method}_per_edit_ms`] = total / reps;
        for (const [p, ms] of Object.entries(phases)) out[`${method}_${p}_ms`] = ms;
        // unapply withdraws the weight deltas and AlphaEdit's preserved keys together (live.set([]) alone
        // left AlphaEdit's keys in the model, so EAC-AlphaEdit was timed on a model that had been edited)
        editor.unapply(applied);
      }
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
    return out;
  },
};

const health: BenchSection = {
  name: 'health',
  description: 'world-a health tasks on the resident model (batched greedy generation, 50 examples per task): examples/s',
  async run(ctx) {
    const model = ctx.requireModel();
    model.factors.clear();
    const tasks = loadHealthTasks(path.join(worldA, 'tasks.jsonl'));
    await runHealth(model, tasks, { n: 8 });
    const out: Record<string, number | string> = {};
    for (const t of tasks) {
      const s = performance.now();
      const [r] = await runHealth(model, [t], { n: 50 });
      out[`${t.id}_examples_s`] = r.n / ((performance.now() - s) / 1000);
      out[`${t.id}_score`] = r.score;
    }
    return out;
  },
};

/** Listed in bench.ts after the engine sections; type-only import back, so no module cycle. */
export const editBenchSections: BenchSection[] = [edit, health];

// Key statistics that cannot be solved with fail at the statistics phase, before any optimisation:
// too few tokens for d_ff with MEMIT (no ridge), a C that is not positive definite with ROME's ridge.
// And keyStats itself holds one float64 n² buffer per computed layer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Editor, loadProfile, statsProvider } from '../../src-main/engine/edit';
import { CountingAlloc } from '../../src-main/engine/edit/alloc';
import { keyStats, StatsError } from '../../src-main/engine/edit/stats';
import type { StatsProvider } from '../../src-main/engine/edit/methods';
import { parseFacts } from '../../src-main/engine/facts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES, skipUnlessFixture } from '../shared';

const FIXTURE = path.join(FIXTURES, 'gpt2-world-a');
const have = fs.existsSync(path.join(FIXTURE, 'model.safetensors'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-before-edit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!have)(`statistics checks before editing (gpt2-world-a)${skipUnlessFixture('gpt2-world-a/model.safetensors')}`, () => {
  const requests = have ? parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests : [];

  it('MEMIT with fewer statistics tokens than d_ff stops at the statistics phase with insufficient-samples', async () => {
    const model = LoadedModel.open(FIXTURE);
    try {
      const profile = loadProfile('gpt2-world-a');
      profile.stats.samples = 2;
      profile.stats.maxTokensPerSample = 8;
      const phases: string[] = [];
      const editor = new Editor(model, profile, statsProvider(model, profile, { cacheDir: path.join(tmp, 'few') }));
      const err = await editor.edit('memit', [requests[1]], { onProgress: (p) => phases.push(p.phase) }).catch((e) => e);
      expect(err).toBeInstanceOf(StatsError);
      expect((err as StatsError).code).toBe('insufficient-samples');
      expect((err as Error).message).toMatch(new RegExp(`fewer than d_ff = ${model.cfg.ffn}`));
      expect(phases).toContain('statistics');
      expect(phases).not.toContain('keys');
      expect(phases).not.toContain('optimise');
    } finally {
      await model.release();
    }
  });

  it('ROME with a C that is not positive definite stops at the statistics phase with not-positive-definite', async () => {
    const model = LoadedModel.open(FIXTURE);
    try {
      const profile = loadProfile('gpt2-world-a');
      profile.rome.mom2Adjustment = true;
      profile.rome.mom2Ridge = 0;
      const F = model.cfg.ffn;
      // a C with one negative direction and plenty of tokens: only the factorisation can tell
      const bad = new Float64Array(F * F);
      for (let i = 0; i < F; i++) bad[i * F + i] = i === 5 ? -1 : 1;
      const stats: StatsProvider = async (layers) => new Map(layers.map((l) => [l, { mom2: bad, key: `neg-${l}`, count: 10 * F }]));
      const phases: string[] = [];
      const editor = new Editor(model, profile, stats);
      const err = await editor.edit('rome', [requests[1]], { onProgress: (p) => phases.push(p.phase) }).catch((e) => e);
      expect(err).toBeInstanceOf(StatsError);
      expect((err as StatsError).code).toBe('not-positive-definite');
      expect((err as Error).message).toMatch(/ridge 0 .*index 5 of/);
      expect(phases).not.toContain('keys');
      expect(phases).not.toContain('optimise');
    } finally {
      await model.release();
    }
  });

  it('keyStats holds exactly one float64 n² buffer per computed layer, and a cache hit reads into one', async () => {
    const model = LoadedModel.open(FIXTURE);
    try {
      const n = model.cfg.ffn;
      const cacheDir = path.join(tmp, 'alloc');
      const alloc = new CountingAlloc();
      await keyStats(model, [1, 2], { samples: 6, cacheDir, alloc });
      expect(alloc.atLeast(n * n).filter((r) => r.kind !== 'f32').map((r) => `${r.kind} ${r.label}`)).toEqual(['f64 C accumulator', 'f64 C accumulator']);
      // the float32 key block is sized by bytes (64 MiB), not by n²; onnxruntime's products are panels
      expect(alloc.records.filter((r) => r.kind === 'f32').every((r) => r.bytes <= 64 << 20)).toBe(true);
      const hit = new CountingAlloc();
      const again = await keyStats(model, [1, 2], { samples: 6, cacheDir, alloc: hit });
      expect([...again.values()].map((k) => k.source)).toEqual(['cache', 'cache']);
      expect(hit.atLeast(n * n).map((r) => r.label)).toEqual(['C (cached)', 'C (cached)']);
    } finally {
      await model.release();
    }
  });
});

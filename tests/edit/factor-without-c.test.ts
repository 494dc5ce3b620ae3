// A solve whose Cholesky factor is already beside the statistics does not read C (d_ff² f64: 1.5 GiB
// at LLaMA-3-8B's width): the factor is found from the statistics' meta alone (cachedStatsRefs +
// SolveCache.prepareWithoutC), and AlphaEdit's eigendecomposition likewise (nullspaceWithoutC).
// Proof: with the statistics' .bin deleted after the first edit, a second edit (new model, new
// solve cache) neither reads nor recomputes it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Editor, loadProfile, statsProvider } from '../../src-main/engine/edit';
import { parseFacts } from '../../src-main/engine/facts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-factor-noc-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ROME with a persisted factor', () => {
  it('edits without reading C: the statistics .bin, deleted, is neither read nor recomputed, and the edit is the same', async () => {
    const dir = path.join(FIXTURES, 'gpt2-world-a');
    const profile = loadProfile('gpt2-world-a');
    profile.stats.samples = 200;
    profile.rome.vSteps = 3;
    const cacheDir = path.join(tmp, 'cache');
    const req = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests[0];
    const edit = async () => {
      const model = LoadedModel.open(dir, { device: 'cpu' });
      try {
        const r = await new Editor(model, profile, statsProvider(model, profile, { cacheDir })).edit('rome', [req]);
        return r.metrics[0];
      } finally {
        await model.release();
      }
    };
    const first = await edit();
    const statsDir = path.join(cacheDir, 'stats');
    const bins = fs.readdirSync(statsDir).filter((f) => /^l2-[0-9a-f]+\.bin$/.test(f));
    expect(bins).toHaveLength(1);
    expect(fs.readdirSync(statsDir).some((f) => f.includes('.chol-') && f.endsWith('.bin'))).toBe(true);
    fs.rmSync(path.join(statsDir, bins[0]));
    const second = await edit();
    // C was not needed: still gone (reading it would have failed and recomputed it in its place)
    expect(fs.existsSync(path.join(statsDir, bins[0]))).toBe(false);
    expect(second).toEqual(first);
  }, 300_000);
});

describe('AlphaEdit with a persisted eigendecomposition', () => {
  it('edits without reading C: the statistics .bin files, deleted, are neither read nor recomputed, and the edit is the same', async () => {
    const dir = path.join(FIXTURES, 'gpt2-world-a');
    const profile = loadProfile('gpt2-world-a');
    profile.stats.samples = 200;
    profile.alphaedit.vSteps = 3;
    const cacheDir = path.join(tmp, 'cache-alphaedit');
    const req = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests[0];
    const edit = async () => {
      const model = LoadedModel.open(dir, { device: 'cpu' });
      try {
        const r = await new Editor(model, profile, statsProvider(model, profile, { cacheDir })).edit('alphaedit', [req]);
        return r.metrics[0];
      } finally {
        await model.release();
      }
    };
    const first = await edit();
    const statsDir = path.join(cacheDir, 'stats');
    const bins = fs.readdirSync(statsDir).filter((f) => /^l\d+-[0-9a-f]+\.bin$/.test(f));
    expect(bins).toHaveLength(profile.alphaedit.layers.length);
    expect(fs.readdirSync(statsDir).filter((f) => f.endsWith('.eig.bin'))).toHaveLength(bins.length);
    for (const b of bins) fs.rmSync(path.join(statsDir, b));
    const second = await edit();
    for (const b of bins) expect(fs.existsSync(path.join(statsDir, b)), b).toBe(false);
    expect(second).toEqual(first);
  }, 300_000);
});

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

/**
 * Edits world-a request 0 with `method` on gpt2-world-a, deletes the statistics .bin files the
 * edit made (their metas and the factor / eigendecomposition stay), and edits again with a new
 * model and solve cache: returns both edits' metrics and whether any .bin came back.
 */
async function editTwiceWithoutC(method: 'rome' | 'alphaedit', cache: string) {
  const dir = path.join(FIXTURES, 'gpt2-world-a');
  const profile = loadProfile('gpt2-world-a');
  profile.stats.samples = 200;
  profile.rome.vSteps = 3;
  profile.alphaedit.vSteps = 3;
  const cacheDir = path.join(tmp, cache);
  const req = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests[0];
  const edit = async () => {
    const model = LoadedModel.open(dir, { device: 'cpu' });
    try {
      return (await new Editor(model, profile, statsProvider(model, profile, { cacheDir })).edit(method, [req])).metrics[0];
    } finally {
      await model.release();
    }
  };
  const first = await edit();
  const statsDir = path.join(cacheDir, 'stats');
  const files = fs.readdirSync(statsDir);
  const bins = files.filter((f) => /^l\d+-[0-9a-f]+\.bin$/.test(f));
  const persisted = files.filter((f) => f.endsWith(method === 'rome' ? '.bin' : '.eig.bin') && (method !== 'rome' || f.includes('.chol-')));
  for (const b of bins) fs.rmSync(path.join(statsDir, b));
  const second = await edit();
  return { first, second, bins, persisted, back: bins.filter((b) => fs.existsSync(path.join(statsDir, b))), layers: method === 'rome' ? 1 : profile.alphaedit.layers.length };
}

describe('edits with a persisted factor or eigendecomposition', () => {
  it('ROME edits without reading C: the statistics .bin, deleted, is neither read nor recomputed, and the edit is the same', async () => {
    const r = await editTwiceWithoutC('rome', 'cache-rome');
    expect(r.bins).toHaveLength(1);
    expect(r.persisted).toHaveLength(1);
    // C was not needed: still gone (reading it would have failed and recomputed it in its place)
    expect(r.back).toEqual([]);
    expect(r.second).toEqual(r.first);
  }, 300_000);

  it('AlphaEdit edits without reading C: the statistics .bin files, deleted, are neither read nor recomputed, and the edit is the same', async () => {
    const r = await editTwiceWithoutC('alphaedit', 'cache-alphaedit');
    expect(r.bins).toHaveLength(r.layers);
    expect(r.persisted).toHaveLength(r.layers);
    expect(r.back).toEqual([]);
    expect(r.second).toEqual(r.first);
  }, 300_000);
});

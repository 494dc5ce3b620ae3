// Context templates are generated in one batched call per length. These tests re-derive them the
// way ROME's compute_v loop does (one generation per seed word, draws taken in call order) and
// check the batched path gives the same texts, so batching changed speed, not the edits.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sessionCounters } from '../../src-main/engine/runtime/session';
import { templatesPath } from '../../src-main/engine/edit/templates-cache';
import { LoadedModel, sampleTopK, seededRandom } from '../../src-main/engine/runtime/model';
import { contextTemplates } from '../../src-main/engine/edit/templates';
import { loadProfile } from '../../src-main/engine/edit/profile';
import { FIXTURES } from '../shared';

async function perSeedWord(model: LoadedModel, lengths: [number, number][], seed: number): Promise<string[]> {
  const rand = seededRandom(seed);
  const out = ['{}'];
  for (const [len, n] of lengths) {
    const per = Math.max(1, Math.floor(n / 5));
    for (const s of ['The', 'Therefore', 'Because', 'I', 'You']) {
      const rows = Array.from({ length: per }, () => model.encode(s));
      const gen = await model.generate(rows, len, { stopIds: [], sample: { topK: 5, rand: () => rand() } });
      // ROME's generate_fast decodes prompt and continuation as one sequence
      for (const g of gen) out.push(model.tok.decode([...model.encode(s), ...g], true).replace(/[{}]/g, ' ').replace(/\s+/g, ' ').trim() + '. {}');
    }
  }
  return out;
}

describe.each(['gpt2-world-a', 'llama-world-a'])('context templates on %s', (fixture) => {
  it('batched generation gives the texts of one generation per seed word', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, fixture));
    try {
      const { rome, memit, seed } = loadProfile(fixture).contextTemplates;
      for (const lengths of [rome, memit]) {
        const batched = await contextTemplates(model, lengths, seed);
        const reference = await perSeedWord(model, lengths, seed);
        expect(batched).toEqual(reference);
        // the texts differ from each other: a draw mapping that handed every row the same numbers
        // would make the rows of one seed word identical
        expect(new Set(batched).size).toBeGreaterThan(lengths.reduce((a, [, n]) => a + n, 0) / 2);
      }
    } finally {
      await model.release();
    }
  });
});

describe('sampleTopK', () => {
  // reference: sort the whole row (stable, so ties keep the lower index first) and take k
  function bySort(row: number[], k: number, u: number): number {
    const idx = row.map((_, i) => i).sort((a, b) => row[b] - row[a]).slice(0, k);
    const w = idx.map((i) => Math.exp(row[i] - row[idx[0]]));
    let x = u * w.reduce((a, b) => a + b, 0);
    for (let j = 0; j < idx.length; j++) if ((x -= w[j]) <= 0) return idx[j];
    return idx[idx.length - 1];
  }
  it('picks what a full sort would, ties and k > length included', () => {
    const r = seededRandom(7);
    for (let t = 0; t < 2000; t++) {
      const row = Array.from({ length: 1 + Math.floor(r() * 30) }, () => Math.floor(r() * 5));
      const k = 1 + Math.floor(r() * 6);
      const u = r();
      expect(sampleTopK(row, k, () => u)).toBe(bySort(row, k, u));
    }
  });
});

describe('context templates on disk', () => {
  const lengths: [number, number][] = [[5, 10], [10, 10]];
  it('a later process reads them instead of generating; a corrupt entry is regenerated; a FIFO is refused', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-templates-'));
    const dir = path.join(FIXTURES, 'gpt2-world-a');
    try {
      const a = LoadedModel.open(dir);
      const generated = await contextTemplates(a, lengths, 42, { cacheDir });
      await a.release();
      const { file } = await templatesPath(LoadedModel.open(dir), cacheDir, lengths, 42);
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).templates).toEqual(generated);

      // a fresh model (as a new process has): no session is built, the texts are the same
      const b = LoadedModel.open(dir);
      const before = sessionCounters.created;
      expect(await contextTemplates(b, lengths, 42, { cacheDir })).toEqual(generated);
      expect(sessionCounters.created).toBe(before);
      await b.release();

      // another seed is another entry
      const c = LoadedModel.open(dir);
      expect(await contextTemplates(c, lengths, 7, { cacheDir })).not.toEqual(generated);
      await c.release();

      // a truncated entry is not used: generated again and rewritten
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), templates: generated.slice(0, 3) }));
      const d = LoadedModel.open(dir);
      const n = sessionCounters.created;
      expect(await contextTemplates(d, lengths, 42, { cacheDir })).toEqual(generated);
      expect(sessionCounters.created).toBeGreaterThan(n);
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).templates).toEqual(generated);
      await d.release();

      // something we never write there is refused at once, not read (a FIFO would block) or replaced
      fs.rmSync(file);
      execFileSync('mkfifo', [file]);
      const e = LoadedModel.open(dir);
      await expect(contextTemplates(e, lengths, 42, { cacheDir })).rejects.toMatchObject({ code: 'not_regular_file' });
      expect(fs.statSync(file).isFIFO()).toBe(true);
      await e.release();
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

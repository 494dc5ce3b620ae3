import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addScaledIdentity, cholesky } from '../../src-main/engine/edit/linalg';
import {
  clearModelHashMemo,
  defaultCorpusPath,
  importStatsIntoCache,
  keyStats,
  KeyStats,
  modelContentHash,
  readCorpusSamples,
  StatsError,
} from '../../src-main/engine/edit/stats';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { maxAbsDiff, report } from '../engine/helpers';
import { F32_U, forwardDepth, gamma, maxAbs, relMaxDiff } from '../tolerance';

import { FIXTURES, skipUnlessFixture } from '../shared';
import { npy, zip } from './npz-writer';
const FIXTURE = `${FIXTURES}/gpt2-world-a`;
const haveFixture = fs.existsSync(path.join(FIXTURE, 'model.safetensors'));
const LAYERS = [1, 2];
const SAMPLES = 64;
const D = 768;

let model: LoadedModel;
let tmp: string;
let cacheDir: string;
let first: Map<number, KeyStats>;
const progress: [number, number][] = [];

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function statsFiles(dir: string): string[] {
  const d = path.join(dir, 'stats');
  return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
}

describe.skipIf(!haveFixture)(`keyStats on gpt2-world-a${skipUnlessFixture('gpt2-world-a/model.safetensors')}`, () => {
  beforeAll(async () => {
    model = LoadedModel.open(FIXTURE);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-stats-'));
    cacheDir = path.join(tmp, 'cache');
    first = await keyStats(model, LAYERS, { samples: SAMPLES, cacheDir, onProgress: (d, t) => progress.push([d, t]) });
  });
  afterAll(async () => {
    await model?.release();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('computes one symmetric PSD [d_ff, d_ff] moment per layer', () => {
    expect([...first.keys()]).toEqual(LAYERS);
    for (const l of LAYERS) {
      const s = first.get(l)!;
      expect(s.layer).toBe(l);
      expect(s.dim).toBe(D);
      expect(s.source).toBe('computed');
      expect(s.mom2.length).toBe(D * D);
      let asym = 0;
      for (let i = 0; i < D; i++) for (let j = 0; j < i; j++) if (s.mom2[i * D + j] !== s.mom2[j * D + i]) asym++;
      expect(asym).toBe(0);
      let trace = 0;
      for (let i = 0; i < D; i++) {
        expect(s.mom2[i * D + i]).toBeGreaterThanOrEqual(0);
        trace += s.mom2[i * D + i];
      }
      expect(trace).toBeGreaterThan(0);
      expect(() => cholesky(addScaledIdentity(s.mom2, D, 1e-6), D)).not.toThrow();
    }
    expect(first.get(1)!.key).not.toBe(first.get(2)!.key);
  });

  it('counts exactly the real tokens of the first samples', () => {
    // the bundled corpus has one sample per line (no blank lines)
    const lines = fs
      .readFileSync(defaultCorpusPath(), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length);
    const maxTokens = Math.min(model.cfg.maxPositions, 256);
    const expected = lines.slice(0, SAMPLES).reduce((n, l) => n + Math.min(model.encode(l).length, maxTokens), 0);
    expect(first.get(1)!.count).toBe(expected);
    expect(first.get(2)!.count).toBe(expected);
  });

  it('reports monotone progress ending at the total', () => {
    expect(progress[0]).toEqual([0, SAMPLES]);
    expect(progress[progress.length - 1]).toEqual([SAMPLES, SAMPLES]);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThanOrEqual(progress[i - 1][0]);
    expect(progress.length).toBeGreaterThanOrEqual(SAMPLES / 8);
  });

  it('equals Σ k kᵀ / count from float64 key taps, one unpadded sample at a time', async () => {
    const n = 6;
    const dir = path.join(tmp, 'few');
    const stats = await keyStats(model, LAYERS, { samples: n, cacheDir: dir, batchSize: 4 });
    const samples = readCorpusSamples(defaultCorpusPath()).slice(0, n);
    const sums = new Map(LAYERS.map((l) => [l, new Float64Array(D * D)]));
    // per layer: Σ_t m_t² and, per key index i, Σ_t m_t·|k_ti| with m_t = max_i |k_ti| (for the bound below)
    const mm = new Map(LAYERS.map((l) => [l, 0]));
    const mk = new Map(LAYERS.map((l) => [l, new Float64Array(D)]));
    let count = 0;
    let longest = 0;
    for (const s of samples) {
      const ids = model.encode(s).slice(0, 128);
      const { batch, out } = await model.run([ids], { tapKeys: LAYERS, logits: 'none', dtype: 'float64' });
      for (const l of LAYERS) {
        const k = out[`key_${l}`].data as Float64Array;
        const S = sums.get(l)!;
        for (let t = 0; t < batch.T; t++) {
          if (!batch.real[t]) continue;
          const row = k.subarray(t * D, (t + 1) * D);
          const m = maxAbs(row);
          mm.set(l, mm.get(l)! + m * m);
          for (let i = 0; i < D; i++) mk.get(l)![i] += m * Math.abs(row[i]);
          for (let i = 0; i < D; i++) {
            const ki = row[i];
            if (ki === 0) continue;
            for (let j = 0; j < D; j++) S[i * D + j] += ki * row[j];
          }
        }
      }
      count += ids.length;
      longest = Math.max(longest, ids.length);
    }
    for (const l of LAYERS) {
      const got = stats.get(l)!;
      expect(got.count).toBe(count);
      const ref = sums.get(l)!.map((v) => v / count);
      // Two error sources, both bounded whatever kernels the CPU gets (tests/tolerance.ts):
      // - the float32 keys (batched, padded): within η·m_t of the exact key, η = u·forwardDepth(key at layer l),
      //   m_t the token's largest |key|; so |k̂_i k̂_j − k_i k_j| ≤ 2η·m_t² + η²·m_t² off the diagonal
      //   and ≤ 2η·m_t·|k_ti| + η²·m_t² on it;
      // - the float32 products summed over a token block on onnxruntime (≤ count tokens): γ(count) relative
      //   to Σ|k_i k_j| ≤ count·max|C| (Cauchy–Schwarz), and to Σ k_i² = count·C_ii on the diagonal.
      const eta = F32_U * forwardDepth(model.cfg, longest, { layer: l, tap: 'key' });
      const g = gamma(count) * (1 + eta) ** 2;
      const offBound = ((2 * eta + eta * eta) * mm.get(l)!) / count + g * maxAbs(ref);
      expect(maxAbsDiff(got.mom2, ref)).toBeLessThan(offBound);
      let worstDiag = 0;
      for (let i = 0; i < D; i++) {
        const r = ref[i * D + i];
        const diagBound = (2 * eta * mk.get(l)![i] + eta * eta * mm.get(l)!) / count + g * r;
        expect(Math.abs(got.mom2[i * D + i] - r)).toBeLessThanOrEqual(diagBound);
        worstDiag = Math.max(worstDiag, Math.abs(got.mom2[i * D + i] - r) / diagBound);
      }
      report(`keyStats layer ${l}: max |C - C64| / derived bound`, maxAbsDiff(got.mom2, ref) / offBound);
      report(`keyStats layer ${l}: max diagonal |C_ii - C64_ii| / derived bound`, worstDiag);
    }
  });

  it('a second call hits the cache with identical bytes and no forward pass', async () => {
    const calls: [number, number][] = [];
    const again = await keyStats(model, [2, 1, 2], { samples: SAMPLES, cacheDir, onProgress: (d, t) => calls.push([d, t]) });
    expect([...again.keys()]).toEqual(LAYERS);
    for (const l of LAYERS) {
      const a = again.get(l)!;
      const b = first.get(l)!;
      expect(a.source).toBe('cache');
      expect(a.key).toBe(b.key);
      expect(a.count).toBe(b.count);
      expect(bytes(a.mom2).equals(bytes(b.mom2))).toBe(true);
    }
    expect(calls).toEqual([[SAMPLES, SAMPLES]]);
    const files = statsFiles(cacheDir);
    for (const l of LAYERS) {
      expect(files).toContain(`${first.get(l)!.key}.bin`);
      expect(files).toContain(`${first.get(l)!.key}.json`);
    }
    expect(files.some((f) => f.includes('.tmp'))).toBe(false);
    const meta = JSON.parse(fs.readFileSync(path.join(cacheDir, 'stats', `${first.get(1)!.key}.json`), 'utf8'));
    expect(meta).toMatchObject({ layer: 1, dim: D, count: first.get(1)!.count, samples: SAMPLES, maxTokens: 128, origin: 'computed' });
    expect(fs.statSync(path.join(cacheDir, 'stats', `${first.get(1)!.key}.bin`)).size).toBe(D * D * 8);
  });

  it('keys differ by sample count, token limit and corpus', async () => {
    const dir = path.join(tmp, 'keys');
    const a = await keyStats(model, [1], { samples: 4, cacheDir: dir });
    const b = await keyStats(model, [1], { samples: 5, cacheDir: dir });
    const c = await keyStats(model, [1], { samples: 4, cacheDir: dir, maxTokensPerSample: 8 });
    const corpus = path.join(tmp, 'c.jsonl');
    fs.writeFileSync(corpus, readCorpusSamples(defaultCorpusPath()).slice(0, 4).map((text) => JSON.stringify({ text })).join('\n'));
    const d = await keyStats(model, [1], { samples: 4, cacheDir: dir, corpusPath: corpus });
    const keys = [a, b, c, d].map((m) => m.get(1)!.key);
    expect(new Set(keys).size).toBe(4);
    // same samples, different file bytes: a different key but the same numbers
    // the same computation on the same inputs in this process: the same kernels, so the same bits on any CPU
    expect(bytes(d.get(1)!.mom2).equals(bytes(a.get(1)!.mom2))).toBe(true);
    expect(d.get(1)!.count).toBe(a.get(1)!.count);
    expect(c.get(1)!.count).toBeLessThanOrEqual(4 * 8);
  });

  it('recomputes a corrupted, truncated or orphaned cache entry', async () => {
    const key1 = first.get(1)!.key;
    const key2 = first.get(2)!.key;
    const bin1 = path.join(cacheDir, 'stats', `${key1}.bin`);
    const meta2 = path.join(cacheDir, 'stats', `${key2}.json`);
    // flip one byte of layer 1's matrix
    const buf = fs.readFileSync(bin1);
    buf[12345] ^= 0x40;
    fs.writeFileSync(bin1, buf);
    let r = await keyStats(model, LAYERS, { samples: SAMPLES, cacheDir });
    expect(r.get(1)!.source).toBe('computed');
    expect(r.get(2)!.source).toBe('cache');
    // recomputed: the same computation as the first (same samples, batches and kernels), so the same bits
    expect(bytes(r.get(1)!.mom2).equals(bytes(first.get(1)!.mom2))).toBe(true);
    expect(fs.readFileSync(bin1).length).toBe(D * D * 8);
    // truncated matrix and garbage meta
    fs.truncateSync(bin1, 1000);
    fs.writeFileSync(meta2, '{"format": "eac-keystats-v1", "key": ');
    r = await keyStats(model, LAYERS, { samples: SAMPLES, cacheDir });
    expect(r.get(1)!.source).toBe('computed');
    expect(r.get(2)!.source).toBe('computed');
    // a .bin without its meta (crash between the two renames) is not trusted
    fs.rmSync(meta2);
    r = await keyStats(model, LAYERS, { samples: SAMPLES, cacheDir });
    expect(r.get(2)!.source).toBe('computed');
    r = await keyStats(model, LAYERS, { samples: SAMPLES, cacheDir });
    expect(r.get(1)!.source).toBe('cache');
    expect(r.get(2)!.source).toBe('cache');
    expect(bytes(r.get(2)!.mom2).equals(bytes(first.get(2)!.mom2))).toBe(true);
  });

  it('aborts between batches: no cache entry, only the checkpoint the next run resumes from', async () => {
    const dir = path.join(tmp, 'abort');
    const ac = new AbortController();
    let seen = 0;
    await expect(
      keyStats(model, LAYERS, {
        samples: 48,
        cacheDir: dir,
        signal: ac.signal,
        onProgress: (d) => {
          seen = d;
          if (d > 0) ac.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toBe(8);
    // the work done is kept as a checkpoint (stats/partial.ts), never as a finished entry
    expect(statsFiles(dir).filter((f) => !f.startsWith('partial-'))).toEqual([]);
    expect(statsFiles(dir).filter((f) => f.endsWith('.json'))).toHaveLength(1);
    const pre = new AbortController();
    pre.abort();
    await expect(keyStats(model, LAYERS, { samples: 4, cacheDir: dir, signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects bad layers, options and corpora with specific errors', async () => {
    await expect(keyStats(model, [6], { samples: 4, cacheDir })).rejects.toMatchObject({ code: 'bad-layer', message: expect.stringMatching(/layers 0\.\.5/) });
    await expect(keyStats(model, [-1], { samples: 4, cacheDir })).rejects.toBeInstanceOf(StatsError);
    await expect(keyStats(model, [1], { samples: 0, cacheDir })).rejects.toMatchObject({ code: 'bad_params', message: expect.stringMatching(/samples/) });
    await expect(keyStats(model, [1], { samples: 4, cacheDir, maxTokensPerSample: 129 })).rejects.toMatchObject({ code: 'bad_params', message: expect.stringMatching(/128 positions/) });
    await expect(keyStats(model, [1], { samples: 4, cacheDir, corpusPath: path.join(tmp, 'nope.txt') })).rejects.toMatchObject({ code: 'bad-corpus' });
    const empty = path.join(tmp, 'empty.txt');
    fs.writeFileSync(empty, '\n \n\n');
    await expect(keyStats(model, [1], { samples: 4, cacheDir, corpusPath: empty })).rejects.toMatchObject({ code: 'empty-corpus' });
  });

  it('imports ROME npz statistics into the cache and serves them by label', async () => {
    const dir = path.join(tmp, 'imported');
    // a ROME-style npz whose sum is count * (the computed layer-2 moment)
    const count = 1000;
    const sum = first.get(2)!.mom2.map((v) => v * count);
    const npz = path.join(tmp, 'transformer.h.2.mlp.c_proj_float64_mom2_100000.npz');
    fs.writeFileSync(
      npz,
      zip([
        { name: 'mom2.count.npy', data: npy('<i8', [], [count]), method: 8 },
        { name: 'mom2.mom2.npy', data: npy('<f8', [D, D], Array.from(sum)), method: 8 },
      ]),
    );

    const imp = await importStatsIntoCache(model, 2, npz, dir, 100000);
    expect(imp).toMatchObject({ layer: 2, dim: D, count, source: 'npz' });
    expect(relMaxDiff(imp.mom2, first.get(2)!.mom2)).toBeLessThan(1e-14);
    const r = await keyStats(model, LAYERS, { samples: 8, cacheDir: dir, importedLabel: 100000 });
    expect(r.get(2)!.source).toBe('npz');
    expect(r.get(2)!.key).toBe(imp.key);
    expect(r.get(2)!.count).toBe(count);
    expect(bytes(r.get(2)!.mom2).equals(bytes(imp.mom2))).toBe(true);
    expect(r.get(1)!.source).toBe('computed');
    // without the label the corpus statistics are used
    const plain = await keyStats(model, [2], { samples: 8, cacheDir: dir });
    expect(plain.get(2)!.source).toBe('computed');
    // a file for another model size is refused
    await expect(importStatsIntoCache(model, 2, fileURLToPath(new URL('./fixtures/rome-savez-d4.npz', import.meta.url)), dir, 'x')).rejects.toMatchObject({
      code: 'bad-shape',
      message: expect.stringMatching(/\[4, 4\].*expected \[768, 768\]/),
    });
    await expect(importStatsIntoCache(model, 9, npz, dir, 'x')).rejects.toMatchObject({ code: 'bad-layer' });
  });

  it('modelContentHash is stable and memoised on disk by (path, size, mtime)', async () => {
    const dir = path.join(tmp, 'hash');
    clearModelHashMemo();
    const h = await modelContentHash(model, dir);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(await modelContentHash(model, dir)).toBe(h);
    const file = path.join(dir, 'model-hashes.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    const weights = path.join(FIXTURE, 'model.safetensors');
    expect(Object.keys(j.files).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => path.join(FIXTURE, n)).sort());
    expect(j.files[weights].size).toBe(fs.statSync(weights).size);
    // a fresh process trusts the disk record while (size, mtime) match: tamper with it to prove it is read
    clearModelHashMemo();
    j.files[weights].sha256 = 'f'.repeat(64);
    fs.writeFileSync(file, JSON.stringify(j));
    expect(await modelContentHash(model, dir)).not.toBe(h);
    // ...and ignores it when the file changed (mtime differs): the file is hashed again
    clearModelHashMemo();
    j.files[weights].mtimeMs += 1;
    fs.writeFileSync(file, JSON.stringify(j));
    expect(await modelContentHash(model, dir)).toBe(h);
    // a corrupt hash file is ignored and rewritten
    clearModelHashMemo();
    fs.writeFileSync(file, '{ not json');
    expect(await modelContentHash(model, dir)).toBe(h);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).files[weights].sha256).toMatch(/^[0-9a-f]{64}$/);
    // without a cache dir: same value
    clearModelHashMemo();
    expect(await modelContentHash(model)).toBe(h);
  });
});

describe('readCorpusSamples', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-corpus-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const w = (name: string, text: string) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('splits by blank lines when there are any (CRLF and whitespace-only lines included)', () => {
    expect(readCorpusSamples(w('p.txt', '\n\nFirst para\nstill first.\n\n  \nSecond.\r\n \r\nThird\r\nline two\n'))).toEqual([
      'First para\nstill first.',
      'Second.',
      'Third\nline two',
    ]);
  });

  it('splits by lines when there are no blank lines inside', () => {
    expect(readCorpusSamples(w('l.txt', '\uFEFFone\r\n two \nthree\n\n'))).toEqual(['one', 'two', 'three']);
  });

  it('reads JSONL "text" fields and reports bad lines', () => {
    expect(readCorpusSamples(w('a.jsonl', '{"text": "alpha"}\n\n{"text": "  beta ", "id": 2}\n{"text": ""}\n'))).toEqual(['alpha', 'beta']);
    expect(() => readCorpusSamples(w('b.jsonl', '{"text": "ok"}\n{oops\n'))).toThrow(/b\.jsonl:2: not valid JSON/);
    expect(() => readCorpusSamples(w('c.jsonl', '{"body": "x"}\n'))).toThrow(/c\.jsonl:1: expected an object with a string "text" field/);
  });

  it('bundled corpora exist and parse', () => {
    const def = readCorpusSamples(defaultCorpusPath());
    expect(def.length).toBeGreaterThan(5000);
    const wiki = readCorpusSamples(path.join(path.dirname(defaultCorpusPath()), 'wikitext2-sample.txt'));
    expect(wiki.length).toBeGreaterThan(300);
    expect(wiki[0]).toBe('= Robert Boulter =');
  });
});

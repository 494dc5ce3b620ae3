// Key statistics and solves within the memory rule: C accumulated in place (one float64 n² buffer),
// Cholesky in place (the matrix plus its factor at most), the factor persisted beside the statistics
// and reused without refactorising. Buffers are counted, not timed: every big buffer the code makes
// comes from an injected Alloc, and the global Float64Array constructor is instrumented so a buffer
// made behind the allocator's back is counted too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CountingAlloc } from '../../src-main/engine/edit/alloc';
import { choleskyBlockedInPlace } from '../../src-main/engine/edit/cholesky-ort';
import { choleskyInPlace, NotPositiveDefiniteError } from '../../src-main/engine/edit/linalg';
import { writeCachedStats } from '../../src-main/engine/edit/stats/cache';
import { KeyMomentAccumulator, SolveCache, StatsError } from '../../src-main/engine/edit/stats';
import { seededRandom } from '../../src-main/engine/runtime/model';
import { choleskyBound, F64_U, gamma, relMaxDiff, spdCondition } from '../tolerance';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-inplace-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Textbook column-by-column Cholesky (j-outer, reads A's lower triangle): shares no code or loop order with the library. */
function referenceCholesky(A: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    L[j * n + j] = Math.sqrt(d);
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / L[j * n + j];
    }
  }
  return L;
}

/** Random keys [t, n] and their Σ kkᵀ / t in float64 (outer products one token at a time). */
function keysAndMoment(n: number, t: number, seed: number): { K: Float32Array; C: Float64Array } {
  const r = seededRandom(seed);
  const K = Float32Array.from({ length: t * n }, () => (r() - 0.5) * (1 + r()));
  const C = new Float64Array(n * n);
  for (let p = 0; p < t; p++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j] += K[p * n + i] * K[p * n + j];
  for (let i = 0; i < C.length; i++) C[i] /= t;
  return { K, C };
}

/** SPD matrix from random keys (more tokens than n). */
function spd(n: number, seed: number): Float64Array {
  return keysAndMoment(n, n + 16, seed).C;
}

// --- global Float64Array instrumentation: counts every JS-side float64 buffer of ≥ `watch` elements
const RealF64 = globalThis.Float64Array;
let watch = Infinity;
let bigF64 = 0;
class CountingF64 extends RealF64 {
  constructor(...args: unknown[]) {
    super(...(args as [number]));
    // a view on an existing buffer (subarray, new Float64Array(buf, off, len)) allocates nothing
    if (!(args[0] instanceof ArrayBuffer) && this.length >= watch) bigF64++;
  }
}
function instrument(minLength: number): void {
  watch = minLength;
  bigF64 = 0;
  (globalThis as { Float64Array: unknown }).Float64Array = CountingF64;
}
afterEach(() => {
  (globalThis as { Float64Array: unknown }).Float64Array = RealF64;
  watch = Infinity;
});

describe('Cholesky in place', () => {
  it('plain JS: the factor replaces A, equals the reference, upper triangle zero', () => {
    const n = 120;
    const A = spd(n, 1);
    const want = referenceCholesky(A, n);
    const L = RealF64.from(A);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) L[i * n + j] = 777; // upper triangle is never read
    instrument(n * n);
    choleskyInPlace(L, n);
    expect(bigF64).toBe(0);
    expect(relMaxDiff(L, want)).toBeLessThan(1e-12);
  });

  it.each([
    [300, 64],
    [333, 100],
  ])('blocked on onnxruntime (n = %i, block %i): equals the reference and allocates panels only', async (n, block) => {
    const A = spd(n, n);
    const want = referenceCholesky(A, n);
    const L = RealF64.from(A);
    const alloc = new CountingAlloc();
    instrument(n * n);
    await choleskyBlockedInPlace(L, n, { block, alloc });
    const jsBig = bigF64;
    // two float64 routes (JS loops vs DGEMM panels, whose kernel depends on the CPU): within 2·κ₂·√n·u
    expect(relMaxDiff(L, want)).toBeLessThan(choleskyBound(spdCondition(A, want, n), n));
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
    // the panels were seen (the instrumentation works) and none is anywhere near n²
    expect(alloc.records.some((r) => r.kind === 'external')).toBe(true);
    expect(alloc.largest).toBeLessThanOrEqual(n * block);
    expect(jsBig).toBe(0);
  });

  it('blocked: a non-PD matrix names the global pivot and its panel', async () => {
    const n = 200;
    const A = spd(n, 3);
    A[150 * n + 150] = -1;
    const err = await choleskyBlockedInPlace(A, n, { block: 64 }).catch((e) => e);
    expect(err).toBeInstanceOf(NotPositiveDefiniteError);
    expect((err as NotPositiveDefiniteError).index).toBe(150);
    expect((err as Error).message).toMatch(/panel at row 128/);
  });
});

describe('SolveCache: at most two n² buffers, factor persisted beside the statistics', () => {
  const n = 1100; // above BLOCKED_CHOLESKY_MIN: the onnxruntime path
  const C = spd(n, 7);
  const cacheDir = path.join(tmp, 'cache');
  const key = 'l0-test-stats';
  writeCachedStats(cacheDir, C, { key, layer: 0, dim: n, count: n + 16, origin: 'computed', model: 'test', corpus: { path: 'x', sha256: 'y' }, samples: 1 });
  const stats = { key, mom2: C, count: n + 16, cacheDir };
  const ridge = 1e-3;
  let first: Float64Array;
  /** 2·κ₂·√n·u of C + ridge (tests/tolerance.ts): how far two float64 factorisations of it may differ */
  let factorBound: number;

  it('factorises C + ridge·tr(C)/n·I in one new n² buffer (C and the factor are the only two)', async () => {
    const alloc = new CountingAlloc();
    const cache = new SolveCache({ alloc, block: 256 });
    instrument(n * n);
    first = RealF64.from(await cache.factor(stats, ridge, n));
    expect(cache.factorisations).toBe(1);
    // one n² buffer (the factor) besides C, through the allocator and through any constructor
    expect(alloc.atLeast(n * n).map((r) => r.label)).toEqual(['Cholesky factor']);
    expect(bigF64).toBe(1);
    expect(alloc.records.filter((r) => r.length < n * n).every((r) => r.length <= n * 256)).toBe(true);
    let tr = 0;
    for (let i = 0; i < n; i++) tr += C[i * n + i];
    const shifted = RealF64.from(C);
    for (let i = 0; i < n; i++) shifted[i * n + i] += (ridge * tr) / n;
    const want = referenceCholesky(shifted, n);
    // two float64 routes (blocked on onnxruntime, the textbook loops): within 2·κ₂·√n·u (tests/tolerance.ts)
    factorBound = choleskyBound(spdCondition(shifted, want, n), n);
    expect(relMaxDiff(first, want)).toBeLessThan(factorBound);
    const files = fs.readdirSync(path.join(cacheDir, 'stats'));
    expect(files.filter((f) => f.includes('.chol-'))).toHaveLength(2);
  });

  it('a second instance reads the persisted factor (same bytes) instead of factorising', async () => {
    const alloc = new CountingAlloc();
    const again = new SolveCache({ alloc });
    instrument(n * n);
    const L = await again.factor(stats, ridge, n);
    expect(again.factorisations).toBe(0);
    expect(again.loads).toBe(1);
    expect(bigF64).toBe(1); // read straight into the factor buffer
    expect(Buffer.from(L.buffer, L.byteOffset, L.byteLength).equals(Buffer.from(first.buffer))).toBe(true);
    const prep = await new SolveCache().prepare(stats, ridge, n);
    expect(prep.source).toBe('disk');
  });

  it('a damaged factor file or other statistics under the key are not trusted', async () => {
    const bin = fs.readdirSync(path.join(cacheDir, 'stats')).find((f) => f.includes('.chol-') && f.endsWith('.bin'))!;
    const file = path.join(cacheDir, 'stats', bin);
    const bytes = fs.readFileSync(file);
    bytes[1000] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const c1 = new SolveCache();
    // refactorised with the default panel width (the first used 256): another float64 route to the same factor
    expect(relMaxDiff(await c1.factor(stats, ridge, n), first)).toBeLessThan(factorBound);
    expect(c1.factorisations).toBe(1);
    // statistics re-imported under the same key (different .bin sha256): the old factor is stale
    const C2 = RealF64.from(C);
    for (let i = 0; i < n; i++) C2[i * n + i] *= 2;
    writeCachedStats(cacheDir, C2, { key, layer: 0, dim: n, count: n + 16, origin: 'npz', model: 'test', corpus: { path: 'x', sha256: 'z' }, samples: '1' });
    const c2 = new SolveCache();
    await c2.factor({ ...stats, mom2: C2 }, ridge, n);
    expect(c2.factorisations).toBe(1);
  });

  it('keeps a persisted factor above maxBytes out of memory, an unpersisted one in', async () => {
    const small = new SolveCache({ maxBytes: 1 << 20 });
    await small.prepare(stats, 0, n);
    expect(small.size).toBe(0);
    const noDisk = new SolveCache({ maxBytes: 1 << 20 });
    await noDisk.prepare({ key: 'x', mom2: C }, 0, n);
    expect(noDisk.size).toBe(1);
  });
});

describe('statistics-time checks', () => {
  const n = 64;
  it('fewer tokens than d_ff: an error without ridge, a warning with one', async () => {
    const { C } = keysAndMoment(n, 20, 5);
    const cache = new SolveCache();
    const err = await cache.prepare({ key: 'few', mom2: C, count: 20 }, 0, n).catch((e) => e);
    expect(err).toBeInstanceOf(StatsError);
    expect(err.code).toBe('insufficient-samples');
    expect(err.message).toMatch(/20 tokens, fewer than d_ff = 64/);
    expect(cache.factorisations).toBe(0);
    const ok = await cache.prepare({ key: 'few', mom2: C, count: 20 }, 0.01, n);
    expect(ok.warnings.join(' ')).toMatch(/fewer than d_ff = 64/);
  });

  it('a C that is not positive definite is a StatsError naming the ridge', async () => {
    const C = spd(n, 9);
    C[10 * n + 10] = -5;
    const err = await new SolveCache().prepare({ key: 'neg', mom2: C, count: 1000 }, 0, n).catch((e) => e);
    expect(err).toBeInstanceOf(StatsError);
    expect(err.code).toBe('not-positive-definite');
    expect(err.message).toMatch(/ridge 0 .*index 10 of 64/);
  });
});

describe('C = E[kkᵀ] accumulated in place', () => {
  it.each([
    [200, 300, 64, 48],
    [130, 50, 64, 512],
  ])('n = %i, %i tokens (token block %i, column block %i): equals Σkkᵀ/t with one n² float64 buffer', async (n, t, cap, block) => {
    const { K, C } = keysAndMoment(n, t, n + t);
    const alloc = new CountingAlloc();
    instrument(n * n);
    const acc = new KeyMomentAccumulator(n, { alloc, tokenCapacity: cap, block });
    for (let p = 0; p < t; p++) await acc.add(K, p * n);
    const got = await acc.finish();
    expect(acc.count).toBe(t);
    // Float32 products summed over a block of ≤ cap tokens on onnxruntime, blocks summed in float64. Each block
    // entry is within γ(cap)·Σ_p |k_pi·k_pj| of exact (Higham's bound: any order, FMA or not, so any CPU), and
    // (1/t)·Σ_p |k_pi·k_pj| ≤ √(C_ii·C_jj) ≤ max|C| (Cauchy–Schwarz; an SPD matrix peaks on its diagonal), so
    // relMaxDiff ≤ γ(cap), plus the float64 sums on both sides (≤ t terms each).
    expect(relMaxDiff(got, C)).toBeLessThan(gamma(cap) + 2 * gamma(t, F64_U));
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(got[i * n + j]).toBe(got[j * n + i]);
    expect(alloc.atLeast(n * n).map((r) => `${r.kind} ${r.label}`)).toEqual(['f64 C accumulator']);
    expect(bigF64).toBe(1);
    expect(alloc.records.filter((r) => r.kind === 'external').every((r) => r.length <= n * Math.min(block, Math.ceil(n / 4)))).toBe(true);
  });
});

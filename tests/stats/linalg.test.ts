import { describe, expect, it } from 'vitest';
import {
  addScaledIdentity,
  cholesky,
  choleskySolve,
  dot,
  matmul,
  norm,
  NotPositiveDefiniteError,
  transpose,
} from '../../src-main/engine/edit/linalg';
import { SolveCache, solveKey } from '../../src-main/engine/edit/stats';
import { seededRandom } from '../../src-main/engine/runtime/model';

const rng = seededRandom;

function randn(n: number, r: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
  return out;
}

/** Brute-force j-p-i order so it shares no loop structure with matmul. */
function naiveMatmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let j = 0; j < n; j++)
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[i * k + p] * B[p * n + j];
      C[i * n + j] = s;
    }
  return C;
}

/** SPD: Mᵀ M / n + shift·I. */
function randomSpd(n: number, r: () => number, shift = 0.1): Float64Array {
  const M = randn(n * n, r);
  const A = naiveMatmul(transposeNaive(M, n, n), M, n, n, n);
  for (let i = 0; i < n * n; i++) A[i] /= n;
  for (let i = 0; i < n; i++) A[i * n + i] += shift;
  return A;
}

function transposeNaive(A: Float64Array, rows: number, cols: number): Float64Array {
  const T = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) T[j * rows + i] = A[i * cols + j];
  return T;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

describe('cholesky', () => {
  it('matches the hand-computed factor of a classic 3x3', () => {
    const A = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    const L = cholesky(A, 3);
    expect(Array.from(L)).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('reconstructs random SPD matrices (L lower triangular, L Lᵀ = A)', () => {
    const r = rng(1);
    for (const n of [1, 2, 5, 33, 120]) {
      const A = randomSpd(n, r);
      const L = cholesky(A, n);
      for (let i = 0; i < n; i++) {
        expect(L[i * n + i]).toBeGreaterThan(0);
        for (let j = i + 1; j < n; j++) expect(L[i * n + j]).toBe(0);
      }
      const LLt = naiveMatmul(L, transposeNaive(L, n, n), n, n, n);
      expect(maxAbsDiff(LLt, A) / maxAbs(A)).toBeLessThan(1e-13);
    }
  });

  it('reads only the lower triangle', () => {
    const A = Float64Array.from([4, 999, -16, 12, 37, 999, -16, -43, 98]);
    expect(Array.from(cholesky(A, 3))).toEqual([2, 0, 0, 6, 1, 0, -8, 5, 3]);
  });

  it('throws NotPositiveDefiniteError naming the failing (smallest) pivot', () => {
    let err: unknown;
    try {
      cholesky(Float64Array.from([1, 2, 2, 1]), 2);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotPositiveDefiniteError);
    const e = err as NotPositiveDefiniteError;
    expect(e.code).toBe('not-positive-definite');
    expect(e.index).toBe(1);
    expect(e.pivot).toBe(-3);
    expect(e.smallestPositive).toBe(1);
    expect(e.message).toMatch(/smallest pivot -3 at index 1 of 2/);
    expect(e.message).toMatch(/regulariser/);
  });

  it('rejects singular, negative and NaN matrices', () => {
    expect(() => cholesky(new Float64Array(4), 2)).toThrow(/smallest pivot 0 at index 0 of 2/);
    expect(() => cholesky(Float64Array.from([-1]), 1)).toThrow(NotPositiveDefiniteError);
    expect(() => cholesky(Float64Array.from([1, 0, 0, NaN]), 2)).toThrow(/pivot NaN at index 1/);
    // rank-deficient PSD (k kᵀ): fails, succeeds after a ridge
    const k = Float64Array.from([1, 2, 3]);
    const K = naiveMatmul(k, k, 3, 1, 3);
    expect(() => cholesky(K, 3)).toThrow(NotPositiveDefiniteError);
    expect(() => cholesky(addScaledIdentity(K, 3, 1e-6), 3)).not.toThrow();
  });

  it('checks sizes', () => {
    expect(() => cholesky(new Float64Array(5), 2)).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});

describe('choleskySolve', () => {
  it('solves random SPD systems with residual < 1e-10', () => {
    const r = rng(2);
    for (const [n, cols] of [
      [1, 1],
      [7, 3],
      [64, 1],
      [150, 5],
    ]) {
      const A = randomSpd(n, r);
      const B = randn(n * cols, r);
      const Bcopy = Float64Array.from(B);
      const X = choleskySolve(cholesky(A, n), n, B, cols);
      expect(Array.from(B)).toEqual(Array.from(Bcopy));
      const res = maxAbsDiff(naiveMatmul(A, X, n, n, cols), B);
      expect(res / maxAbs(B)).toBeLessThan(1e-10);
    }
  });

  it('matches a hand-solved system', () => {
    const A = Float64Array.from([4, 12, -16, 12, 37, -43, -16, -43, 98]);
    // x = [1, 2, 3] -> b = A x
    const b = Float64Array.from([4 + 24 - 48, 12 + 74 - 129, -16 - 86 + 294]);
    const x = choleskySolve(cholesky(A, 3), 3, b, 1);
    expect(maxAbsDiff(x, [1, 2, 3])).toBeLessThan(1e-12);
  });

  it('checks sizes', () => {
    expect(() => choleskySolve(new Float64Array(4), 2, new Float64Array(3), 1)).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});

describe('matmul, transpose, addScaledIdentity, dot, norm', () => {
  it('matmul equals the brute-force product on non-square shapes', () => {
    const r = rng(3);
    for (const [m, k, n] of [
      [1, 1, 1],
      [3, 4, 5],
      [17, 1, 9],
      [40, 23, 31],
    ]) {
      const A = randn(m * k, r);
      const B = randn(k * n, r);
      expect(maxAbsDiff(matmul(A, B, m, k, n), naiveMatmul(A, B, m, k, n))).toBeLessThan(1e-12);
    }
    expect(Array.from(matmul(Float64Array.from([1, 2, 3, 4]), Float64Array.from([5, 6, 7, 8]), 2, 2, 2))).toEqual([19, 22, 43, 50]);
    expect(() => matmul(new Float64Array(6), new Float64Array(6), 2, 2, 3)).toThrow(expect.objectContaining({ code: 'internal' }));
  });

  it('transpose', () => {
    expect(Array.from(transpose(Float64Array.from([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    const r = rng(4);
    const A = randn(37 * 53, r);
    expect(Array.from(transpose(A, 37, 53))).toEqual(Array.from(transposeNaive(A, 37, 53)));
    expect(Array.from(transpose(transpose(A, 37, 53), 53, 37))).toEqual(Array.from(A));
  });

  it('addScaledIdentity returns a new matrix', () => {
    const A = Float64Array.from([1, 2, 3, 4]);
    expect(Array.from(addScaledIdentity(A, 2, 0.5))).toEqual([1.5, 2, 3, 4.5]);
    expect(Array.from(A)).toEqual([1, 2, 3, 4]);
  });

  it('dot and norm', () => {
    expect(dot([1, 2, 3], [4, 5, 6])).toBe(32);
    expect(() => dot([1], [1, 2])).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(norm([3, 4])).toBeCloseTo(5, 14);
    expect(norm([])).toBe(0);
    expect(norm(new Float64Array(10))).toBe(0);
    expect(norm([3e200, 4e200]) / 5e200).toBeCloseTo(1, 12); // no overflow
    expect(norm([3e-200, 4e-200]) / 5e-200).toBeCloseTo(1, 12); // no underflow
    const r = rng(5);
    const v = randn(1000, r);
    expect(Math.abs(norm(v) - Math.sqrt(dot(v, v)))).toBeLessThan(1e-12);
  });
});

describe('SolveCache', () => {
  it('factorises once per key and reuses the factor', () => {
    const r = rng(6);
    const n = 40;
    const A = randomSpd(n, r);
    const cache = new SolveCache();
    const b1 = randn(n, r);
    const b2 = randn(n * 3, r);
    const k = solveKey('l2-abc', 1e-4);
    const x1 = cache.solve(k, A, n, b1, 1);
    const L = cache.cholesky(k, A, n);
    const x2 = cache.solve(k, A, n, b2, 3);
    expect(cache.factorisations).toBe(1);
    expect(cache.cholesky(k, A, n)).toBe(L);
    expect(maxAbsDiff(naiveMatmul(A, x1, n, n, 1), b1) / maxAbs(b1)).toBeLessThan(1e-10);
    expect(maxAbsDiff(naiveMatmul(A, x2, n, n, 3), b2) / maxAbs(b2)).toBeLessThan(1e-10);
    // another regulariser is another key
    const A2 = addScaledIdentity(A, n, 1);
    cache.solve(solveKey('l2-abc', 1), A2, n, b1, 1);
    expect(cache.factorisations).toBe(2);
    expect(cache.size).toBe(2);
  });

  it('refuses a different matrix under a known key', () => {
    const r = rng(7);
    const A = randomSpd(10, r);
    const cache = new SolveCache();
    cache.cholesky('k', A, 10);
    expect(() => cache.cholesky('k', addScaledIdentity(A, 10, 1), 10)).toThrow(/different/);
    expect(() => cache.cholesky('k', randomSpd(5, r), 5)).toThrow(/different/);
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const r = rng(8);
    const cache = new SolveCache(2);
    const As = [0, 1, 2].map(() => randomSpd(6, r));
    cache.cholesky('a', As[0], 6);
    cache.cholesky('b', As[1], 6);
    cache.cholesky('a', As[0], 6); // touch a
    cache.cholesky('c', As[2], 6); // evicts b
    expect(cache.has('a')).toBe(true);
    expect(cache.has('b')).toBe(false);
    expect(cache.has('c')).toBe(true);
    expect(cache.factorisations).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('propagates NotPositiveDefiniteError and caches nothing', () => {
    const cache = new SolveCache();
    expect(() => cache.cholesky('bad', Float64Array.from([1, 2, 2, 1]), 2)).toThrow(NotPositiveDefiniteError);
    expect(cache.has('bad')).toBe(false);
  });
});

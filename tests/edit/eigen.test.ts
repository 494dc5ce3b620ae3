// The symmetric eigensolver behind AlphaEdit's null-space projection, checked against its defining
// equations in float64: A·v = λv for every pair, VᵀV = I, eigenvalues ascending and summing to tr A;
// on a rank-deficient second moment (fewer samples than dimensions, as C from few tokens) the zero
// eigenvalues and their null space come out exactly as many as the missing rank.
import { describe, expect, it } from 'vitest';
import { nullspaceBasis, symmetricEigen } from '../../src-main/engine/edit/eigen';
import { rng } from '../autodiff/gradcheck';

function check(A: Float64Array, n: number, tol: number) {
  const { values, vectors } = symmetricEigen(A, n);
  let maxRes = 0;
  let maxOrth = 0;
  for (let i = 0; i < n; i++) {
    const v = vectors.subarray(i * n, i * n + n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let c = 0; c < n; c++) s += A[r * n + c] * v[c];
      maxRes = Math.max(maxRes, Math.abs(s - values[i] * v[r]));
    }
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += v[k] * vectors[j * n + k];
      maxOrth = Math.max(maxOrth, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  const scale = Math.max(1, ...Array.from(values, Math.abs));
  expect(maxRes / scale).toBeLessThan(tol);
  expect(maxOrth).toBeLessThan(tol);
  for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += A[i * n + i];
  expect(values.reduce((a, b) => a + b, 0)).toBeCloseTo(tr, 8);
  return { values, vectors };
}

describe('symmetricEigen (tred2 + tql2, float64)', () => {
  it('a random symmetric matrix: A v = λ v, orthonormal, ascending, trace kept', () => {
    const r = rng(3);
    for (const n of [1, 2, 5, 40, 97]) {
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = r() * 4 - 2;
      check(A, n, 1e-11);
    }
  });

  it('a known spectrum: Q diag(λ) Qᵀ gives back λ', () => {
    // Householder Q = I − 2uuᵀ/‖u‖²
    const n = 6;
    const u = [1, -2, 0.5, 3, 0, 1];
    const uu = u.reduce((a, b) => a + b * b, 0);
    const lam = [-3, 0, 0, 1e-3, 2, 7];
    const Q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * u[i] * u[j]) / uu;
    const A = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) A[i * n + j] += Q(i, k) * lam[k] * Q(j, k);
    const { values } = check(A, n, 1e-12);
    lam.forEach((l, i) => expect(values[i]).toBeCloseTo(l, 12));
  });

  it('a rank-deficient second moment (m samples < n): n − m zero eigenvalues, and Û spans what the keys do not', () => {
    const r = rng(9);
    const n = 60;
    const m = 20;
    const K = Array.from({ length: m }, () => Float64Array.from({ length: n }, () => r() * 2 - 1));
    const C = new Float64Array(n * n);
    for (const k of K) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) C[i * n + j] += (k[i] * k[j]) / m;
    const eig = check(C, n, 1e-11);
    const { rows, basis } = nullspaceBasis({ n, ...eig }, 1e-10);
    expect(rows).toBe(n - m);
    // every null-space vector is orthogonal to every key: P k = 0
    for (let i = 0; i < rows; i++)
      for (const k of K) {
        let s = 0;
        for (let c = 0; c < n; c++) s += basis[i * n + c] * k[c];
        expect(Math.abs(s)).toBeLessThan(1e-10);
      }
  });

  it('refuses a non-finite matrix', () => {
    expect(() => symmetricEigen(Float64Array.from([1, NaN, NaN, 1]), 2)).toThrow(expect.objectContaining({ code: 'non_finite', message: expect.stringMatching(/non-finite/) }));
  });
});

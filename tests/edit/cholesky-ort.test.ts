// The blocked Cholesky on onnxruntime against the plain JS factorisation.
import { describe, expect, it } from 'vitest';
import { choleskyBlocked } from '../../src-main/engine/edit/cholesky-ort';
import { cholesky, choleskySolve } from '../../src-main/engine/edit/linalg';
import { seededRandom } from '../../src-main/engine/runtime/model';
import { report } from '../engine/helpers';
import { choleskyBound, F64_U, gamma, spdCondition } from '../tolerance';

function spd(n: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  const m = n + 8;
  const X = Float64Array.from({ length: n * m }, () => r() - 0.5);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += X[i * m + k] * X[j * m + k];
      A[i * n + j] = s / m;
      A[j * n + i] = s / m;
    }
  return A;
}

describe('blocked Cholesky on onnxruntime', () => {
  it.each([
    [300, 64],
    [517, 128],
  ])('n = %i, block %i: same factor as the JS one within 2·κ₂·√n·u, solves within their backward-error bound', async (n, block) => {
    const A = spd(n, n);
    const want = cholesky(A, n);
    const got = await choleskyBlocked(A, n, block);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < n * n; i++) {
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    // two float64 routes (JS loops, DGEMM panels whose kernel depends on the CPU): the factor moves by at most
    // 2·κ₂(A)·√n·u (tests/tolerance.ts, choleskyBound); these matrices have κ₂ ≈ 1e4
    const bound = choleskyBound(spdCondition(A, want, n), n);
    report(`blocked Cholesky n=${n}: max |L_ort - L_js| / max |L| / derived bound`, worst / scale / bound);
    expect(worst / scale).toBeLessThan(bound);
    // strictly lower triangular output
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(got[i * n + j]).toBe(0);
    const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i));
    const x = choleskySolve(got, n, b, 1);
    // Rigorous residual bound, any order and CPU (Higham Thms 8.5, 10.3): the computed factor is exact for A + ΔA₁,
    // |ΔA₁| ≤ γ(n+1)·|L||Lᵀ|, the two triangular solves are exact for L Lᵀ + ΔA₂, |ΔA₂| ≤ (2γ(n) + γ(n)²)·|L||Lᵀ|,
    // so |b − A·x| ≤ γ(3n+1)·|L||Lᵀ||x|, plus γ(n)·|A||x| for computing the residual here.
    const ax = x.map(Math.abs);
    const ltx = new Float64Array(n); // |Lᵀ||x|
    for (let k = 0; k < n; k++) for (let i = k; i < n; i++) ltx[k] += Math.abs(got[i * n + k]) * ax[i];
    let worstRes = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      let absA = 0;
      let llx = 0;
      for (let j = 0; j < n; j++) {
        s += A[i * n + j] * x[j];
        absA += Math.abs(A[i * n + j]) * ax[j];
      }
      for (let k = 0; k <= i; k++) llx += Math.abs(got[i * n + k]) * ltx[k];
      const res = Math.abs(s - b[i]);
      const resBound = gamma(3 * n + 1, F64_U) * llx + gamma(n, F64_U) * absA;
      expect(res).toBeLessThanOrEqual(resBound);
      worstRes = Math.max(worstRes, res / resBound);
    }
    report(`blocked Cholesky n=${n}: solve residual / gamma bound`, worstRes);
  });

  it('reads only the lower triangle and names the failing panel for a non-PD matrix', async () => {
    const n = 200;
    const A = spd(n, 3);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) A[i * n + j] = 12345; // upper garbage
    const L = await choleskyBlocked(A, n, 64);
    expect(Array.from(L.subarray(0, 5))).toEqual(Array.from(cholesky(A, n).subarray(0, 5)));
    const bad = Float64Array.from(A);
    bad[150 * n + 150] = -1;
    await expect(choleskyBlocked(bad, n, 64)).rejects.toThrow(/panel at row 128/);
  });
});

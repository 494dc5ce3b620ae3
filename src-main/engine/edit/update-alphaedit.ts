// AlphaEdit's per-layer update (Fang et al., ICLR 2025; jianghoucheng/AlphaEdit, AlphaEdit/AlphaEdit_main.py
// `upd_matrix`): MEMIT's z and residual spread, with each layer's update projected onto the null space
// of the preserved keys (their running second moment K_p K_pᵀ: preserved-keys.ts). Re-derived from the
// published code, not copied.
//
// Published per layer (GPT-2 layout, upd is [d_ff, d]):
//   upd = solve(P (K Kᵀ + K_p K_pᵀ) + α I,  P K Rᵀ),   P = Û Ûᵀ (Û: eigenvectors of C below the threshold)
// Any solution X of (P A + αI) X = P B lies in range(P): apply (I − P) to both sides, α(I − P)X = 0.
// So X = Û Y with (Ûᵀ A Û + α I_r) Y = Ûᵀ B — an r × r symmetric positive definite system instead
// of a d_ff × d_ff general one — and ΔW (d × d_ff) = Xᵀ = R · (Û Y_K)ᵀ, where Y_K solves it for
// B = K: exactly rank n, stored as factors like MEMIT's.
import { BLOCKED_CHOLESKY_MIN, type Nullspace } from './solve-cache';
import { choleskyBlockedInPlace } from './cholesky-ort';
import { choleskyInPlace, choleskySolve } from './linalg';
import { addGram, project } from './preserved-keys';

/**
 * One layer of AlphaEdit as factors: Ut = Rᵀ rows [n, d], Vt = (Û (Bp + Y Yᵀ + αI)⁻¹ Y)ᵀ [n, d_ff]
 * with Y = Û K, so that ΔW = Σ_j R_j ⊗ Vt_j equals the published update (see the file comment).
 * K: n keys (d_ff) as rows; R: n residuals (d); Bp: Ûᵀ K_p K_pᵀ Û. Null when Û is empty (C has
 * no eigenvalue below the threshold: the projection allows no update).
 */
export async function alphaEditLayerUpdate(K: Float64Array[], R: Float64Array[], ns: Nullspace, Bp: Float64Array, alpha: number, D: number) {
  const n = K.length;
  const { rows: r, n: F, basis } = ns;
  if (r === 0) return null;
  const keys = new Float64Array(n * F);
  K.forEach((k, j) => keys.set(k, j * F));
  const Y = project(ns, keys, n);
  const M = Float64Array.from(Bp);
  addGram(M, Y, r, n);
  for (let i = 0; i < r; i++) M[i * r + i] += alpha;
  // lower triangle is all the factorisations read
  if (r > BLOCKED_CHOLESKY_MIN) await choleskyBlockedInPlace(M, r);
  else choleskyInPlace(M, r);
  const X = choleskySolve(M, r, Y, n); // [r, n]
  const Vt = new Float32Array(n * F);
  for (let j = 0; j < n; j++) {
    const out = new Float64Array(F);
    for (let i = 0; i < r; i++) {
      const x = X[i * n + j];
      if (x === 0) continue;
      const u = basis.subarray(i * F, i * F + F);
      for (let a = 0; a < F; a++) out[a] += x * u[a];
    }
    Vt.set(out, j * F);
  }
  const Ut = new Float32Array(n * D);
  R.forEach((row, j) => Ut.set(row, j * D));
  return { Ut, Vt };
}

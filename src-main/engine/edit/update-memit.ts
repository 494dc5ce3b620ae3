// MEMIT's per-layer update (memit/memit_main.py `execute_memit`: `adj_k = solve(mom2_update_weight·C +
// layer_ks @ layer_ks.T, layer_ks)`, `upd_matrix = resid @ adj_k.T`), by Woodbury on the cached factor of C.
import { cholesky, choleskySolve } from './linalg';

/**
 * MEMIT's per-layer update ΔW = R Aᵀ with A = (λC + K Kᵀ)⁻¹ K, returned as factors
 * Ut = Rᵀ [n, d], Vt = Aᵀ [n, d_ff]. K: n keys (d_ff), R: n residuals (d). `LC` is the cached
 * Cholesky factor of C: by Woodbury A = (λC)⁻¹K (I + Kᵀ(λC)⁻¹K)⁻¹, so each batch costs two
 * triangular solves and an n × n system instead of a fresh d_ff³ factorisation.
 */
export function memitLayerUpdate(K: Float64Array[], R: Float64Array[], LC: Float64Array, lambda: number, F: number, D: number) {
  const n = K.length;
  const Kmat = new Float64Array(F * n);
  K.forEach((k, j) => k.forEach((v, a) => (Kmat[a * n + j] = v)));
  const Y = choleskySolve(LC, F, Kmat, n); // C⁻¹K [F, n]
  for (let i = 0; i < Y.length; i++) Y[i] /= lambda;
  const G = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 1 : 0;
      for (let a = 0; a < F; a++) s += Kmat[a * n + i] * Y[a * n + j];
      G[i * n + j] = s;
    }
  // Aᵀ = G⁻¹ (Y/λ)ᵀ, G symmetric positive definite
  const Yt = new Float64Array(n * F);
  for (let a = 0; a < F; a++) for (let j = 0; j < n; j++) Yt[j * F + a] = Y[a * n + j];
  const At = choleskySolve(cholesky(G, n), n, Yt, F);
  const Ut = new Float32Array(n * D);
  for (let j = 0; j < n; j++) for (let k = 0; k < D; k++) Ut[j * D + k] = R[j][k];
  return { Ut, Vt: Float32Array.from(At) };
}

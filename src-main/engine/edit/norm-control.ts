// NAS's norm control of the solved z (SasyaTitech/NAS compute_z.py `scale_vector_to_norm`): v* = v0 + z
// rescaled to the norm of v0, applied after the z optimisation when the profile asks for it.
import { EacError } from '../errors';

/**
 * NAS-style norm control (SasyaTitech/NAS compute_z.py, `scale_vector_to_norm`): the solved value
 * vector v0 + z (the MLP output at the subject's last token) rescaled to ‖v0‖, its norm before this
 * edit, or to `targetNorm` (NAS's anchor, normControl 'nas-anchor'); returns the z that gives it and
 * ‖v0 + z‖ as solved. ‖v0‖ is not NAS's anchor: NAS scales v* to the mean norm of
 * *solved* v* = v0 + δ (MEMIT's δ over sampled CounterFact requests on the unedited model, the top 5 % of
 * norms dropped). ‖v0‖ leaves out δ, so this form shrinks every edit: on gpt2-world-a's first world-a
 * requests it scaled v* by 0.10–0.24 and EAC-AlphaEdit's z from 39–65 to 8–12 (README "Norm control").
 */
export function normControlledZ(v0: Float64Array, z: Float64Array, targetNorm?: number): { z: Float64Array; scale: number; vStarNorm: number } {
  let a = 0;
  let b = 0;
  for (let i = 0; i < v0.length; i++) {
    a += v0[i] * v0[i];
    b += (v0[i] + z[i]) ** 2;
  }
  const vStarNorm = Math.sqrt(b);
  if (!(b > 0)) return { z, scale: 1, vStarNorm };
  // targetNorm: NAS's anchor (normControl 'nas-anchor'); without it ‖v0‖ ('nas')
  const scale = (targetNorm ?? Math.sqrt(a)) / vStarNorm;
  return { z: Float64Array.from(z, (zi, i) => scale * (v0[i] + zi) - v0[i]), scale, vStarNorm };
}

/**
 * NAS's anchor from solved ‖v0 + z‖ of the unedited model: the mean after dropping the largest
 * ⌊(1 − upperQuantile)·n⌋ norms (NAS `_upper_trimmed_mean`, upper quantile 0.95), so a few
 * requests that needed an outsized z do not set the norm every edit is scaled to.
 */
export function nasAnchorOf(norms: number[], upperQuantile = 0.95): { anchor: number; rawMean: number; dropped: number } {
  if (norms.length === 0 || !norms.every(Number.isFinite)) throw new EacError('bad_params', `NAS anchor: needs at least one finite norm, got ${norms.length ? norms.join(', ') : 'none'}`);
  const sorted = [...norms].sort((a, b) => a - b);
  const dropped = Math.floor((1 - upperQuantile) * sorted.length + 1e-9);
  const kept = sorted.slice(0, sorted.length - dropped);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return { anchor: mean(kept), rawMean: mean(sorted), dropped };
}

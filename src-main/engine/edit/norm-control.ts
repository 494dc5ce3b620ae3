// NAS's norm control of the solved z (SasyaTitech/NAS compute_z.py `scale_vector_to_norm`): v* = v0 + z
// rescaled to the norm of v0, applied after the z optimisation when the profile asks for it.

/**
 * NAS-style norm control (SasyaTitech/NAS compute_z.py, `scale_vector_to_norm`): the solved value
 * vector v0 + z (the MLP output at the subject's last token) rescaled to ‖v0‖, its norm before this
 * edit; returns the z that gives it. This is not NAS's anchor: NAS scales v* to the mean norm of
 * *solved* v* = v0 + δ (MEMIT's δ over sampled CounterFact requests on the unedited model, the top 5 % of
 * norms dropped). ‖v0‖ leaves out δ, so this form shrinks every edit: on gpt2-world-a's first world-a
 * requests it scaled v* by 0.10–0.24 and EAC-AlphaEdit's z from 39–65 to 8–12 (README "Norm control").
 */
export function normControlledZ(v0: Float64Array, z: Float64Array): { z: Float64Array; scale: number } {
  let a = 0;
  let b = 0;
  for (let i = 0; i < v0.length; i++) {
    a += v0[i] * v0[i];
    b += (v0[i] + z[i]) ** 2;
  }
  if (!(b > 0)) return { z, scale: 1 };
  const scale = Math.sqrt(a / b);
  return { z: Float64Array.from(z, (zi, i) => scale * (v0[i] + zi) - v0[i]), scale };
}

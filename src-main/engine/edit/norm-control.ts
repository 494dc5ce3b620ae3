// NAS's norm control of the solved z (SasyaTitech/NAS compute_z.py `scale_vector_to_norm`): v* = v0 + z
// rescaled to the norm of v0, applied after the z optimisation when the profile asks for it.

/**
 * NAS-style norm control (SasyaTitech/NAS compute_z.py, `scale_vector_to_norm`): the solved value
 * vector v0 + z (the MLP output at the subject's last token) rescaled to ‖v0‖, its norm before this
 * edit; returns the z that gives it. (NAS scales to a mean v* norm of the unedited model; the norm
 * at the position itself needs no extra statistics and is the same where the model is unedited.)
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

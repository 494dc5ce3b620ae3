// u and ROME's rank-one update (ROME rome/compute_u.py `compute_u` — u = C⁻¹k* — and
// rome/rome_main.py `execute_rome`, whose `right_vector` is rome/compute_v.py's (v* − W k)/(kᵀu)).
import { choleskySolve } from './linalg';

function dotv(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * ROME's rank-one update ΔW = right ⊗ u with u = C⁻¹k* / ‖C⁻¹k*‖ and right = z/(k_curᵀu), so that
 * ΔW k_cur = z: the edited MLP maps the subject's key at the plain prompt to v* = v + z.
 * `L` is the Cholesky factor of C (d_ff × d_ff); null means no C⁻¹ (ROME compute_u with
 * `mom2_adjustment: false`, u = k* / ‖k*‖, as the EAC authors' and EasyEdit's ROME configs run).
 */
export function romeUpdate(L: Float64Array | null, F: number, kStar: Float64Array, kCur: Float64Array, z: Float64Array) {
  const u = L ? choleskySolve(L, F, kStar, 1) : Float64Array.from(kStar);
  const un = Math.sqrt(dotv(u, u));
  for (let i = 0; i < F; i++) u[i] /= un;
  // ROME compute_v: right = (v* − W k)/(kᵀu) at the plain prompt, and v* − W k = z there
  const denom = dotv(kCur, u);
  return { Ut: Float32Array.from(z, (zi) => zi / denom), Vt: Float32Array.from(u), denom };
}

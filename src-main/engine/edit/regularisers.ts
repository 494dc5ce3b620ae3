// The regularisers added to the z loss: ROME/MEMIT weight decay on z (rome/compute_v.py
// `weight_decay = v_weight_decay * (torch.norm(delta) / torch.norm(target_init) ** 2)`) and EAC's
// scored elastic net over the anchors (paper §3, λ Σ αᵢ|zᵢ| + μ‖z‖²).
import type { ElasticNetForm, WeightDecayForm } from './profile';

/** ‖x‖ as a plain sum of squares, the form the z loop has always used (linalg.ts norm rescales against overflow, so it can differ in the last bits). */
export function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

export interface Term {
  value: number;
  grad: Float64Array;
}

/**
 * ROME/MEMIT weight decay on z (ROME compute_v, MEMIT compute_z: `v_weight_decay * norm(delta) /
 * norm(target_init)**2`): 'norm' = wd·‖z‖/‖v‖², gradient wd·z/(‖z‖‖v‖²), 0 at z = 0 as torch's norm
 * backward gives; 'squared' = wd·‖z‖²/‖v‖² (earlier form).
 */
export function weightDecayTerm(z: ArrayLike<number>, vNorm2: number, wd: number, form: WeightDecayForm): Term {
  const zn = norm(z);
  const grad = new Float64Array(z.length);
  if (form === 'squared') {
    for (let i = 0; i < z.length; i++) grad[i] = (2 * wd * z[i]) / vNorm2;
    return { value: (wd * zn * zn) / vNorm2, grad };
  }
  if (zn > 0) for (let i = 0; i < z.length; i++) grad[i] = (wd * z[i]) / (zn * vNorm2);
  return { value: (wd * zn) / vNorm2, grad };
}

/**
 * The scored elastic net over the anchors (see ElasticNetForm): L1 weighted by αᵢ = 1/(|scoreᵢ| + ε)
 * (d|z|/dz = sign z, 0 at 0 as torch's abs backward), plus μ‖z‖² ('paper') or μ‖z‖²/‖v‖² ('previous').
 */
export function elasticNetTerm(z: ArrayLike<number>, mask: Uint8Array, alpha: Float64Array, form: ElasticNetForm, lambda: number, mu: number, vNorm2: number): Term {
  const grad = new Float64Array(z.length);
  let value = 0;
  if (form === 'off') return { value, grad };
  const l2 = form === 'paper' ? mu : form === 'previous' ? mu / vNorm2 : 0;
  for (let i = 0; i < z.length; i++) {
    if (!mask[i]) continue;
    value += lambda * alpha[i] * Math.abs(z[i]) + l2 * z[i] * z[i];
    grad[i] = lambda * alpha[i] * Math.sign(z[i]) + 2 * l2 * z[i];
  }
  return { value, grad };
}

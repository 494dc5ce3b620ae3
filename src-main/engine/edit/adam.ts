// Adam (torch.optim.Adam with its default betas and eps, as ROME compute_v / MEMIT compute_z build
// `opt = torch.optim.Adam([delta], lr=v_lr)`), optionally masked to EAC's anchors: the optimiser of
// the z loop (vstar.ts) and of FT (methods.ts).

export interface AdamState {
  m: Float64Array;
  v: Float64Array;
  t: number;
}

export function adamStep(x: Float64Array, grad: Float64Array, s: AdamState, lr: number, mask?: Uint8Array): void {
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  s.t++;
  const c1 = 1 - b1 ** s.t;
  const c2 = 1 - b2 ** s.t;
  for (let i = 0; i < x.length; i++) {
    if (mask && !mask[i]) continue;
    s.m[i] = b1 * s.m[i] + (1 - b1) * grad[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * grad[i] * grad[i];
    x[i] -= (lr * (s.m[i] / c1)) / (Math.sqrt(s.v[i] / c2) + eps);
  }
}

// EAC's anchors (paper §3; EAC repository compute_v.py / compute_z.py): the saliency score of each
// dimension of z after the first stage (`score = abs(mean(stack(grads_list)) * delta)`) and the
// anchors kept by rank or percentile γ (`torch.topk(score, ...)`), the rest zeroed for retraining.
import type { AnchorRule, EacParams } from './profile';
import { internalError } from '../errors';

/**
 * Anchors from |score|. percentile: |score| ≥ γ, γ the value-th percentile with linear
 * interpolation as numpy.percentile (paper §3). top_fraction: exactly max(⌊value·n⌋, 1) dimensions
 * of largest |score|, as `torch.topk(score, max(int(len(score) * 0.2), 1))` in the authors' code
 * (ties broken by the lower index). Either way at least min(minAnchors, n) dimensions are kept
 * (the largest |score| first): anchors = max(⌊ratio·d⌋, minAnchors). γ is the smallest kept |score|.
 */
export function anchorMask(score: Float64Array, t: AnchorRule, minAnchors = 0): { mask: Uint8Array; gamma: number } {
  const n = score.length;
  const mask = new Uint8Array(n);
  const order = [...score.keys()].sort((a, b) => Math.abs(score[b]) - Math.abs(score[a]) || a - b);
  let keep: number;
  if (t.mode === 'percentile') {
    const mags = Array.from(score, Math.abs).sort((a, b) => a - b);
    const pos = (t.value / 100) * (n - 1);
    const lo = Math.floor(pos);
    const gamma = mags[lo] + (mags[Math.min(lo + 1, n - 1)] - mags[lo]) * (pos - lo);
    let count = 0;
    for (let i = 0; i < n; i++) count += Math.abs(score[i]) >= gamma ? 1 : 0;
    if (count >= Math.min(minAnchors, n)) {
      for (let i = 0; i < n; i++) mask[i] = Math.abs(score[i]) >= gamma ? 1 : 0;
      return { mask, gamma };
    }
    keep = Math.min(minAnchors, n);
  } else {
    keep = Math.min(n, Math.max(1, Math.floor(t.value * n + 1e-9), minAnchors));
  }
  for (const i of order.slice(0, keep)) mask[i] = 1;
  return { mask, gamma: Math.abs(score[order[keep - 1]]) };
}

/**
 * The saliency score of every dimension after stage 1.
 * 'mean-grad': |mean of the recorded gradients ⊙ z| (authors' code: `score = abs(mean(stack(grads_list)) * delta)`,
 * gradients of the whole loss, weight decay included, taken before each Adam step; no gradient
 * recorded (stage 1 stopped at once) → |z| as there). 'step' / 'value': z ⊙ ∇L or (v + z) ⊙ ∇L with
 * ∇L the model loss gradient at the end of stage 1.
 */
export function saliencyScore(kind: EacParams['saliency'], z: Float64Array, v: Float64Array, grads: Float64Array[], gradNow: Float64Array | null): Float64Array {
  if (kind === 'mean-grad') {
    if (!grads.length) return Float64Array.from(z, Math.abs);
    const m = new Float64Array(z.length);
    for (const g of grads) for (let i = 0; i < m.length; i++) m[i] += g[i] / grads.length;
    return Float64Array.from(z, (zi, i) => Math.abs(m[i] * zi));
  }
  if (!gradNow) throw internalError(`saliency "${kind}" needs the gradient at the end of stage 1`);
  return Float64Array.from(z, (zi, i) => (kind === 'value' ? v[i] + zi : zi) * gradNow[i]);
}

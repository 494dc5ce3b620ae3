// The regularisers added to the v* loss, each against float64 central differences of its own value.
import { describe, expect, it } from 'vitest';
import { elasticNetTerm, weightDecayTerm, type Term } from '../../src-main/engine/edit/regularisers';
import type { ElasticNetForm, WeightDecayForm } from '../../src-main/engine/edit/profile';
import { rng } from './gradcheck';

/** worst relative error of `f`'s gradient against (f(x+h) − f(x−h)) / 2h over every coordinate */
function fdCheck(f: (x: Float64Array) => Term, x: Float64Array, h = 1e-6): number {
  const { grad } = f(x);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const p = Float64Array.from(x);
    p[i] += h;
    const m = Float64Array.from(x);
    m[i] -= h;
    const fd = (f(p).value - f(m).value) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(1e-6, Math.abs(fd)));
  }
  return worst;
}

const r = rng(5);
// entries kept away from 0, where |z| has its kink
const z = Float64Array.from({ length: 32 }, () => {
  const v = r() * 4;
  return v + Math.sign(v || 1) * 0.1;
});
const vNorm2 = 7.3;

describe('weight decay gradients match float64 finite differences', () => {
  for (const form of ['norm', 'squared'] as WeightDecayForm[])
    it(form, () => {
      expect(fdCheck((x) => weightDecayTerm(x, vNorm2, 0.5, form), z)).toBeLessThan(1e-7);
    });

  it("'norm' is ROME's wd·‖z‖/‖v‖² (not its square) and has gradient 0 at z = 0 as torch's norm backward", () => {
    const n = Math.hypot(...z);
    expect(weightDecayTerm(z, vNorm2, 0.5, 'norm').value).toBeCloseTo((0.5 * n) / vNorm2, 12);
    expect(weightDecayTerm(z, vNorm2, 0.5, 'squared').value).toBeCloseTo((0.5 * n * n) / vNorm2, 12);
    const at0 = weightDecayTerm(new Float64Array(4), vNorm2, 0.5, 'norm');
    expect([...at0.grad]).toEqual([0, 0, 0, 0]);
  });
});

describe('elastic net gradients match float64 finite differences', () => {
  const mask = Uint8Array.from(z, (_, i) => (i % 3 === 0 ? 0 : 1));
  const alpha = Float64Array.from(z, () => 1 / (Math.abs(r()) + 1e-6));
  for (const form of ['scored-l1', 'paper', 'previous'] as ElasticNetForm[])
    it(form, () => {
      // λ large enough that the L1 part matters next to μ
      expect(fdCheck((x) => elasticNetTerm(x, mask, alpha, form, 1e-2, 0.5, vNorm2), z)).toBeLessThan(1e-7);
    });

  it('the forms differ only in their L2 term; off adds nothing; masked dimensions never count', () => {
    const l1 = z.reduce((a, v, i) => a + (mask[i] ? 1e-2 * alpha[i] * Math.abs(v) : 0), 0);
    const l2 = z.reduce((a, v, i) => a + (mask[i] ? v * v : 0), 0);
    expect(elasticNetTerm(z, mask, alpha, 'scored-l1', 1e-2, 0.5, vNorm2).value).toBeCloseTo(l1, 10);
    expect(elasticNetTerm(z, mask, alpha, 'paper', 1e-2, 0.5, vNorm2).value).toBeCloseTo(l1 + 0.5 * l2, 10);
    expect(elasticNetTerm(z, mask, alpha, 'previous', 1e-2, 0.5, vNorm2).value).toBeCloseTo(l1 + (0.5 * l2) / vNorm2, 10);
    const off = elasticNetTerm(z, mask, alpha, 'off', 1e-2, 0.5, vNorm2);
    expect(off.value).toBe(0);
    expect(off.grad.every((g) => g === 0)).toBe(true);
    const g = elasticNetTerm(z, mask, alpha, 'paper', 1e-2, 0.5, vNorm2).grad;
    for (let i = 0; i < z.length; i++) if (!mask[i]) expect(g[i]).toBe(0);
  });
});

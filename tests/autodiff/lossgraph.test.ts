import { describe, expect, it } from 'vitest';
import { LossProblem } from '../../src-main/engine/edit/problem';
import { buildEditPrompts } from '../../src-main/engine/edit/prompts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { rng } from './gradcheck';
import { F64_U, forwardDepth } from '../tolerance';

/**
 * How far a float64 central difference may be from the exact derivative through rounding alone: each loss
 * evaluation is within ε_f = u64·forwardDepth·|loss| of exact (the probabilistic model of tests/tolerance.ts,
 * at the longest sequence the model takes; the loss terms are non-negative so |loss| is their scale), and
 * (L(z+h) − L(z−h)) / 2h is then within 2ε_f / 2h = ε_f / h. This is the part the CPU's DGEMM and elementwise
 * kernels change; the truncation part (h²/6·f''', a property of the function) gets the relative 1e-5.
 */
function fdRounding(model: LoadedModel, loss: number, h: number): number {
  return (F64_U * forwardDepth(model.cfg, model.cfg.maxPositions) * Math.abs(loss)) / h;
}

import { FIXTURES } from '../shared';
const request = {
  caseId: 'gc',
  prompt: '{} plays the sport of',
  subject: 'Touthbes Sundslyvshux',
  targetNew: 'archery',
  rephrase: [],
  locality: [],
};

describe('whole ∂L/∂z and ∂L/∂dW graphs match float64 central differences', () => {
  for (const fixture of ['gpt2-world-a', 'llama-world-a']) {
    it(`${fixture}: z at layer 2 (NLL + KL)`, async () => {
      const model = LoadedModel.open(`${FIXTURES}/${fixture}`);
      const set = buildEditPrompts(model, request, ['{}', 'The city is old. {}']);
      const p = await LossProblem.create(model, 2, set.rewrite, set.kl, set.rewrite.map(() => set.targetIds), {
        dtype: 'float64',
        klFactor: 0.5,
      });
      const r = rng(3);
      const z = Float64Array.from({ length: model.cfg.hidden }, () => r() * 4);
      const base = await p.evaluate(z);
      expect(base.kl).toBeGreaterThan(0);
      const h = 1e-5;
      const rounding = fdRounding(model, base.loss, h);
      for (const i of [0, 1, 17, 64, 100, 150, 191]) {
        const zp = Float64Array.from(z);
        zp[i] += h;
        const zm = Float64Array.from(z);
        zm[i] -= h;
        const fd = ((await p.evaluate(zp)).loss - (await p.evaluate(zm)).loss) / (2 * h);
        expect(Math.abs(fd - base.grad[i])).toBeLessThan(1e-5 * Math.abs(fd) + rounding);
      }
      await model.release();
    });
  }
  it('gpt2-world-a: dense dW at layer 2 (FT)', async () => {
    const model = LoadedModel.open(`${FIXTURES}/gpt2-world-a`);
    const set = buildEditPrompts(model, request, ['{}']);
    const p = await LossProblem.create(model, 2, set.rewrite, set.kl, [set.targetIds], { dtype: 'float64', klFactor: 0, perturbation: 'dW' });
    const r = rng(5);
    const dW = Float64Array.from({ length: p.paramSize() }, () => r() * 0.01);
    const base = await p.evaluate(dW);
    const h = 1e-6;
    const rounding = fdRounding(model, base.loss, h);
    for (const i of [0, 999, 5000, 77777, p.paramSize() - 1]) {
      const a = Float64Array.from(dW);
      a[i] += h;
      const b = Float64Array.from(dW);
      b[i] -= h;
      const fd = ((await p.evaluate(a)).loss - (await p.evaluate(b)).loss) / (2 * h);
      expect(Math.abs(fd - base.grad[i])).toBeLessThan(1e-4 * Math.abs(fd) + rounding);
    }
    await model.release();
  });
});

describe('the evaluation at z = 0 kept from the KL-reference run', () => {
  it.each(['gpt2-world-a', 'llama-world-a'])('%s: equals a fresh evaluation at (effectively) zero, and KL still counts elsewhere', async (fixture) => {
    const model = LoadedModel.open(`${FIXTURES}/${fixture}`);
    const set = buildEditPrompts(model, request, ['{}', 'The city is old. {}']);
    const p = await LossProblem.create(model, 2, set.rewrite, set.kl, set.rewrite.map(() => set.targetIds), { dtype: 'float64', klFactor: 0.5 });
    const kept = await p.evaluate(new Float64Array(model.cfg.hidden));
    // 1e-300 is not zero for the cache but adds nothing to a float64 residual: a real run at zero
    // with the true KL reference
    const tiny = new Float64Array(model.cfg.hidden);
    tiny[0] = 1e-300;
    const fresh = await p.evaluate(tiny);
    expect(kept.kl).toBe(0);
    // Two float64 routes to the same values (the reference run's graph, a fresh evaluation), each within
    // u64·forwardDepth of its magnitude (tests/tolerance.ts): twice that between them. KL of two equal
    // distributions is 0 up to the rounding of the log-probabilities, of the size of the NLL.
    const f64 = 2 * F64_U * forwardDepth(model.cfg, model.cfg.maxPositions);
    expect(Math.abs(fresh.kl)).toBeLessThan(f64 * Math.abs(fresh.nll));
    expect(Math.abs(kept.nll - fresh.nll)).toBeLessThan(f64 * Math.abs(fresh.nll));
    expect(Math.abs(kept.loss - fresh.loss)).toBeLessThan(f64 * Math.abs(fresh.loss));
    let worst = 0;
    for (let i = 0; i < kept.grad.length; i++) worst = Math.max(worst, Math.abs(kept.grad[i] - fresh.grad[i]));
    expect(worst).toBeLessThan(f64 * Math.max(...fresh.grad.map(Math.abs)));
    expect(Math.max(...kept.grad.map(Math.abs))).toBeGreaterThan(1e-6);
    // the KL weight was restored after the reference run
    const z = Float64Array.from({ length: model.cfg.hidden }, (_, i) => Math.sin(i) * 2);
    expect((await p.evaluate(z)).kl).toBeGreaterThan(0);
    await model.release();
  });
});

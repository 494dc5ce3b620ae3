import { describe, expect, it } from 'vitest';
import { LossProblem } from '../../src-main/engine/edit/problem';
import { buildEditPrompts } from '../../src-main/engine/edit/prompts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { rng } from './gradcheck';

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
      let worst = 0;
      for (const i of [0, 1, 17, 64, 100, 150, 191]) {
        const zp = Float64Array.from(z);
        zp[i] += h;
        const zm = Float64Array.from(z);
        zm[i] -= h;
        const fd = ((await p.evaluate(zp)).loss - (await p.evaluate(zm)).loss) / (2 * h);
        worst = Math.max(worst, Math.abs(fd - base.grad[i]) / Math.max(1e-4, Math.abs(fd)));
      }
      expect(worst).toBeLessThan(1e-5);
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
    let worst = 0;
    for (const i of [0, 999, 5000, 77777, p.paramSize() - 1]) {
      const a = Float64Array.from(dW);
      a[i] += h;
      const b = Float64Array.from(dW);
      b[i] -= h;
      const fd = ((await p.evaluate(a)).loss - (await p.evaluate(b)).loss) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - base.grad[i]) / Math.max(1e-4, Math.abs(fd)));
    }
    expect(worst).toBeLessThan(1e-4);
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
    expect(Math.abs(fresh.kl)).toBeLessThan(1e-12);
    expect(kept.nll).toBeCloseTo(fresh.nll, 12);
    expect(kept.loss).toBeCloseTo(fresh.loss, 12);
    let worst = 0;
    for (let i = 0; i < kept.grad.length; i++) worst = Math.max(worst, Math.abs(kept.grad[i] - fresh.grad[i]));
    expect(worst).toBeLessThan(1e-10);
    expect(Math.max(...kept.grad.map(Math.abs))).toBeGreaterThan(1e-6);
    // the KL weight was restored after the reference run
    const z = Float64Array.from({ length: model.cfg.hidden }, (_, i) => Math.sin(i) * 2);
    expect((await p.evaluate(z)).kl).toBeGreaterThan(0);
    await model.release();
  });
});

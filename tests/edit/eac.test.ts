// EAC's optimisation as the authors' code does it, checked against gradients recorded step by step on
// a small differentiable toy problem (no model: the loss and its gradient are known in closed form,
// so every recorded gradient, the saliency score, the anchors and the retraining gradient can be
// recomputed here independently of optimiseZ).
import { describe, expect, it } from 'vitest';
import type { LossProblem } from '../../src-main/engine/edit/problem';
import { EAC_METHOD_DEFAULTS, type EacParams, type VStarParams } from '../../src-main/engine/edit/profile';
import { eacRun, optimiseZ } from '../../src-main/engine/edit/vstar';
import { rng } from '../autodiff/gradcheck';

const D = 24;
const r = rng(11);
const target = Float64Array.from({ length: D }, () => r() * 6);
const curv = Float64Array.from({ length: D }, () => 0.2 + Math.abs(r()) * 2);

/** L(z) = Σ cᵢ (zᵢ − tᵢ)² / 2 + log(1 + Σ zᵢ²/100): a curved loss whose minimum is not at 0 */
function toyLoss(z: ArrayLike<number>) {
  let q = 0;
  let s = 0;
  for (let i = 0; i < D; i++) {
    q += (curv[i] * (z[i] - target[i]) ** 2) / 2;
    s += z[i] * z[i];
  }
  const grad = Float64Array.from({ length: D }, (_, i) => curv[i] * (z[i] - target[i]) + (2 * z[i]) / 100 / (1 + s / 100));
  return { loss: q + Math.log(1 + s / 100), grad };
}

const toy = {
  paramSize: () => D,
  evaluate: async (z: ArrayLike<number>) => {
    const { loss, grad } = toyLoss(z);
    return { loss, nll: loss, kl: 0, grad, targetProb: Math.exp(-loss), klLogp: new Float32Array(0) };
  },
} as unknown as LossProblem;

const ref = Float64Array.from({ length: D }, () => 1 + Math.abs(r()));
const refNorm2 = ref.reduce((a, v) => a + v * v, 0);
const hp: VStarParams = { vLr: 0.3, vSteps: 30, klFactor: 0, weightDecay: 0.5, clampNormFactor: 100, weightDecayForm: 'norm', klDirection: 'edited-original', klPosition: 'subject-last' };

function eac(method: 'rome' | 'memit', patch: Partial<EacParams['rome']> = {}, lambda = 5e-7): EacParams {
  // the authors' code exactly: no anchor floor, stage 1 of exactly scoreStep steps
  const authors = (m: 'rome' | 'memit') => ({ ...EAC_METHOD_DEFAULTS[m], minAnchors: 0 });
  return { saliency: 'mean-grad', scoreStep: 10, stage1Floor: 'none', lambda, mu: 0, eps: 1e-6, rome: authors('rome'), memit: authors('memit'), [method]: { ...authors(method), ...patch } };
}

async function recorded(params: EacParams, method: 'rome' | 'memit') {
  const steps: { phase: string; grad: Float64Array; z: Float64Array }[] = [];
  const res = await optimiseZ(toy, ref, hp, eacRun(params, method), { onGrad: (phase, _s, grad, z) => steps.push({ phase, grad: Float64Array.from(grad), z: Float64Array.from(z) }) });
  return { res, steps };
}

const norm = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((a, v) => a + v * v, 0));

describe('EAC saliency: |mean over stage-1 gradients ⊙ z| (authors\' compute_v / compute_z)', () => {
  it('every recorded stage-1 gradient is ∇L + ∇(wd·‖z‖/‖v‖²) at the z it was taken at, and there are scoreStep of them', async () => {
    const { steps } = await recorded(eac('rome'), 'rome');
    const stage1 = steps.filter((s) => s.phase === 'optimise');
    expect(stage1).toHaveLength(10);
    for (const s of stage1) {
      const { grad } = toyLoss(s.z);
      const zn = norm(s.z);
      for (let i = 0; i < D; i++) expect(s.grad[i]).toBeCloseTo(grad[i] + (zn > 0 ? (0.5 * s.z[i]) / (zn * refNorm2) : 0), 10);
    }
  });

  it('the anchors are the top 20 % of |mean(recorded gradients) ⊙ z after stage 1| and retraining starts from those stage-1 values', async () => {
    // with every dimension kept, retraining starts at the full stage-1 z: read z₁ from there
    const all = await recorded(eac('rome', { anchors: { mode: 'top_fraction', value: 1 } }), 'rome');
    const z1 = all.steps.find((s) => s.phase === 'retrain')!.z;
    const stage1 = all.steps.filter((s) => s.phase === 'optimise');
    const meanGrad = Float64Array.from({ length: D }, (_, i) => stage1.reduce((a, s) => a + s.grad[i], 0) / stage1.length);
    const score = Float64Array.from(z1, (zi, i) => Math.abs(meanGrad[i] * zi));
    const top = [...score.keys()].sort((a, b) => score[b] - score[a]).slice(0, Math.floor(0.2 * D));

    // the same (deterministic) stage 1, now keeping the authors' 20 %
    const { res, steps } = await recorded(eac('rome'), 'rome');
    expect(res.anchors!.count).toBe(Math.floor(0.2 * D));
    expect([...res.anchors!.indices].sort((a, b) => a - b)).toEqual([...top].sort((a, b) => a - b));
    // the single late gradient (the earlier 'step' score) would rank differently on this problem
    const late = toyLoss(z1).grad;
    const stepScore = Float64Array.from(z1, (zi, i) => Math.abs(late[i] * zi));
    const stepTop = [...stepScore.keys()].sort((a, b) => stepScore[b] - stepScore[a]).slice(0, top.length);
    expect(new Set(stepTop)).not.toEqual(new Set(top));
    const start = steps.find((s) => s.phase === 'retrain')!.z;
    for (let i = 0; i < D; i++) expect(start[i]).toBe(res.anchors!.indices.includes(i) ? z1[i] : 0);
    // ROME's retraining leaves the elastic net out of the loss: its gradient is ∇L + ∇wd only
    for (const s of steps.filter((x) => x.phase === 'retrain')) {
      const { grad } = toyLoss(s.z);
      const zn = norm(s.z);
      for (const i of res.anchors!.indices) expect(s.grad[i]).toBeCloseTo(grad[i] + (0.5 * s.z[i]) / (zn * refNorm2), 10);
    }
    // only anchors ever move after scoring
    for (let i = 0; i < D; i++) if (!res.anchors!.indices.includes(i)) expect(res.z[i]).toBe(0);
  });

  it('MEMIT: top 5 %, retraining from 0 for 15 steps with λ Σ |z| / (|score| + 1e-6) in the gradient', async () => {
    const lambda = 1e-2; // large enough to see in the gradient
    const all = await recorded(eac('memit', { anchors: { mode: 'top_fraction', value: 1 }, retrainFrom: 'stage1' }, lambda), 'memit');
    const z1 = all.steps.find((s) => s.phase === 'retrain')!.z;
    const stage1 = all.steps.filter((s) => s.phase === 'optimise');
    const score = Float64Array.from(z1, (zi, i) => Math.abs((stage1.reduce((a, s) => a + s.grad[i], 0) / stage1.length) * zi));

    const { res, steps } = await recorded(eac('memit', {}, lambda), 'memit');
    const keep = Math.max(1, Math.floor(0.05 * D));
    expect(res.anchors!.count).toBe(keep);
    const retrain = steps.filter((s) => s.phase === 'retrain');
    expect(retrain).toHaveLength(15);
    expect([...retrain[0].z].every((v) => v === 0)).toBe(true);
    for (const s of retrain.slice(1)) {
      const { grad } = toyLoss(s.z);
      const zn = norm(s.z);
      for (const i of res.anchors!.indices) {
        const expected = grad[i] + (0.5 * s.z[i]) / (zn * refNorm2) + (lambda * Math.sign(s.z[i])) / (score[i] + 1e-6);
        expect(s.grad[i]).toBeCloseTo(expected, 8);
      }
    }
  });
});

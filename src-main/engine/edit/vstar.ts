// z, the v* optimisation (ROME rome/compute_v.py `compute_v` — `delta` added to `target_init` —
// and MEMIT memit/compute_z.py `compute_z`) with the EAC variant of the authors' code (EAC
// repository, the same files): a first stage of `scoreStep` Adam steps, the saliency score and
// anchors (anchors.ts), the rest zeroed, and a retraining stage on the anchors only with the
// elastic net (regularisers.ts). Re-derived from those files, not copied.
import { cancelledError } from '../errors';
import type { EacMethodParams, EacParams, VStarParams } from './profile';
import type { LossProblem } from './problem';
import { adamStep, type AdamState } from './adam';
import { anchorMask, saliencyScore } from './anchors';
import { elasticNetTerm, norm, weightDecayTerm, type Term } from './regularisers';

export interface VStarTrace {
  step: number;
  phase: 'optimise' | 'retrain';
  loss: number;
  nll: number;
  kl: number;
  reg: number;
  targetProb: number;
  zNorm: number;
}

export interface VStarResult {
  z: Float64Array;
  vInit: Float64Array;
  trace: VStarTrace[];
  anchors?: { count: number; of: number; gamma: number; indices: number[] };
}

/** EAC's settings for one method: the shared ones plus that method's anchors, elastic net and retraining. */
export type EacRun = Omit<EacParams, 'rome' | 'memit'> & EacMethodParams;

export function eacRun(eac: EacParams, method: 'rome' | 'memit'): EacRun {
  const { rome: _r, memit: _m, ...shared } = eac;
  return { ...shared, ...eac[method] };
}

/** test hook: sees every gradient the optimiser is given, with its step and phase */
export type GradHook = (phase: 'optimise' | 'retrain', step: number, grad: Float64Array, z: Float64Array) => void;

/**
 * `ref` is the vector whose norm scales weight decay and the clamp (`target_init`): ROME uses the
 * MLP output v, MEMIT the residual stream at the z layer.
 */
export async function optimiseZ(
  problem: LossProblem,
  ref: Float64Array,
  hp: VStarParams,
  eac: EacRun | null,
  hooks: { onStep?: (step: number, total: number, phase: 'optimise' | 'retrain') => void; signal?: AbortSignal; onGrad?: GradHook } = {},
): Promise<VStarResult> {
  const D = problem.paramSize();
  let z = new Float64Array(D);
  const vNorm2 = Math.max(1e-12, norm(ref) ** 2);
  const maxNorm = hp.clampNormFactor * Math.sqrt(vNorm2);
  let st: AdamState = { m: new Float64Array(D), v: new Float64Array(D), t: 0 };
  const trace: VStarTrace[] = [];
  const clamp = () => {
    // project onto the ball ‖z‖ ≤ clamp_norm_factor·‖v‖ after each step (compute_v "Project within L2 ball")
    const zn = norm(z);
    if (zn > maxNorm) for (let i = 0; i < D; i++) z[i] *= maxNorm / zn;
  };
  /**
   * One optimisation stage as compute_v's loop: evaluate; stop when the loss < 5e-2 or at
   * `v_num_grad_steps − 1`; else Adam step (masked to the anchors) and clamp. `extra` adds a
   * regulariser to the loss. Returns the gradients that were stepped on.
   */
  const stage = async (phase: 'optimise' | 'retrain', steps: number, total: number, mask?: Uint8Array, extra?: (z: Float64Array) => Term) => {
    const grads: Float64Array[] = [];
    for (let it = 0; it < steps; it++) {
      if (hooks.signal?.aborted) throw cancelledError('edit cancelled', hooks.signal.reason);
      const ev = await problem.evaluate(z);
      const wd = weightDecayTerm(z, vNorm2, hp.weightDecay, hp.weightDecayForm);
      const ex = extra?.(z);
      const reg = wd.value + (ex?.value ?? 0);
      const g = Float64Array.from(ev.grad, (gi, i) => gi + wd.grad[i] + (ex ? ex.grad[i] : 0));
      trace.push({ step: trace.length, phase, loss: ev.loss + reg, nll: ev.nll, kl: ev.kl, reg, targetProb: ev.targetProb, zNorm: norm(z) });
      hooks.onStep?.(trace.length - 1, total, phase);
      if (ev.loss + reg < 5e-2) break;
      if (it === hp.vSteps - 1) break;
      hooks.onGrad?.(phase, it, g, z);
      grads.push(g);
      adamStep(z, g, st, hp.vLr, mask);
      clamp();
    }
    return grads;
  };

  if (!eac) {
    await stage('optimise', hp.vSteps, hp.vSteps);
    return { z, vInit: ref, trace };
  }
  // stage 1: authors' code runs `for it in range(10)` with the same stopping rules; with
  // stage1Floor 'base-steps' never fewer steps than the base method's own z optimisation
  const stage1 = eac.stage1Floor === 'base-steps' ? Math.max(eac.scoreStep, hp.vSteps) : eac.scoreStep;
  const total = stage1 + eac.retrainSteps;
  const grads = await stage('optimise', stage1, total);
  let gradNow: Float64Array | null = null;
  if (eac.saliency !== 'mean-grad') gradNow = (await problem.evaluate(z)).grad;
  const score = saliencyScore(eac.saliency, z, ref, grads, gradNow);
  const { mask, gamma } = anchorMask(score, eac.anchors, eac.minAnchors);
  const alpha = Float64Array.from(score, (s) => 1 / (Math.abs(s) + eac.eps));
  const indices = [...mask.keys()].filter((i) => mask[i]);
  // retraining: authors' ROME starts from the stage-1 values of the anchors, their MEMIT from a zero δ;
  // both build a new Adam over the anchors
  if (eac.retrainFrom === 'zero') z = new Float64Array(D);
  else for (let i = 0; i < D; i++) if (!mask[i]) z[i] = 0;
  if (eac.retrainAdam === 'fresh') st = { m: new Float64Array(D), v: new Float64Array(D), t: 0 };
  // authors' code: `kl_distr_init = None` before the retraining loop, recorded on its first pass
  if (eac.retrainKlReference === 'retrain-start' && hp.klFactor > 0) await problem.setKlReference(z);
  const en = (x: Float64Array) => elasticNetTerm(x, mask, alpha, eac.elasticNet, eac.lambda, eac.mu, vNorm2);
  await stage('retrain', eac.retrainSteps, total, mask, en);
  return { z, vInit: ref, trace, anchors: { count: indices.length, of: D, gamma, indices } };
}

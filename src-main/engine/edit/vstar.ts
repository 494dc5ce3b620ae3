// v* optimisation (ROME rome/compute_v.py / MEMIT memit/compute_z.py, function compute_v /
// compute_z) with the EAC variant of the authors' code (EAC repository, the same files): a first
// stage of `scoreStep` Adam steps, a saliency score per dimension, anchors kept by rank, the rest
// zeroed, and a retraining stage on the anchors only. Re-derived from those files, not copied.
import type { LoadedModel } from '../runtime/model';
import { seededRandom } from '../runtime/model';
import { cancelledError } from '../errors';
import type { AnchorRule, EacMethodParams, EacParams, ElasticNetForm, VStarParams, WeightDecayForm } from './profile';
import type { LossProblem } from './problem';
import { readTemplates, templatesPath, writeTemplates } from './templates-cache';


/**
 * ROME's context templates: "{}" plus short texts the model itself generates from a few seed
 * words (top-k 5 sampling, fixed seed so runs are reproducible). Kept on the model for this
 * process and, with `cacheDir`, on disk for later ones (templates-cache.ts).
 */
export async function contextTemplates(
  model: LoadedModel,
  lengths: [number, number][],
  seed: number,
  opts: { cacheDir?: string; lengthCounts?: 'new-tokens' | 'total' } = {},
): Promise<string[]> {
  const counts = opts.lengthCounts ?? 'new-tokens';
  const key = JSON.stringify([lengths, seed, counts]);
  // owned by the model (freed with it), not a module-level map
  const cache = model.caches.getOrCreate('vstar.contextTemplates', () => new Map<string, string[]>());
  const hit = cache.get(key);
  if (hit) return hit;
  const disk = opts.cacheDir ? await templatesPath(model, opts.cacheDir, lengths, seed, counts) : null;
  const stored = disk && readTemplates(disk.file, disk.key, 1 + typeSizes(lengths).reduce((a, b) => a + b, 0));
  if (stored) {
    cache.set(key, stored);
    return stored;
  }
  // always from the unedited model, so an edit does not depend on how many edits came before it in
  // this process (a resumed queue must reproduce an uninterrupted one bit for bit)
  const live = new Map(model.factors);
  model.factors.clear();
  let out: string[];
  try {
    out = await generateTemplates(model, lengths, seededRandom(seed), counts);
  } finally {
    for (const [l, f] of live) model.factors.set(l, f);
  }
  cache.set(key, out);
  if (disk) writeTemplates(disk.file, disk.key, lengths, seed, out);
  return out;
}

/** ROME's seed words (rome/rome_main.py get_context_templates). */
const SEED_WORDS = ['The', 'Therefore', 'Because', 'I', 'You'];

/** Generated rows per seed word for a [length, n] entry: n spread over the seed words, at least one. */
function rowsPerSeedWord(n: number): number {
  return Math.max(1, Math.floor(n / SEED_WORDS.length));
}

/** Templates each [length, n] entry yields (one context type each), in generation order. */
function typeSizes(lengths: [number, number][]): number[] {
  return lengths.map(([, n]) => rowsPerSeedWord(n) * SEED_WORDS.length);
}

/**
 * The text of one generated row: the seed word's ids and the generated ids decoded together, as
 * ROME's generate_fast decodes the whole sequence. Gluing the seed word to the decoded continuation
 * instead loses the space a SentencePiece tokenizer drops from the first piece it decodes
 * ("Thefavorite sport of …" on LLaMA).
 */
export function templateText(model: LoadedModel, seedIds: number[], generated: number[]): string {
  return model.tok.decode([...seedIds, ...generated], true).replace(/[{}]/g, ' ').replace(/\s+/g, ' ').trim() + '. {}';
}

async function generateTemplates(model: LoadedModel, lengths: [number, number][], rand: () => number, counts: 'new-tokens' | 'total'): Promise<string[]> {
  const starts = SEED_WORDS;
  const out = ['{}'];
  const seedIds = starts.map((s) => model.encode(s));
  // ROME's generate_fast stops when the padded sequence, prompt included, reaches max_out_len
  const promptLen = Math.max(...seedIds.map((ids) => ids.length));
  for (const [entryLen, n] of lengths) {
    const len = counts === 'total' ? Math.max(1, entryLen - promptLen) : entryLen;
    const per = rowsPerSeedWord(n);
    // One batched generation per length (all seed words at once: on GPT-2 XL 15 decoding steps
    // instead of 75). The draws are taken in the order a call per seed word took them (seed word,
    // then step, then row) and handed to each (row, step), so the templates do not depend on the
    // batching.
    const draws = Float64Array.from({ length: starts.length * per * len }, () => rand());
    const rows = seedIds.flatMap((ids) => Array.from({ length: per }, () => ids));
    const gen = await model.generate(rows, len, {
      stopIds: [],
      sample: {
        topK: 5,
        rand: (row, step) => draws[Math.floor(row / per) * per * len + step * per + (row % per)],
      },
    });
    gen.forEach((g, row) => out.push(templateText(model, seedIds[Math.floor(row / per)], g)));
  }
  return out;
}

/**
 * Weight of each context row when keys are averaged per context type, as MEMIT's compute_ks
 * (memit/compute_ks.py) does: the mean of each type's mean. Row 0 is "{}" (a type of its own), then
 * one type per [length, n] entry, in the order generateTemplates emits them.
 */
export function contextTypeWeights(lengths: [number, number][]): number[] {
  const sizes = [1, ...typeSizes(lengths)];
  return sizes.flatMap((s) => Array.from({ length: s }, () => 1 / (sizes.length * s)));
}

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

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

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
  if (!gradNow) throw new Error(`saliency "${kind}" needs the gradient at the end of stage 1`);
  return Float64Array.from(z, (zi, i) => (kind === 'value' ? v[i] + zi : zi) * gradNow[i]);
}

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

// The method drivers (ROME rome/rome_main.py `execute_rome`, MEMIT memit/memit_main.py `execute_memit`,
// AlphaEdit AlphaEdit_main.py, EasyEdit FT): ROME, MEMIT and AlphaEdit (each optionally with EAC) and
// FT (optionally with the scored elastic net of App. E), run as statistics → k* (kstar.ts) → z
// (vstar.ts) → update (update-rome.ts, update-memit.ts, update-alphaedit.ts). Each returns low-rank
// deltas in the math layout ΔW (d × d_ff) = Σ Utᵀ Vt; nothing is written to weights. MEMIT
// applies its per-layer deltas tentatively while it works and withdraws them after.
import type { EditRequest } from '../facts/types';
import type { LoadedModel } from '../runtime/model';
import { SolveCache, solveRef, type SolveStats } from './stats';
import type { Nullspace } from './solve-cache';
import { alphaEditLayerUpdate } from './update-alphaedit';
import { preservedKeysOf, type PreservedKeyBlock } from './preserved-keys';
import type { LiveEdits } from './live';
import { LossProblem } from './problem';
import { normControlFor, type EditProfile, type VStarParams, type ZEditMethod } from './profile';
import { buildEditPrompts } from './prompts';
import type { EditMethod, EditPhase, LayerDelta } from './types';
import type { ProgressCount } from '../progress';
import { adamStep, type AdamState } from './adam';
import { contextTemplates, contextTypeWeights } from './templates';
import { eacRun, optimiseZ, type VStarResult } from './vstar';
import { mean, memitKeys, tapAtSubject } from './kstar';
import { normControlledZ } from './norm-control';
import { romeUpdate } from './update-rome';
import { memitLayerUpdate } from './update-memit';
import { EacError, internalError, throwIfAborted } from '../errors';

export interface StatsProvider {
  /** E[kkᵀ] per layer (d_ff × d_ff) with a stable key naming where it came from */
  (layers: number[]): Promise<Map<number, { mom2: Float64Array; key: string; count?: number; cacheDir?: string }>>;
  /** the cache folder the statistics live in; other per-model caches (context templates) go beside them */
  readonly cacheDir?: string;
  /** the cached entries' references (key, token count, folder) without reading C; layers not cached are left out */
  readonly refs?: (layers: number[]) => Promise<Map<number, { key: string; count: number; cacheDir: string }>>;
}

export interface MethodContext {
  model: LoadedModel;
  live: LiveEdits;
  profile: EditProfile;
  stats: StatsProvider;
  downProj: (layer: number) => { tensor: string; inputMajor: boolean };
  phase: (p: EditPhase, fraction: number, message?: string, count?: ProgressCount) => void;
  signal?: AbortSignal;
}

export interface MethodOutput {
  deltas: LayerDelta[];
  details: Record<string, unknown>;
  statsKeys: Record<number, string>;
  /** AlphaEdit: the keys this edit adds to K_p K_pᵀ, per layer */
  preservedKeys?: PreservedKeyBlock[];
}

/** Cholesky factors of C (+ ridge) per statistics key: computed once per layer, reused by every edit, owned by the model (freed with it). */
const solvesOf = (model: LoadedModel): SolveCache => model.caches.getOrCreate('stats.solves', () => new SolveCache());

async function solveV(ctx: MethodContext, req: EditRequest, layer: number, templates: string[], ref: 'mlp' | 'resid', hp: VStarParams, method: ZEditMethod) {
  const eac = method.startsWith('eac-');
  const { model, profile } = ctx;
  const set = buildEditPrompts(model, req, templates, undefined, profile.targetTokens);
  const problem = await LossProblem.create(model, layer, set.rewrite, set.kl, set.rewrite.map(() => set.targetIds), {
    klFactor: hp.klFactor,
    klDirection: hp.klDirection,
    klPosition: hp.klPosition,
  });
  const family = ref === 'mlp' ? 'rome' : 'memit';
  const run = eac ? eacRun(profile.eac, family) : null;
  const res = await optimiseZ(problem, ref === 'mlp' ? problem.vInit : problem.residInit, hp, run, {
    signal: ctx.signal,
    onStep: (step, total, phase) =>
      ctx.phase(phase === 'retrain' ? 'retrain' : 'optimise', (step + 1) / total, `step ${step + 1}/${total}`, { done: step + 1, total, unit: 'steps' }),
  });
  // the profile's normControlMethods may leave this method out
  const control = normControlFor(profile, method);
  const anchor = control === 'nas-anchor' ? profile.normAnchor?.[family] : undefined;
  if (control === 'nas-anchor' && anchor === undefined)
    throw new EacError('bad_params', `profile "${profile.name}" has normControl "nas-anchor" but no normAnchor.${family}: measure it with \`npm run nas-anchor -- --model <model> --method ${family}\` and set it in the profile`);
  // ‖v0 + z‖ as solved is reported always (NAS's anchor is its mean over edits of the unedited model,
  // scripts/nas-anchor.ts); the rescaled z is written only under norm control
  const c = normControlledZ(problem.vInit, res.z, anchor);
  let norm: Record<string, number> = { vStarNorm: c.vStarNorm };
  if (control !== 'off') {
    norm = { vStarNorm: c.vStarNorm, nasScale: c.scale, zNormSolved: Math.hypot(...res.z) };
    res.z = c.z;
  }
  return { problem, res, set, norm };
}

function summarise(res: VStarResult) {
  const last = res.trace[res.trace.length - 1];
  return {
    steps: res.trace.length,
    finalLoss: last?.loss,
    finalTargetProb: last?.targetProb,
    // the last Adam step of an EAC retraining is not evaluated again (as in compute_v): measure z itself
    zNorm: Math.hypot(...res.z),
    anchors: res.anchors ? { count: res.anchors.count, of: res.anchors.of, gamma: res.anchors.gamma } : null,
    trace: res.trace,
  };
}

/**
 * Key statistics of `layers`, checked and factorised for a solve with `ridge` — so too few tokens or
 * a C that is not positive definite fail now, before any optimisation — and reduced to what the
 * update step needs: C itself is not kept (its factor is in memory or beside the statistics on
 * disk), so it does not stay resident through the optimisation.
 */
async function preparedStats(ctx: MethodContext, solves: SolveCache, layers: number[], ridge: number): Promise<Map<number, SolveStats>> {
  const out = new Map<number, SolveStats>();
  // where a layer's factor already exists, C is not read at all (1.5 GiB at LLaMA-3-8B's width)
  for (const [l, ref] of (await ctx.stats.refs?.(layers)) ?? []) {
    const prep = await solves.prepareWithoutC(ref, ridge, ctx.model.cfg.ffn);
    if (!prep) continue;
    for (const w of prep.warnings) ctx.phase('statistics', 1, w);
    out.set(l, ref);
  }
  const rest = layers.filter((l) => !out.has(l));
  if (!rest.length) return out;
  const all = await ctx.stats(rest);
  for (const l of rest) {
    const st = all.get(l)!;
    for (const w of (await solves.prepare(st, ridge, ctx.model.cfg.ffn)).warnings) ctx.phase('statistics', 1, w);
    out.set(l, solveRef(st));
  }
  return out;
}

export async function rome(ctx: MethodContext, req: EditRequest, eac: boolean): Promise<MethodOutput> {
  const { model, profile } = ctx;
  const hp = profile.rome;
  const layer = hp.layer;
  // without C⁻¹ (rome.mom2Adjustment false) ROME needs no key statistics
  ctx.phase('statistics', 0);
  // C + ridge must be solvable: the token count is checked and the factor made (or loaded) now,
  // so a singular C fails here and not at the update step after all the optimisation
  const stats = hp.mom2Adjustment ? (await preparedStats(ctx, solvesOf(model), [layer], hp.mom2Ridge)).get(layer)! : null;
  ctx.phase('keys', 0);
  const templates = await contextTemplates(model, profile.contextTemplates.rome, profile.contextTemplates.seed, { cacheDir: ctx.stats.cacheDir, lengthCounts: profile.contextTemplates.lengthCounts });
  const { problem, res, norm } = await solveV(ctx, req, layer, templates, 'mlp', hp, eac ? 'eac-rome' : 'rome');
  ctx.phase('update', 0);
  const F = model.cfg.ffn;
  // u = C⁻¹ k*, k* averaged over the context templates (ROME compute_u)
  const kStar = mean(problem.keysAtSubject);
  let L: Float64Array | null = null;
  // factor of C + ridge·tr(C)/F·I, made at the statistics phase (in memory or beside the statistics on disk)
  if (stats) L = await solvesOf(model).factor(stats, hp.mom2Ridge, F);
  const { Ut, Vt, denom } = romeUpdate(L, F, kStar, problem.keysAtSubject[0], res.z);
  const { tensor } = ctx.downProj(layer);
  return {
    deltas: [{ layer, tensor, rank: 1, Ut, Vt }],
    details: { ...summarise(res), ...norm, layer, denom, mom2Adjustment: hp.mom2Adjustment },
    statsKeys: stats ? { [layer]: stats.key } : {},
  };
}

/**
 * AlphaEdit's null-space bases for `layers` (eigenvectors of each layer's C below the threshold),
 * made at the statistics phase — once per statistics entry, then from memory or beside the
 * statistics on disk — so a failure shows before any optimisation.
 */
async function preparedNullspaces(ctx: MethodContext, layers: number[], threshold: number): Promise<Map<number, Nullspace>> {
  const out = new Map<number, Nullspace>();
  const solves = solvesOf(ctx.model);
  const n = ctx.model.cfg.ffn;
  // where a layer's eigendecomposition already exists, C is not read at all (as preparedStats)
  for (const [l, ref] of (await ctx.stats.refs?.(layers)) ?? []) {
    const ns = await solves.nullspaceWithoutC(ref, threshold, n);
    if (ns) out.set(l, ns);
  }
  const rest = layers.filter((l) => !out.has(l));
  const all = rest.length ? await ctx.stats(rest) : new Map();
  for (const l of rest) {
    const st = all.get(l)!;
    out.set(l, await solves.nullspace(st, threshold, n, (f) => ctx.phase('statistics', f, `eigendecomposition of layer ${l}`)));
  }
  for (const l of layers)
    if (out.get(l)!.rows === 0) ctx.phase('statistics', 1, `layer ${l}: no eigenvalue of C is below ${threshold}, so AlphaEdit's projection leaves this layer unchanged`);
  // in the caller's layer order
  return new Map(layers.map((l) => [l, out.get(l)!]));
}

export type ZMethod = 'memit' | 'alphaedit';

/**
 * MEMIT (memit/memit_main.py) and AlphaEdit (AlphaEdit_main.py): z at the last layer per request,
 * the residual spread over the layers R/(L − i), and per layer MEMIT's (λC + KKᵀ)⁻¹ solve or
 * AlphaEdit's null-space projected one. AlphaEdit also returns the keys its edit adds to K_p K_pᵀ,
 * taken after all layers are updated as the published code does.
 */
export async function memit(ctx: MethodContext, reqs: EditRequest[], eac: boolean, kind: ZMethod = 'memit'): Promise<MethodOutput> {
  const { model, profile, live } = ctx;
  const hp = kind === 'memit' ? profile.memit : profile.alphaedit;
  const layers = [...hp.layers].sort((a, b) => a - b);
  const zLayer = layers[layers.length - 1];
  const { hidden: D, ffn: F } = model.cfg;
  const n = reqs.length;
  ctx.phase('statistics', 0);
  // MEMIT solves with C itself (no ridge): check every layer's C now, before the optimisation;
  // AlphaEdit needs C's eigenvectors instead (C may be singular there: its null space is the point)
  const stats = kind === 'memit' ? await preparedStats(ctx, solvesOf(model), layers, 0) : null;
  const spaces = kind === 'alphaedit' ? await preparedNullspaces(ctx, layers, profile.alphaedit.nullspaceThreshold) : null;
  ctx.phase('keys', 0);
  const templates = await contextTemplates(model, profile.contextTemplates.memit, profile.contextTemplates.seed, { cacheDir: ctx.stats.cacheDir, lengthCounts: profile.contextTemplates.lengthCounts });
  // target residuals at the z layer, one per request (MEMIT compute_z)
  const targets: Float64Array[] = [];
  const perRequest: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const { problem, res, norm } = await solveV(ctx, reqs[i], zLayer, templates, 'resid', hp, eac ? `eac-${kind}` : kind);
    targets.push(Float64Array.from(problem.residInit, (v, k) => v + res.z[k]));
    perRequest.push({ caseId: reqs[i].caseId, ...summarise(res), ...norm });
  }
  const sets = reqs.map((r) => buildEditPrompts(model, r, templates, undefined, profile.targetTokens));
  const keyWeights = contextTypeWeights(profile.contextTemplates.memit);
  if (keyWeights.length !== templates.length) throw internalError(`internal: ${templates.length} context templates but ${keyWeights.length} key weights`);
  const plainRows = sets.map((s) => s.rewrite[0]);
  // K: keys averaged over context templates per request [F, n]; MEMIT's compute_ks averages
  // within each context type first ("{}" alone is a type, so it carries half the weight)
  const keysAt = (layer: number) => memitKeys(model, layer, sets, hp.keyWeighting, keyWeights);
  const deltas: LayerDelta[] = [];
  const preserved: PreservedKeyBlock[] = [];
  const untouched: number[] = [];
  try {
    for (let li = 0; li < layers.length; li++) {
      const layer = layers[li];
      ctx.phase('update', li / layers.length, `layer ${layer}`, { done: li, total: layers.length, unit: 'layers' });
      const K = await keysAt(layer);
      const cur = await tapAtSubject(model, zLayer, plainRows, 'resid');
      // residual still to be written, spread over the remaining layers
      const R = targets.map((t, i) => Float64Array.from(t, (v, k) => (v - cur[i][k]) / (layers.length - li)));
      let upd: { Ut: Float32Array; Vt: Float32Array } | null;
      if (kind === 'memit') {
        const LC = await solvesOf(model).factor(stats!.get(layer)!, 0, F);
        upd = memitLayerUpdate(K, R, LC, profile.memit.mom2UpdateWeight, F, D);
      } else {
        const ns = spaces!.get(layer)!;
        upd = await alphaEditLayerUpdate(K, R, ns, preservedKeysOf(model).projectedMoment(layer, ns), profile.alphaedit.l2, D);
      }
      if (!upd) {
        untouched.push(layer);
        continue;
      }
      const delta: LayerDelta = { layer, tensor: ctx.downProj(layer).tensor, rank: n, ...upd };
      deltas.push(delta);
      live.push(delta);
    }
    // AlphaEdit_main: after every layer is written, `cache_c[i] += layer_ks @ layer_ks.T` with the
    // keys computed again on the edited model
    if (kind === 'alphaedit')
      for (const layer of layers) {
        const K = await keysAt(layer);
        const keys = new Float64Array(n * F);
        K.forEach((k, j) => keys.set(k, j * F));
        preserved.push({ layer, n, keys });
      }
  } finally {
    live.drop(deltas);
  }
  const statsKeys: Record<number, string> = {};
  for (const l of layers) statsKeys[l] = stats ? stats.get(l)!.key : spaces!.get(l)!.statsKey;
  const details: Record<string, unknown> = { layers, zLayer, requests: perRequest };
  if (spaces) details.nullspace = Object.fromEntries(layers.map((l) => [l, { rows: spaces.get(l)!.rows, of: F, threshold: profile.alphaedit.nullspaceThreshold }]));
  if (untouched.length) details.untouchedLayers = untouched;
  return { deltas, details, statsKeys, ...(kind === 'alphaedit' ? { preservedKeys: preserved } : {}) };
}

/**
 * FT of one layer's MLP output projection on the target NLL (EasyEdit FT: Adam, per-element
 * norm constraint around W0); with `elasticNet` the second half adds the scored elastic net of
 * App. E, λ Σ αᵢ|ΔWᵢ| + μ‖ΔW‖².
 */
export async function ft(ctx: MethodContext, req: EditRequest, elasticNet: boolean): Promise<MethodOutput> {
  const { model, profile } = ctx;
  const hp = profile.ft;
  const layer = hp.layer;
  const { hidden: D, ffn: F } = model.cfg;
  ctx.phase('keys', 0);
  const set = buildEditPrompts(model, req, ['{}']);
  const problem = await LossProblem.create(model, layer, set.rewrite, set.kl, [set.targetIds], { klFactor: hp.klFactor, perturbation: 'dW' });
  const dW = new Float64Array(F * D); // input-major: out += key · dW
  const st: AdamState = { m: new Float64Array(dW.length), v: new Float64Array(dW.length), t: 0 };
  const trace: { step: number; loss: number; targetProb: number }[] = [];
  // App. E: the scored elastic net — after half the steps the weighted-gradient score ΔW ⊙ ∇L
  // weights an L1 term per entry (αᵢ = 1/(|scoreᵢ|+ε)), so low-saliency entries are pushed to zero
  const scoreStep = Math.max(1, Math.floor(hp.steps / 2));
  let alpha: Float64Array | null = null;
  for (let step = 0; step < hp.steps; step++) {
    throwIfAborted(ctx.signal, 'edit cancelled');
    const ev = await problem.evaluate(dW);
    const g = ev.grad;
    if (elasticNet && step === scoreStep) alpha = Float64Array.from(dW, (w, i) => 1 / (Math.abs(w * g[i]) + profile.eac.eps));
    let reg = 0;
    if (alpha) {
      for (let i = 0; i < dW.length; i++) {
        reg += hp.enLambda * alpha[i] * Math.abs(dW[i]) + hp.enMu * dW[i] * dW[i];
        g[i] += hp.enLambda * alpha[i] * Math.sign(dW[i]) + 2 * hp.enMu * dW[i];
      }
    }
    trace.push({ step, loss: ev.loss + reg, targetProb: ev.targetProb });
    ctx.phase(alpha ? 'retrain' : 'optimise', (step + 1) / hp.steps, `step ${step + 1}/${hp.steps}`, { done: step + 1, total: hp.steps, unit: 'steps' });
    if (ev.nll < 1e-2 && (!elasticNet || alpha)) break;
    adamStep(dW, g, st, hp.lr);
    if (hp.normConstraint > 0) for (let i = 0; i < dW.length; i++) dW[i] = Math.max(-hp.normConstraint, Math.min(hp.normConstraint, dW[i]));
  }
  ctx.phase('update', 0);
  // dense ΔW (d × F) = dWᵀ as factors Ut = I_d, Vt = dWᵀ
  const Ut = new Float32Array(D * D);
  for (let i = 0; i < D; i++) Ut[i * D + i] = 1;
  const Vt = new Float32Array(D * F);
  for (let a = 0; a < F; a++) for (let i = 0; i < D; i++) Vt[i * F + a] = dW[a * D + i];
  return {
    deltas: [{ layer, tensor: ctx.downProj(layer).tensor, rank: D, Ut, Vt }],
    details: { layer, steps: trace.length, finalLoss: trace[trace.length - 1]?.loss, finalTargetProb: trace[trace.length - 1]?.targetProb, trace },
    statsKeys: {},
  };
}

export const METHOD_IS_BATCHED: Record<EditMethod, boolean> = {
  rome: false,
  'eac-rome': false,
  memit: true,
  'eac-memit': true,
  alphaedit: true,
  'eac-alphaedit': true,
  ft: false,
  'ft-en': false,
};

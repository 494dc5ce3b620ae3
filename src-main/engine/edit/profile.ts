// Hyper-parameter profiles: JSON files users can edit or import (resources/profiles holds the bundled ones).
// Every option that changes an algorithm names its source; the defaults are what the published code
// does (ROME's and MEMIT's code for their steps, the EAC authors' code for EAC's). README, "Profile
// schema", lists each option with the file it comes from.
import fs from 'node:fs';
import path from 'node:path';
import { resourcesDir } from '../paths';
import { CheckpointError } from '../checkpoint/errors';
import { FILE_LIMITS, parseJson, readTextFile } from '../fs-safe';
import { EacError } from '../errors';
import { ARCHITECTURES, isArchName, type ArchName } from '../architectures';
import { EDIT_METHODS, type EditMethod } from './types';

export type WeightDecayForm = 'norm' | 'squared';
export type KlDirection = 'edited-original' | 'original-edited';
export type KlPosition = 'subject-last' | 'last';

export interface VStarParams {
  vLr: number;
  vSteps: number;
  klFactor: number;
  weightDecay: number;
  clampNormFactor: number;
  /**
   * 'norm': wd·‖z‖/‖v‖² (ROME rome/compute_v.py and MEMIT memit/compute_z.py, `weight_decay`; default);
   * 'squared': wd·‖z‖²/‖v‖² (this project's earlier form).
   */
  weightDecayForm: WeightDecayForm;
  /**
   * 'edited-original': KL(edited ‖ original), ROME compute_v's `kl_div(kl_distr_init, kl_log_probs,
   * log_target=True)` (default); 'original-edited': the reverse (this project's earlier form).
   */
  klDirection: KlDirection;
  /** where KL is taken on "{s} is a": the subject's last token (ROME's lookup index, default) or the last token (earlier form) */
  klPosition: KlPosition;
}

export interface AnchorRule {
  /** percentile: keep |score| ≥ the value-th percentile γ (paper §3); top_fraction: keep the top share (authors' code, torch.topk) */
  mode: 'percentile' | 'top_fraction';
  value: number;
}

/**
 * Where the scored elastic net enters the retraining loss:
 * 'off'        — not in the loss (EAC authors' rome/compute_v.py computes it but leaves it out);
 * 'scored-l1'  — λ Σ |zᵢ| / (|scoreᵢ| + ε) (EAC authors' memit/compute_z.py; no μ term);
 * 'paper'      — λ Σ αᵢ|zᵢ| + μ‖z‖², αᵢ = 1/(|scoreᵢ| + ε) (paper, Eq. of the elastic-net loss);
 * 'previous'   — λ Σ αᵢ|zᵢ| + μ‖z‖²/‖v‖² (this project's earlier form).
 */
export type ElasticNetForm = 'off' | 'scored-l1' | 'paper' | 'previous';

export interface EacMethodParams {
  anchors: AnchorRule;
  elasticNet: ElasticNetForm;
  /** Adam steps on the anchors after scoring (authors' code: ROME 10, MEMIT 15) */
  retrainSteps: number;
  /** retraining starts from the stage-1 values of the anchors (authors' ROME) or from 0 (authors' MEMIT) */
  retrainFrom: 'stage1' | 'zero';
  /** a fresh Adam for retraining (authors' code, both methods) or the stage-1 moments continued (earlier form) */
  retrainAdam: 'fresh' | 'continue';
  /**
   * Floor on the anchor count: anchors = max(rule's count, minAnchors), at most d. The published
   * ratios were set for GPT-2 XL (d 1600: 5 % = 80); on a narrow model the same ratio keeps too few
   * dimensions to write the edit (gpt2-world-a, d 192: 9 anchors, half the edits do not take).
   * Default 80, which leaves the published setting unchanged at GPT-2 XL's and LLaMA-3-8B's widths.
   */
  minAnchors: number;
  /**
   * What the retraining's KL is measured against: 'retrain-start' = the model with the retraining's
   * starting z applied (EAC authors' compute_v / compute_z reset `kl_distr_init` before the
   * retraining loop, so the first retraining pass records it; default), 'original' = the unedited
   * model, as stage 1 (this project's earlier form). With retrainFrom 'zero' both are the same.
   */
  retrainKlReference: 'retrain-start' | 'original';
}

export type Saliency = 'mean-grad' | 'step' | 'value';

export interface EacParams {
  /**
   * 'mean-grad': |mean over the stage-1 steps of ∇L ⊙ z| (authors' rome/compute_v.py and
   * memit/compute_z.py, `grads_list`; default); 'step': z ⊙ ∇L at the end of stage 1 (this
   * project's earlier form); 'value': v* ⊙ ∇L there (the paper's wording).
   */
  saliency: Saliency;
  /** stage-1 steps before scoring (authors' code: `range(10)`; paper: half of the steps) */
  scoreStep: number;
  /**
   * 'base-steps' (default): stage 1 runs max(scoreStep, the base method's vSteps) steps, so EAC's z
   * is never optimised for fewer steps than ROME's / MEMIT's own z before it is compressed (on the
   * fixtures the fixed 10 of 30 left EAC-ROME's ‖z‖ short of ROME's). 'none': exactly scoreStep
   * (the authors' code; on GPT-2 XL their 10 + 10 steps are at least ROME's 20).
   */
  stage1Floor: 'base-steps' | 'none';
  lambda: number;
  mu: number;
  /** ε in 1/(|score| + ε) (authors' code: 1e-6) */
  eps: number;
  rome: EacMethodParams;
  memit: EacMethodParams;
}

/** AlphaEdit (Fang et al., ICLR 2025; jianghoucheng/AlphaEdit AlphaEdit_main.py and hparams/AlphaEdit/*.json). */
export interface AlphaEditParams extends VStarParams {
  /** MEMIT's layers; z is solved at the last */
  layers: number[];
  /** eigenvectors of C = E[kkᵀ] with eigenvalue < this span the null space P projects onto (`nullspace_threshold`) */
  nullspaceThreshold: number;
  /** α in (P(KKᵀ + K_pK_pᵀ) + αI)⁻¹ (`L2`) */
  l2: number;
  keyWeighting: 'context-type' | 'mean';
}

/**
 * 'in-context' (default): the target's tokens as they follow the prompt (the tokens the metrics
 * score); 'alone': " " + target tokenised by itself, BOS dropped (ROME compute_v / MEMIT compute_z).
 * They agree on byte-level BPE (GPT-2, LLaMA-3) for the usual prompts; on SentencePiece (LLaMA-2)
 * the alone form starts with a lone "▁" piece the model never reads after a prompt.
 */
export type TargetTokens = 'in-context' | 'alone';

/**
 * Norm control after z is solved (norm-control.ts normControlledZ): 'off' (default); 'nas' rescales
 * v* to ‖v0‖; 'nas-anchor' rescales it to the profile's `normAnchor` (NAS's anchor: the mean solved
 * ‖v*‖ of the unedited model, measured by scripts/nas-anchor.ts).
 */
export type NormControl = 'off' | 'nas' | 'nas-anchor';

/** the methods that solve a value vector z (norm control acts on it); FT and FT-EN do not */
export type ZEditMethod = Exclude<EditMethod, 'ft' | 'ft-en'>;
export const Z_EDIT_METHODS: readonly ZEditMethod[] = EDIT_METHODS.filter((m): m is ZEditMethod => m !== 'ft' && m !== 'ft-en');

/** whether the profile's norm control acts on `method`'s solved z */
export function normControlFor(p: Pick<EditProfile, 'normControl' | 'normControlMethods'>, method: ZEditMethod): NormControl {
  const nc = p.normControl ?? 'off';
  return nc !== 'off' && (p.normControlMethods === undefined || p.normControlMethods.includes(method)) ? nc : 'off';
}

export interface EditProfile {
  name: string;
  description?: string;
  /** the architecture the profile's layers belong to (an entry of engine/architectures.ts) */
  arch: ArchName;
  /**
   * lengthCounts: 'new-tokens' (default) generates `length` tokens after the seed word; 'total'
   * counts the seed word's tokens in `length`, as ROME's generate_fast (`max_out_len` includes the
   * prompt, so its templates are one token shorter on GPT-2). The default keeps the templates this
   * project's measurements were made with.
   */
  contextTemplates: { rome: [number, number][]; memit: [number, number][]; seed: number; lengthCounts?: 'new-tokens' | 'total' };
  targetTokens?: TargetTokens;
  /**
   * 'nas': the solved value vector (MLP output at the subject's last token, v0 + z) is rescaled to
   * ‖v0‖, the norm the model had there before this edit (NAS, SasyaTitech/NAS compute_z.py rescales
   * v* to a mean norm of the original model); 'off' (default): as solved. Usable with every
   * z-based method.
   */
  normControl?: NormControl;
  /**
   * The z methods `normControl` applies to; absent: every z method. A profile can give norm control
   * to the methods it helps only: on gpt2-world-a NAS's anchor lifts EAC-AlphaEdit's 500-edit
   * health retention but would change every other method's measured rows (README "Norm control").
   */
  normControlMethods?: ZEditMethod[];
  /**
   * NAS's anchor norms for normControl 'nas-anchor': the mean ‖v0 + z‖ of the base method's solved z
   * on the unedited model, at ROME's layer (`rome`) and at MEMIT's z layer (`memit`, also used by
   * AlphaEdit and the EAC forms, as NAS reuses MEMIT's anchor for AlphaEdit).
   */
  normAnchor?: { rome?: number; memit?: number };
  alphaedit: AlphaEditParams;
  stats: { samples: number; maxTokensPerSample?: number; corpus?: string };
  /** mom2Adjustment: u = C⁻¹k* (ROME rome/compute_u.py with `mom2_adjustment: true`, ROME's own hparams; default) or u = k* (the EAC authors' / EasyEdit's ROME configs) */
  rome: VStarParams & { layer: number; mom2Ridge: number; mom2Adjustment: boolean };
  /** keyWeighting: 'context-type' = mean of the per-context-type means (MEMIT memit/compute_ks.py; default), 'mean' = plain mean over all context rows (earlier form) */
  memit: VStarParams & { layers: number[]; mom2UpdateWeight: number; keyWeighting: 'context-type' | 'mean' };
  eac: EacParams;
  /** FT-EN (ft.enLambda / ft.enMu) is this project's design after the paper's App. E; there is no reference code */
  ft: { layer: number; lr: number; steps: number; normConstraint: number; klFactor: number; enLambda: number; enMu: number };
}

/** Defaults = the published code (see the field comments). */
export const VSTAR_DEFAULTS: Pick<VStarParams, 'weightDecayForm' | 'klDirection' | 'klPosition'> = {
  weightDecayForm: 'norm',
  klDirection: 'edited-original',
  klPosition: 'subject-last',
};
export const EAC_METHOD_DEFAULTS: Record<'rome' | 'memit', EacMethodParams> = {
  // EAC authors' rome/compute_v.py: top 20 %, elastic net not in the loss, 10 steps from the stage-1 values, new Adam
  rome: { anchors: { mode: 'top_fraction', value: 0.2 }, elasticNet: 'off', retrainSteps: 10, retrainFrom: 'stage1', retrainAdam: 'fresh', minAnchors: 80, retrainKlReference: 'retrain-start' },
  // EAC authors' memit/compute_z.py: top 5 %, λΣ|δ|/(|score|+1e-6), 15 steps from a zero δ, new Adam
  memit: { anchors: { mode: 'top_fraction', value: 0.05 }, elasticNet: 'scored-l1', retrainSteps: 15, retrainFrom: 'zero', retrainAdam: 'fresh', minAnchors: 80, retrainKlReference: 'retrain-start' },
};
export const EAC_DEFAULTS: Omit<EacParams, 'rome' | 'memit'> = { saliency: 'mean-grad', scoreStep: 10, stage1Floor: 'base-steps', lambda: 5e-7, mu: 0, eps: 1e-6 };

/**
 * What a profile written before these options existed meant (it has `eac.threshold`): such profiles
 * (e.g. stored with a queue) keep their old behaviour when they are read again.
 */
function previousOptions(p: Record<string, any>): void {
  const e = p.eac;
  const en: ElasticNetForm = e.elasticNet === false ? 'off' : 'previous';
  const steps = (sec: 'rome' | 'memit') => Math.max(0, (p[sec]?.vSteps ?? 0) - 1 - (e.scoreStep ?? 0));
  for (const sec of ['rome', 'memit'] as const) {
    if (!p[sec]) continue;
    p[sec].weightDecayForm ??= 'squared';
    p[sec].klDirection ??= 'original-edited';
    p[sec].klPosition ??= 'last';
    e[sec] ??= { anchors: e.threshold, elasticNet: en, retrainSteps: steps(sec), retrainFrom: 'stage1', retrainAdam: 'continue', minAnchors: 0, retrainKlReference: 'original' };
  }
  p.rome && (p.rome.mom2Adjustment ??= true);
  p.memit && (p.memit.keyWeighting ??= 'mean');
  e.saliency = e.saliency === 'value' ? 'value' : 'step';
  e.stage1Floor ??= 'none';
  delete e.threshold;
  if (typeof e.elasticNet === 'boolean') delete e.elasticNet;
}

function req(cond: boolean, where: string, msg: string): asserts cond {
  if (!cond) throw new EacError('bad_profile', `profile ${where}: ${msg}`);
}

/**
 * The alphaedit section; a profile without one edits with AlphaEdit on its MEMIT layers and z
 * settings, with the published threshold 2e-2 and α 10 (hparams/AlphaEdit/*.json).
 */
function parseAlphaEdit(p: Record<string, any>, where: string): void {
  const m = p.memit;
  p.alphaedit ??= {
    layers: [...m.layers], vLr: m.vLr, vSteps: m.vSteps, klFactor: m.klFactor, weightDecay: m.weightDecay, clampNormFactor: m.clampNormFactor,
    weightDecayForm: m.weightDecayForm, klDirection: m.klDirection, klPosition: m.klPosition, keyWeighting: m.keyWeighting,
    nullspaceThreshold: 2e-2, l2: 10,
  };
  const a = p.alphaedit;
  req(!!a && typeof a === 'object' && !Array.isArray(a), where, '"alphaedit" must be an object');
  for (const k of ['vLr', 'vSteps', 'klFactor', 'weightDecay', 'clampNormFactor', 'nullspaceThreshold', 'l2'] as const)
    req(typeof a[k] === 'number' && a[k] >= 0 && Number.isFinite(a[k]), where, `alphaedit.${k} must be a non-negative number, got ${JSON.stringify(a[k])}`);
  req(a.l2 > 0, where, 'alphaedit.l2 must be > 0 (it keeps the projected system solvable)');
  req(Array.isArray(a.layers) && a.layers.length > 0 && a.layers.every(Number.isInteger), where, 'alphaedit.layers must be a non-empty list of layer indices');
  for (const [k, d] of Object.entries(VSTAR_DEFAULTS)) a[k] ??= d;
  a.keyWeighting ??= 'context-type';
  const oneOf = (v: unknown, allowed: readonly unknown[], k: string) =>
    req(allowed.includes(v), where, `${k} must be one of ${allowed.map((x) => JSON.stringify(x)).join(', ')}, got ${JSON.stringify(v)}`);
  oneOf(a.weightDecayForm, ['norm', 'squared'], 'alphaedit.weightDecayForm');
  oneOf(a.klDirection, ['edited-original', 'original-edited'], 'alphaedit.klDirection');
  oneOf(a.klPosition, ['subject-last', 'last'], 'alphaedit.klPosition');
  oneOf(a.keyWeighting, ['context-type', 'mean'], 'alphaedit.keyWeighting');
}

/**
 * Validates a profile and fills the options it leaves out with the defaults above (a copy; the
 * input is not changed). Every error names the field and what it accepts.
 */
export function parseProfile(json: unknown, where = 'profile'): EditProfile {
  req(!!json && typeof json === 'object' && !Array.isArray(json), where, 'not a JSON object');
  const p = structuredClone(json) as Record<string, any>;
  req(typeof p.name === 'string', where, '"name" must be a string');
  req(isArchName(p.arch), where, `"arch" must be one of ${Object.keys(ARCHITECTURES).join(', ')}, got ${JSON.stringify(p.arch)}`);
  const isObj = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
  const pos = (v: unknown, k: string) => req(typeof v === 'number' && v >= 0 && Number.isFinite(v), where, `${k} must be a non-negative number, got ${JSON.stringify(v)}`);
  const oneOf = (v: unknown, allowed: readonly unknown[], k: string) =>
    req(allowed.includes(v), where, `${k} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`);
  const intAtLeast = (v: unknown, min: number, k: string) => req(Number.isInteger(v) && (v as number) >= min, where, `${k} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  req(isObj(p.eac), where, 'missing "eac" section');
  if ('threshold' in p.eac) previousOptions(p);
  for (const sec of ['rome', 'memit'] as const) {
    const v = p[sec];
    req(isObj(v), where, `missing "${sec}" section`);
    for (const k of ['vLr', 'vSteps', 'klFactor', 'weightDecay', 'clampNormFactor'] as const) pos(v[k], `${sec}.${k}`);
    for (const [k, d] of Object.entries(VSTAR_DEFAULTS)) v[k] ??= d;
    oneOf(v.weightDecayForm, ['norm', 'squared'], `${sec}.weightDecayForm`);
    oneOf(v.klDirection, ['edited-original', 'original-edited'], `${sec}.klDirection`);
    oneOf(v.klPosition, ['subject-last', 'last'], `${sec}.klPosition`);
  }
  req(Number.isInteger(p.rome.layer), where, 'rome.layer must be an integer');
  p.rome.mom2Ridge ??= 0;
  pos(p.rome.mom2Ridge, 'rome.mom2Ridge');
  p.rome.mom2Adjustment ??= true;
  oneOf(p.rome.mom2Adjustment, [true, false], 'rome.mom2Adjustment');
  req(Array.isArray(p.memit.layers) && p.memit.layers.length > 0 && p.memit.layers.every(Number.isInteger), where, 'memit.layers must be a non-empty list of layer indices');
  pos(p.memit.mom2UpdateWeight, 'memit.mom2UpdateWeight');
  p.memit.keyWeighting ??= 'context-type';
  oneOf(p.memit.keyWeighting, ['context-type', 'mean'], 'memit.keyWeighting');

  const e = p.eac;
  for (const [k, d] of Object.entries(EAC_DEFAULTS)) e[k] ??= d;
  oneOf(e.saliency, ['mean-grad', 'step', 'value'], 'eac.saliency');
  intAtLeast(e.scoreStep, 1, 'eac.scoreStep');
  for (const k of ['lambda', 'mu', 'eps'] as const) pos(e[k], `eac.${k}`);
  req(e.eps > 0, where, 'eac.eps must be > 0 (it keeps 1/(|score| + eps) finite)');
  for (const m of ['rome', 'memit'] as const) {
    e[m] ??= {};
    req(isObj(e[m]), where, `eac.${m} must be an object`);
    const x = e[m];
    for (const [k, d] of Object.entries(EAC_METHOD_DEFAULTS[m])) x[k] ??= structuredClone(d);
    req(isObj(x.anchors), where, `eac.${m}.anchors must be an object { mode, value }`);
    oneOf(x.anchors.mode, ['percentile', 'top_fraction'], `eac.${m}.anchors.mode`);
    const v = x.anchors.value;
    req(
      typeof v === 'number' && (x.anchors.mode === 'percentile' ? v > 0 && v < 100 : v > 0 && v <= 1),
      where,
      `eac.${m}.anchors.value ${JSON.stringify(v)} out of range for ${x.anchors.mode} (percentile: 0 < value < 100; top_fraction: 0 < value ≤ 1)`,
    );
    oneOf(x.elasticNet, ['off', 'scored-l1', 'paper', 'previous'], `eac.${m}.elasticNet`);
    intAtLeast(x.retrainSteps, 0, `eac.${m}.retrainSteps`);
    oneOf(x.retrainFrom, ['stage1', 'zero'], `eac.${m}.retrainFrom`);
    oneOf(x.retrainAdam, ['fresh', 'continue'], `eac.${m}.retrainAdam`);
    intAtLeast(x.minAnchors, 0, `eac.${m}.minAnchors`);
    oneOf(x.retrainKlReference, ['retrain-start', 'original'], `eac.${m}.retrainKlReference`);
  }
  oneOf(e.stage1Floor, ['base-steps', 'none'], 'eac.stage1Floor');
  p.contextTemplates.lengthCounts ??= 'new-tokens';
  oneOf(p.contextTemplates.lengthCounts, ['new-tokens', 'total'], 'contextTemplates.lengthCounts');
  p.targetTokens ??= 'in-context';
  oneOf(p.targetTokens, ['in-context', 'alone'], 'targetTokens');
  p.normControl ??= 'off';
  oneOf(p.normControl, ['off', 'nas', 'nas-anchor'], 'normControl');
  if (p.normControlMethods !== undefined) {
    req(Array.isArray(p.normControlMethods) && p.normControlMethods.length > 0, where, `normControlMethods must be a non-empty list of z methods (${Z_EDIT_METHODS.join(', ')})`);
    for (const m of p.normControlMethods) oneOf(m, Z_EDIT_METHODS, 'normControlMethods[]');
    req(new Set(p.normControlMethods).size === p.normControlMethods.length, where, 'normControlMethods lists a method twice');
    // a list with norm control off says the author meant something the profile does not do
    req(p.normControl !== 'off', where, 'normControlMethods is set but normControl is "off": set normControl, or drop the list');
  }
  if (p.normAnchor !== undefined) {
    req(isObj(p.normAnchor), where, 'normAnchor must be an object { rome?, memit? }');
    for (const k of ['rome', 'memit'] as const) if (p.normAnchor[k] !== undefined) req(typeof p.normAnchor[k] === 'number' && p.normAnchor[k]! > 0 && Number.isFinite(p.normAnchor[k]), where, `normAnchor.${k} must be a positive number`);
  }
  parseAlphaEdit(p, where);
  req(isObj(p.ft) && Number.isInteger(p.ft.layer), where, 'ft.layer must be an integer');
  req(isObj(p.stats) && Number.isInteger(p.stats.samples) && p.stats.samples > 0, where, 'stats.samples must be a positive integer');
  // the model's position count bounds it too, checked when the statistics run (it is not known here)
  if (p.stats.maxTokensPerSample !== undefined) intAtLeast(p.stats.maxTokensPerSample, 1, 'stats.maxTokensPerSample');
  return p as EditProfile;
}

export function bundledProfiles(): string[] {
  return fs
    .readdirSync(path.join(resourcesDir(), 'profiles'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''));
}

/**
 * A bundled profile name: a plain file name without extension (letters, digits, ".", "_", "-"; no
 * separator, no leading dot). Such a name only ever resolves inside resources/profiles.
 */
export const PROFILE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isProfileName(s: string): boolean {
  return PROFILE_NAME_RE.test(s) && !/\.json$/i.test(s);
}

/** A bundled profile by name; never reads a file outside resources/profiles. */
export function loadBundledProfile(name: string): EditProfile {
  const names = bundledProfiles();
  if (!isProfileName(name) || !names.includes(name)) {
    throw new CheckpointError('not_found', `profile ${JSON.stringify(name.slice(0, 80))} is not a bundled profile (bundled: ${names.join(', ')})`);
  }
  return loadProfileFile(path.join(resourcesDir(), 'profiles', `${name}.json`));
}

/** A profile JSON file (regular file, at most 1 MiB; errors never quote its content). */
export function loadProfileFile(file: string): EditProfile {
  const json = parseJson(readTextFile(file, FILE_LIMITS.profile, 'the profile file'), `profile ${file}`, 'bad_json');
  return parseProfile(json, file);
}

/**
 * A bundled profile by name, or a JSON file path. What is what is decided by the string alone: a
 * plain name (see isProfileName) is bundled-only and never looked up as a file in the working
 * directory; anything with a path separator or a .json ending is a file.
 */
export function loadProfile(nameOrPath: string): EditProfile {
  if (isProfileName(nameOrPath)) return loadBundledProfile(nameOrPath);
  return loadProfileFile(nameOrPath);
}

/** Layers must exist in the model the profile is applied to. */
export function checkProfileFits(p: EditProfile, arch: string, layers: number): void {
  if (p.arch !== arch) throw new EacError('bad_profile', `profile ${p.name} is for ${p.arch} models, this model is ${arch}`);
  const all = [p.rome.layer, p.ft.layer, ...p.memit.layers, ...p.alphaedit.layers];
  const bad = all.filter((l) => l < 0 || l >= layers);
  if (bad.length) throw new EacError('bad_profile', `profile ${p.name} names layer(s) ${bad.join(', ')} but the model has ${layers} layers (0..${layers - 1})`);
}

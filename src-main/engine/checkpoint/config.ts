import { CheckpointError } from './errors';
import { ARCH_NAMES, ARCHITECTURES, DEFAULT_ROPE_THETA, GPT2, LLAMA, archOfClass, isArchName, type ArchName, type ArchSizes } from '../architectures';

/** A config.json normalized: the sizes the tensors follow (ArchSizes) and the rest the forward pass reads. */
export interface ModelConfig extends ArchSizes {
  arch: ArchName;
  normEps: number;
  /** 10000 by default; read only by rotary architectures */
  ropeTheta: number;
  /** gpt2 activation_function (gelu_new default); llama hidden_act (silu default) */
  activation: string;
  bosTokenId?: number;
  eosTokenId?: number;
  raw: Record<string, unknown>;
}

function bad(msg: string): never {
  throw new CheckpointError('bad_config', msg);
}

function has(raw: Record<string, unknown>, key: string): boolean {
  return raw[key] !== undefined && raw[key] !== null;
}

function posInt(raw: Record<string, unknown>, key: string, fallback?: number): number {
  if (!has(raw, key)) {
    if (fallback !== undefined) return fallback;
    bad(`config field ${key} is missing (it must be a positive integer)`);
  }
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    bad(`config field ${key} must be a positive integer, got ${short(v)}`);
  }
  return v;
}

function posNum(raw: Record<string, unknown>, key: string, fallback: number): number {
  if (!has(raw, key)) return fallback;
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    bad(`config field ${key} must be a positive number, got ${short(v)}`);
  }
  return v;
}

/**
 * A normalization epsilon: added to a variance before its square root, so it must be positive and far below the
 * variances it guards (1e308 makes every layer norm output ~0, a silently different model). (0, 1) excludes both.
 */
function epsilon(raw: Record<string, unknown>, key: string, fallback: number): number {
  if (!has(raw, key)) return fallback;
  const v = raw[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) {
    bad(`config field ${key} must be a number between 0 and 1 (exclusive; models use about 1e-5 or 1e-6), got ${short(v)}`);
  }
  return v;
}

/**
 * The activation field, against the activations the forward pass implements (architectures.ts): refused at open
 * rather than when the first graph is built. null is not "the default" (transformers itself fails on it).
 */
function activation(raw: Record<string, unknown>, arch: ArchName): string {
  const key = ARCHITECTURES[arch].keys.activation;
  const supported = ARCHITECTURES[arch].activations;
  if (raw[key] === undefined) return supported[0];
  const v = raw[key];
  if (typeof v !== 'string' || v.length === 0) bad(`config field ${key} must name the activation function (${supported.join(' or ')}), got ${short(v)}`);
  if (!supported.includes(v)) {
    throw new CheckpointError('unsupported_config', `config field ${key} is ${short(v)}, which this engine does not implement (supported: ${supported.join(', ')})`);
  }
  return v;
}

/**
 * `architectures`, when given, must be a list of class names this engine runs and agree with model_type: a garbage
 * or foreign class name means the folder is not the model it claims to be.
 */
function checkArchitectures(raw: Record<string, unknown>, arch: ArchName): void {
  const a = raw.architectures;
  if (a === undefined || a === null) return;
  if (!Array.isArray(a) || a.length === 0 || !a.every((x) => typeof x === 'string' && x.length > 0)) {
    bad(`config field architectures must be a non-empty list of class names (e.g. ["GPT2LMHeadModel"]), got ${short(a)}`);
  }
  const ours = ARCHITECTURES[arch].classes;
  for (const c of a as string[]) {
    const of = archOfClass(c);
    if (of && of !== arch) bad(`config field architectures names ${short(c)}, a ${of} class, but model_type is ${arch}`);
    if (!of) {
      throw new CheckpointError(
        'unsupported_arch',
        `config field architectures names ${short(c)}, which is not a supported ${arch} class (supported: ${ours.join(', ')})`,
      );
    }
  }
}

function bool(raw: Record<string, unknown>, key: string, fallback: boolean): boolean {
  if (!has(raw, key)) return fallback;
  const v = raw[key];
  if (typeof v !== 'boolean') bad(`config field ${key} must be true or false, got ${short(v)}`);
  return v;
}

/** token id fields may be a number or (for eos) a list of numbers; the first one is used */
function tokenId(raw: Record<string, unknown>, key: string, vocabSize: number): number | undefined {
  if (!has(raw, key)) return undefined;
  const all = Array.isArray(raw[key]) ? (raw[key] as unknown[]) : [raw[key]];
  if (all.length === 0) return undefined;
  for (const v of all) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
      bad(`config field ${key} must be a token id in 0..${vocabSize - 1} (vocab_size ${vocabSize}) or a list of them, got ${short(raw[key])}`);
    }
  }
  return all[0] as number;
}

/** A config value for a message, cut short (config.json is untrusted; messages stay one line). */
function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 79) + '…' : s;
}

function divisible(hidden: number, heads: number, hiddenKey: string, headsKey: string): void {
  if (hidden % heads !== 0)
    bad(`config field ${headsKey} (${heads}) must divide ${hiddenKey} (${hidden}): each attention head gets ${hiddenKey} / ${headsKey} dimensions`);
}

/** Validates a parsed config.json and maps it to the fields the forward pass needs. */
export function parseConfig(raw: unknown): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    bad(`config must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}`);
  }
  const r = raw as Record<string, unknown>;
  let modelType = r.model_type;
  if (modelType === undefined || modelType === null) {
    const archs = Array.isArray(r.architectures) ? r.architectures : [];
    const known = archs.map((a) => (typeof a === 'string' ? archOfClass(a) : undefined)).find((a) => a);
    if (!known) {
      const labels = ARCH_NAMES.map((n) => ARCHITECTURES[n].label).join(' or ');
      bad(`config has no model_type (and architectures ${short(r.architectures ?? null)} does not name a ${labels} class)`);
    }
    modelType = known;
  }
  if (typeof modelType !== 'string') bad(`config field model_type must be a string, got ${short(modelType)}`);
  if (!isArchName(modelType)) {
    throw new CheckpointError(
      'unsupported_arch',
      `model_type ${short(modelType)} is not supported (supported: ${ARCH_NAMES.join(', ')})`,
    );
  }
  checkArchitectures(r, modelType);
  return modelType === 'gpt2' ? parseGpt2(r) : parseLlama(r);
}

/** A head tied by a config key reads it; one tied by the weights starts tied and the loader settles it (checkpoint.ts). */
function tiedHead(r: Record<string, unknown>, arch: ArchName): boolean {
  const tie = ARCHITECTURES[arch].tie;
  return tie.from === 'config' ? bool(r, tie.key, tie.fallback) : true;
}

/** Boolean keys whose true value the graph does not implement (architectures.ts refusedFlags). */
function refuseFlags(r: Record<string, unknown>, arch: ArchName): void {
  for (const f of ARCHITECTURES[arch].refusedFlags) {
    if (bool(r, f.key, false)) throw new CheckpointError('unsupported_config', `${f.key}=true is not supported${f.note ? ` (${f.note})` : ''}`);
  }
}

function parseGpt2(r: Record<string, unknown>): ModelConfig {
  const { keys: k, defaults } = GPT2;
  const vocabSize = posInt(r, k.vocabSize);
  const hidden = posInt(r, k.hidden);
  const layers = posInt(r, k.layers);
  const heads = posInt(r, k.heads);
  divisible(hidden, heads, k.hidden, k.heads);
  const ffn = posInt(r, k.ffn, defaults.ffnPerHidden! * hidden);
  const alias = k.maxPositionsAlias!;
  const maxPositions = posInt(r, k.maxPositions, has(r, alias) ? posInt(r, alias) : defaults.maxPositions);
  const normEps = epsilon(r, k.normEps, defaults.normEps);
  const act = activation(r, 'gpt2');
  refuseFlags(r, 'gpt2');
  return {
    arch: 'gpt2',
    vocabSize,
    hidden,
    layers,
    heads,
    kvHeads: heads,
    headDim: hidden / heads,
    ffn,
    maxPositions,
    normEps,
    ropeTheta: DEFAULT_ROPE_THETA,
    tiedHead: tiedHead(r, 'gpt2'),
    activation: act,
    bosTokenId: tokenId(r, 'bos_token_id', vocabSize),
    eosTokenId: tokenId(r, 'eos_token_id', vocabSize),
    raw: r,
  };
}

function parseLlama(r: Record<string, unknown>): ModelConfig {
  const { keys: k, defaults } = LLAMA;
  const rope = LLAMA.rope!;
  const kvKey = k.kvHeads!;
  const vocabSize = posInt(r, k.vocabSize);
  const hidden = posInt(r, k.hidden);
  const ffn = posInt(r, k.ffn);
  const layers = posInt(r, k.layers);
  const heads = posInt(r, k.heads);
  const kvHeads = posInt(r, kvKey, heads);
  if (heads % kvHeads !== 0) bad(`config field ${kvKey} (${kvHeads}) must divide ${k.heads} (${heads}): each key/value head serves a whole group of query heads`);
  let headDim: number;
  if (has(r, k.headDim!)) headDim = posInt(r, k.headDim!);
  else {
    divisible(hidden, heads, k.hidden, k.heads);
    headDim = hidden / heads;
  }
  if (headDim % 2 !== 0) bad(`head dimension ${headDim} must be even for rotary embeddings`);
  const maxPositions = posInt(r, k.maxPositions, defaults.maxPositions);
  const normEps = epsilon(r, k.normEps, defaults.normEps);
  const ropeTheta = posNum(r, rope.thetaKey, rope.thetaDefault);
  const act = activation(r, 'llama');
  if (has(r, rope.scalingKey)) {
    const rs = r[rope.scalingKey] as Record<string, unknown>;
    const kind = rs && typeof rs === 'object' ? (rs.rope_type ?? rs.type) : rs;
    if (kind !== 'default') {
      throw new CheckpointError('unsupported_config', `${rope.scalingKey} ${short(r[rope.scalingKey])} is not supported (plain RoPE only)`);
    }
  }
  refuseFlags(r, 'llama');
  return {
    arch: 'llama',
    vocabSize,
    hidden,
    layers,
    heads,
    kvHeads,
    headDim,
    ffn,
    maxPositions,
    normEps,
    ropeTheta,
    tiedHead: tiedHead(r, 'llama'),
    activation: act,
    bosTokenId: tokenId(r, 'bos_token_id', vocabSize),
    eosTokenId: tokenId(r, 'eos_token_id', vocabSize),
    raw: r,
  };
}

/** Canonical tensor names and shapes the forward pass needs, in a stable order (architectures.ts). */
export function expectedTensorShapes(cfg: ModelConfig): Map<string, number[]> {
  return ARCHITECTURES[cfg.arch].shapes(cfg);
}

/** Canonical names the forward pass needs. */
export function expectedTensorNames(cfg: ModelConfig): string[] {
  return [...expectedTensorShapes(cfg).keys()];
}

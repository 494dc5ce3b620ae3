import { CheckpointError } from './errors';

export interface ModelConfig {
  arch: 'gpt2' | 'llama';
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** gpt2: n_inner ?? 4*n_embd ; llama: intermediate_size */
  ffn: number;
  maxPositions: number;
  normEps: number;
  /** 10000 by default; unused for gpt2 */
  ropeTheta: number;
  /** gpt2: true unless the folder has an lm_head.weight that differs from wte; llama: tie_word_embeddings (default false) */
  tiedHead: boolean;
  /** gpt2 activation_function (gelu_new default); llama hidden_act (silu default) */
  activation: string;
  bosTokenId?: number;
  eosTokenId?: number;
  raw: Record<string, unknown>;
}

const ARCH_BY_CLASS: Record<string, 'gpt2' | 'llama'> = {
  GPT2LMHeadModel: 'gpt2',
  GPT2Model: 'gpt2',
  LlamaForCausalLM: 'llama',
  LlamaModel: 'llama',
};

/**
 * The activations the forward pass implements (models/gpt2.ts, models/llama.ts): refused at open rather than when
 * the first graph is built. gelu_pytorch_tanh and gelu_fast are the same tanh approximation as gelu_new.
 */
export const SUPPORTED_ACTIVATIONS = { gpt2: ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'], llama: ['silu'] } as const;

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

/** The activation field: null is not "the default" (transformers itself fails on it), an unknown name is refused. */
function activation(raw: Record<string, unknown>, key: string, arch: 'gpt2' | 'llama'): string {
  const supported: readonly string[] = SUPPORTED_ACTIVATIONS[arch];
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
function checkArchitectures(raw: Record<string, unknown>, arch: 'gpt2' | 'llama'): void {
  const a = raw.architectures;
  if (a === undefined || a === null) return;
  if (!Array.isArray(a) || a.length === 0 || !a.every((x) => typeof x === 'string' && x.length > 0)) {
    bad(`config field architectures must be a non-empty list of class names (e.g. ["GPT2LMHeadModel"]), got ${short(a)}`);
  }
  const ours = Object.keys(ARCH_BY_CLASS).filter((c) => ARCH_BY_CLASS[c] === arch);
  for (const c of a as string[]) {
    const of = ARCH_BY_CLASS[c];
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
    const known = archs.map((a) => (typeof a === 'string' ? ARCH_BY_CLASS[a] : undefined)).find((a) => a);
    if (!known) bad(`config has no model_type (and architectures ${short(r.architectures ?? null)} does not name a GPT-2 or LLaMA class)`);
    modelType = known;
  }
  if (typeof modelType !== 'string') bad(`config field model_type must be a string, got ${short(modelType)}`);
  if (modelType !== 'gpt2' && modelType !== 'llama') {
    throw new CheckpointError(
      'unsupported_arch',
      `model_type ${short(modelType)} is not supported (supported: gpt2, llama)`,
    );
  }
  checkArchitectures(r, modelType);
  return modelType === 'gpt2' ? parseGpt2(r) : parseLlama(r);
}

function parseGpt2(r: Record<string, unknown>): ModelConfig {
  const vocabSize = posInt(r, 'vocab_size');
  const hidden = posInt(r, 'n_embd');
  const layers = posInt(r, 'n_layer');
  const heads = posInt(r, 'n_head');
  divisible(hidden, heads, 'n_embd', 'n_head');
  const ffn = posInt(r, 'n_inner', 4 * hidden);
  const maxPositions = posInt(r, 'n_positions', has(r, 'n_ctx') ? posInt(r, 'n_ctx') : 1024);
  const normEps = epsilon(r, 'layer_norm_epsilon', 1e-5);
  const act = activation(r, 'activation_function', 'gpt2');
  if (bool(r, 'scale_attn_by_inverse_layer_idx', false)) {
    throw new CheckpointError('unsupported_config', 'scale_attn_by_inverse_layer_idx=true is not supported');
  }
  if (bool(r, 'add_cross_attention', false)) {
    throw new CheckpointError('unsupported_config', 'add_cross_attention=true is not supported');
  }
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
    ropeTheta: 10000,
    tiedHead: true,
    activation: act,
    bosTokenId: tokenId(r, 'bos_token_id', vocabSize),
    eosTokenId: tokenId(r, 'eos_token_id', vocabSize),
    raw: r,
  };
}

function parseLlama(r: Record<string, unknown>): ModelConfig {
  const vocabSize = posInt(r, 'vocab_size');
  const hidden = posInt(r, 'hidden_size');
  const ffn = posInt(r, 'intermediate_size');
  const layers = posInt(r, 'num_hidden_layers');
  const heads = posInt(r, 'num_attention_heads');
  const kvHeads = posInt(r, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) bad(`config field num_key_value_heads (${kvHeads}) must divide num_attention_heads (${heads}): each key/value head serves a whole group of query heads`);
  let headDim: number;
  if (has(r, 'head_dim')) headDim = posInt(r, 'head_dim');
  else {
    divisible(hidden, heads, 'hidden_size', 'num_attention_heads');
    headDim = hidden / heads;
  }
  if (headDim % 2 !== 0) bad(`head dimension ${headDim} must be even for rotary embeddings`);
  const maxPositions = posInt(r, 'max_position_embeddings', 2048);
  const normEps = epsilon(r, 'rms_norm_eps', 1e-6);
  const ropeTheta = posNum(r, 'rope_theta', 10000);
  const act = activation(r, 'hidden_act', 'llama');
  if (has(r, 'rope_scaling')) {
    const rs = r.rope_scaling as Record<string, unknown>;
    const kind = rs && typeof rs === 'object' ? (rs.rope_type ?? rs.type) : rs;
    if (kind !== 'default') {
      throw new CheckpointError('unsupported_config', `rope_scaling ${short(r.rope_scaling)} is not supported (plain RoPE only)`);
    }
  }
  if (bool(r, 'attention_bias', false)) {
    throw new CheckpointError('unsupported_config', 'attention_bias=true is not supported (LLaMA projections without bias only)');
  }
  if (bool(r, 'mlp_bias', false)) {
    throw new CheckpointError('unsupported_config', 'mlp_bias=true is not supported (LLaMA MLP without bias only)');
  }
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
    tiedHead: bool(r, 'tie_word_embeddings', false),
    activation: act,
    bosTokenId: tokenId(r, 'bos_token_id', vocabSize),
    eosTokenId: tokenId(r, 'eos_token_id', vocabSize),
    raw: r,
  };
}

/** Canonical tensor names and shapes the forward pass needs, in a stable order. */
export function expectedTensorShapes(cfg: ModelConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const d = cfg.hidden;
  if (cfg.arch === 'gpt2') {
    m.set('wte.weight', [cfg.vocabSize, d]);
    m.set('wpe.weight', [cfg.maxPositions, d]);
    for (let i = 0; i < cfg.layers; i++) {
      const p = `h.${i}.`;
      m.set(p + 'ln_1.weight', [d]);
      m.set(p + 'ln_1.bias', [d]);
      m.set(p + 'attn.c_attn.weight', [d, 3 * d]);
      m.set(p + 'attn.c_attn.bias', [3 * d]);
      m.set(p + 'attn.c_proj.weight', [d, d]);
      m.set(p + 'attn.c_proj.bias', [d]);
      m.set(p + 'ln_2.weight', [d]);
      m.set(p + 'ln_2.bias', [d]);
      m.set(p + 'mlp.c_fc.weight', [d, cfg.ffn]);
      m.set(p + 'mlp.c_fc.bias', [cfg.ffn]);
      m.set(p + 'mlp.c_proj.weight', [cfg.ffn, d]);
      m.set(p + 'mlp.c_proj.bias', [d]);
    }
    m.set('ln_f.weight', [d]);
    m.set('ln_f.bias', [d]);
    if (!cfg.tiedHead) m.set('lm_head.weight', [cfg.vocabSize, d]);
  } else {
    const q = cfg.heads * cfg.headDim;
    const kv = cfg.kvHeads * cfg.headDim;
    m.set('model.embed_tokens.weight', [cfg.vocabSize, d]);
    for (let i = 0; i < cfg.layers; i++) {
      const p = `model.layers.${i}.`;
      m.set(p + 'input_layernorm.weight', [d]);
      m.set(p + 'self_attn.q_proj.weight', [q, d]);
      m.set(p + 'self_attn.k_proj.weight', [kv, d]);
      m.set(p + 'self_attn.v_proj.weight', [kv, d]);
      m.set(p + 'self_attn.o_proj.weight', [d, q]);
      m.set(p + 'post_attention_layernorm.weight', [d]);
      m.set(p + 'mlp.gate_proj.weight', [cfg.ffn, d]);
      m.set(p + 'mlp.up_proj.weight', [cfg.ffn, d]);
      m.set(p + 'mlp.down_proj.weight', [d, cfg.ffn]);
    }
    m.set('model.norm.weight', [d]);
    if (!cfg.tiedHead) m.set('lm_head.weight', [cfg.vocabSize, d]);
  }
  return m;
}

/** Canonical names the forward pass needs. */
export function expectedTensorNames(cfg: ModelConfig): string[] {
  return [...expectedTensorShapes(cfg).keys()];
}

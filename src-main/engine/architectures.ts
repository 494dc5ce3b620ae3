// The architectures the engine runs, each described once: the Hugging Face class names it accepts, which
// config.json key holds each normalized size, the defaults transformers applies, the canonical tensor names
// and shapes, the MLP down-projection an edit writes and its layout, and whether positions are limited.
// Like transformers.js's getNormalizedConfig (configs.js) and its class mapping (models.js): the loader and
// config checks (checkpoint/), the graph builders (models/), the generation limit (runtime/model.ts), the
// model card (jobs/model-info.ts) and the playground read this table instead of spelling arch facts out.
// It sits at the engine's root, importing nothing, because checkpoint/ reads it and models/ imports
// checkpoint/: under models/ it would point the loader into the graph code.

export type ArchName = 'gpt2' | 'llama';

/** Normalized names → the config.json key that holds them (transformers' attribute names per model type). */
export interface ConfigKeys {
  vocabSize: string;
  layers: string;
  hidden: string;
  heads: string;
  /** MLP inner width */
  ffn: string;
  maxPositions: string;
  normEps: string;
  activation: string;
  /** grouped-query attention; absent: as many key/value heads as query heads */
  kvHeads?: string;
  /** explicit head width; absent: hidden / heads */
  headDim?: string;
  /** an older key read when maxPositions' key is absent (GPT-2's n_ctx) */
  maxPositionsAlias?: string;
}

/** The sizes tensor shapes follow from (checkpoint/config.ts ModelConfig extends it). */
export interface ArchSizes {
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** MLP inner width: gpt2 n_inner ?? 4 × n_embd; llama intermediate_size */
  ffn: number;
  maxPositions: number;
  /** gpt2: true unless the folder has an lm_head.weight that differs from wte; llama: tie_word_embeddings (default false) */
  tiedHead: boolean;
}

/** A config size some tensor's dimension must equal (checked before anything is sized from config.json). */
export interface SizePin {
  field: 'vocabSize' | 'layers' | 'hidden' | 'heads' | 'kvHeads' | 'ffn' | 'maxPositions';
  tensor: string;
  axis: number;
  what: string;
}

interface ArchitectureBase<Layer> {
  name: ArchName;
  /** how messages name it */
  label: string;
  /** `architectures` class names accepted; the first is what a causal-LM export writes */
  classes: readonly string[];
  keys: ConfigKeys;
  defaults: { normEps: number; maxPositions?: number; /** ffn = ffnPerHidden × hidden when the key is absent */ ffnPerHidden?: number };
  /** activations the graph implements; the first is the default (an absent key) */
  activations: readonly string[];
  /**
   * Learned absolute position embeddings (GPT-2's wpe): a position past maxPositions has no row, so prompt +
   * generated tokens must fit. Rotary positions (LLaMA) have no such hard limit.
   */
  absolutePositions: boolean;
  /** rotary embeddings: theta's key and default, and the scaling key (only rope_type "default" runs) */
  rope: { thetaKey: string; thetaDefault: number; scalingKey: string } | null;
  /**
   * 'config': tie_word_embeddings-style key (default false); 'weights': tied unless the folder holds an
   * lm_head.weight that differs from the embedding (GPT-2 exports save it either way).
   */
  tie: { from: 'config'; key: string; fallback: boolean } | { from: 'weights' };
  /** boolean config keys whose true value changes the model in a way the graph does not implement */
  refusedFlags: readonly { key: string; note?: string }[];
  /** a file prefix dropped from tensor names (GPT2LMHeadModel saves `transformer.h.0…`, GPT2Model `h.0…`) */
  tensorPrefix?: string;
  /** non-parameter buffers some exporters save; never in the tensor map */
  ignoredBuffer: RegExp;
  /** group 1: the layer index of a canonical per-layer tensor name */
  layerOf: RegExp;
  /** canonical names of the tensors outside the layers */
  tensors: { embed: string; positions?: string; finalNorm: string; finalNormBias?: string; head: string };
  /** canonical names of layer l's tensors */
  layer(l: number): Layer;
  /**
   * The MLP output projection an edit changes, and its stored layout: inputMajor [d_ff, d] (GPT-2 Conv1D,
   * the transpose of ΔW) or [d, d_ff] (nn.Linear, ΔW itself).
   */
  downProj: { weight(l: number): string; inputMajor: boolean };
  /** every tensor the forward pass needs with its shape, in a stable order */
  shapes(s: ArchSizes): Map<string, number[]>;
  /** config sizes pinned by a tensor dimension (besides vocabSize / hidden by the embedding) */
  pins: readonly SizePin[];
  /**
   * Separate attention projections whose rows are heads × headDim (q) and kvHeads × headDim (kv), checked
   * against the product of two config fields; absent where one fused projection is pinned by the width.
   */
  attnRows?: { q: string; kv: string };
}

export interface Gpt2Layer {
  ln1: string;
  ln1Bias: string;
  qkv: string;
  qkvBias: string;
  attnOut: string;
  attnOutBias: string;
  ln2: string;
  ln2Bias: string;
  mlpIn: string;
  mlpInBias: string;
  mlpDown: string;
  mlpDownBias: string;
}

export interface LlamaLayer {
  inputNorm: string;
  q: string;
  k: string;
  v: string;
  o: string;
  postNorm: string;
  gate: string;
  up: string;
  down: string;
}

export type Architecture = ArchitectureBase<Gpt2Layer> | ArchitectureBase<LlamaLayer>;

function gpt2Layer(l: number): Gpt2Layer {
  const p = `h.${l}.`;
  return {
    ln1: p + 'ln_1.weight',
    ln1Bias: p + 'ln_1.bias',
    qkv: p + 'attn.c_attn.weight',
    qkvBias: p + 'attn.c_attn.bias',
    attnOut: p + 'attn.c_proj.weight',
    attnOutBias: p + 'attn.c_proj.bias',
    ln2: p + 'ln_2.weight',
    ln2Bias: p + 'ln_2.bias',
    mlpIn: p + 'mlp.c_fc.weight',
    mlpInBias: p + 'mlp.c_fc.bias',
    mlpDown: p + 'mlp.c_proj.weight',
    mlpDownBias: p + 'mlp.c_proj.bias',
  };
}

function llamaLayer(l: number): LlamaLayer {
  const p = `model.layers.${l}.`;
  return {
    inputNorm: p + 'input_layernorm.weight',
    q: p + 'self_attn.q_proj.weight',
    k: p + 'self_attn.k_proj.weight',
    v: p + 'self_attn.v_proj.weight',
    o: p + 'self_attn.o_proj.weight',
    postNorm: p + 'post_attention_layernorm.weight',
    gate: p + 'mlp.gate_proj.weight',
    up: p + 'mlp.up_proj.weight',
    down: p + 'mlp.down_proj.weight',
  };
}

/** rope theta where a config has none (ModelConfig carries it for every arch; only rotary ones read it) */
export const DEFAULT_ROPE_THETA = 10000;

const GPT2_TOP = { embed: 'wte.weight', positions: 'wpe.weight', finalNorm: 'ln_f.weight', finalNormBias: 'ln_f.bias', head: 'lm_head.weight' };
const LLAMA_TOP = { embed: 'model.embed_tokens.weight', finalNorm: 'model.norm.weight', head: 'lm_head.weight' };

/** GPT-2: learned positions, pre-LayerNorm blocks with biases, Conv1D weights stored [d_in, d_out], tanh-GELU. */
export const GPT2: ArchitectureBase<Gpt2Layer> = {
  name: 'gpt2',
  label: 'GPT-2',
  classes: ['GPT2LMHeadModel', 'GPT2Model'],
  keys: {
    vocabSize: 'vocab_size',
    layers: 'n_layer',
    hidden: 'n_embd',
    heads: 'n_head',
    ffn: 'n_inner',
    maxPositions: 'n_positions',
    maxPositionsAlias: 'n_ctx',
    normEps: 'layer_norm_epsilon',
    activation: 'activation_function',
  },
  defaults: { normEps: 1e-5, maxPositions: 1024, ffnPerHidden: 4 },
  // gelu_pytorch_tanh and gelu_fast are the same tanh approximation as gelu_new
  activations: ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'],
  absolutePositions: true,
  rope: null,
  tie: { from: 'weights' },
  refusedFlags: [{ key: 'scale_attn_by_inverse_layer_idx' }, { key: 'add_cross_attention' }],
  tensorPrefix: 'transformer.',
  ignoredBuffer: /^h\.\d+\.attn\.(bias|masked_bias)$/,
  layerOf: /^h\.(\d+)\./,
  tensors: GPT2_TOP,
  layer: gpt2Layer,
  downProj: { weight: (l) => gpt2Layer(l).mlpDown, inputMajor: true },
  shapes(s) {
    const m = new Map<string, number[]>();
    const d = s.hidden;
    m.set(GPT2_TOP.embed, [s.vocabSize, d]);
    m.set(GPT2_TOP.positions, [s.maxPositions, d]);
    for (let i = 0; i < s.layers; i++) {
      const n = gpt2Layer(i);
      m.set(n.ln1, [d]);
      m.set(n.ln1Bias, [d]);
      m.set(n.qkv, [d, 3 * d]);
      m.set(n.qkvBias, [3 * d]);
      m.set(n.attnOut, [d, d]);
      m.set(n.attnOutBias, [d]);
      m.set(n.ln2, [d]);
      m.set(n.ln2Bias, [d]);
      m.set(n.mlpIn, [d, s.ffn]);
      m.set(n.mlpInBias, [s.ffn]);
      m.set(n.mlpDown, [s.ffn, d]);
      m.set(n.mlpDownBias, [d]);
    }
    m.set(GPT2_TOP.finalNorm, [d]);
    m.set(GPT2_TOP.finalNormBias, [d]);
    if (!s.tiedHead) m.set(GPT2_TOP.head, [s.vocabSize, d]);
    return m;
  },
  pins: [
    { field: 'maxPositions', tensor: GPT2_TOP.positions, axis: 0, what: 'rows (one per position)' },
    { field: 'ffn', tensor: gpt2Layer(0).mlpIn, axis: 1, what: 'columns' },
  ],
};

/** LLaMA: RMSNorm, rotary positions (rotate-half), SwiGLU MLP, GQA, weights stored [d_out, d_in] without biases. */
export const LLAMA: ArchitectureBase<LlamaLayer> = {
  name: 'llama',
  label: 'LLaMA',
  classes: ['LlamaForCausalLM', 'LlamaModel'],
  keys: {
    vocabSize: 'vocab_size',
    layers: 'num_hidden_layers',
    hidden: 'hidden_size',
    heads: 'num_attention_heads',
    kvHeads: 'num_key_value_heads',
    headDim: 'head_dim',
    ffn: 'intermediate_size',
    maxPositions: 'max_position_embeddings',
    normEps: 'rms_norm_eps',
    activation: 'hidden_act',
  },
  defaults: { normEps: 1e-6, maxPositions: 2048 },
  activations: ['silu'],
  absolutePositions: false,
  rope: { thetaKey: 'rope_theta', thetaDefault: DEFAULT_ROPE_THETA, scalingKey: 'rope_scaling' },
  tie: { from: 'config', key: 'tie_word_embeddings', fallback: false },
  refusedFlags: [
    { key: 'attention_bias', note: 'LLaMA projections without bias only' },
    { key: 'mlp_bias', note: 'LLaMA MLP without bias only' },
  ],
  ignoredBuffer: /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/,
  layerOf: /^model\.layers\.(\d+)\./,
  tensors: LLAMA_TOP,
  layer: llamaLayer,
  downProj: { weight: (l) => llamaLayer(l).down, inputMajor: false },
  shapes(s) {
    const m = new Map<string, number[]>();
    const d = s.hidden;
    const q = s.heads * s.headDim;
    const kv = s.kvHeads * s.headDim;
    m.set(LLAMA_TOP.embed, [s.vocabSize, d]);
    for (let i = 0; i < s.layers; i++) {
      const n = llamaLayer(i);
      m.set(n.inputNorm, [d]);
      m.set(n.q, [q, d]);
      m.set(n.k, [kv, d]);
      m.set(n.v, [kv, d]);
      m.set(n.o, [d, q]);
      m.set(n.postNorm, [d]);
      m.set(n.gate, [s.ffn, d]);
      m.set(n.up, [s.ffn, d]);
      m.set(n.down, [d, s.ffn]);
    }
    m.set(LLAMA_TOP.finalNorm, [d]);
    if (!s.tiedHead) m.set(LLAMA_TOP.head, [s.vocabSize, d]);
    return m;
  },
  pins: [{ field: 'ffn', tensor: llamaLayer(0).up, axis: 0, what: 'rows' }],
  attnRows: { q: llamaLayer(0).q, kv: llamaLayer(0).k },
};

export const ARCHITECTURES: Readonly<Record<ArchName, Architecture>> = { gpt2: GPT2, llama: LLAMA };
export const ARCH_NAMES = Object.keys(ARCHITECTURES) as ArchName[];

export function isArchName(v: unknown): v is ArchName {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(ARCHITECTURES, v);
}

/** The architecture an HF class name belongs to, or undefined. */
export function archOfClass(cls: string): ArchName | undefined {
  return ARCH_NAMES.find((a) => ARCHITECTURES[a].classes.includes(cls));
}

/** The canonical name of a tensor as stored in a file (the architecture's file prefix dropped). */
export function canonicalTensorName(arch: ArchName, name: string): string {
  const prefix = ARCHITECTURES[arch].tensorPrefix;
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * The most tokens (prompt + generated) one sequence may hold, or undefined where positions are unbounded
 * by the weights (rotary): a learned position table has maxPositions rows and nothing past them.
 */
export function positionLimit(cfg: { arch: ArchName; maxPositions: number }): number | undefined {
  return ARCHITECTURES[cfg.arch].absolutePositions ? cfg.maxPositions : undefined;
}

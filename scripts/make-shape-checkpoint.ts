// Writes a Hugging Face folder with the exact tensor names, shapes, dtypes and sharding of a real
// checkpoint (gpt2-xl, Meta-Llama-3-8B) but random weights, so memory and speed can be measured at
// real scale without downloading the real models (issue 9, item 4).
//
//   npx tsx scripts/make-shape-checkpoint.ts --arch gpt2-xl|llama3-8b --out DIR [--layers N] [--seed S]
//       [--fill random|sparse] [--force]
//
// --layers N   fewer decoder layers (quick tests); every other size stays the real one.
// --fill sparse  leaves the tensor data as file holes (all zeros, no disk blocks): for tests that only
//              read headers. The default `random` writes init-scaled random weights.
//
// Weights: matrices ~ N(0, 0.02²) (the HF initializer_range), norm weights 1, biases 0, GPT-2's
// attn.bias buffers the causal 0/1 mask they hold in the real file. Filling 6–16 GB from a PRNG in
// JS would take many minutes, so ONE block of P normal values is drawn (seeded) and every tensor is
// a window of that block starting at a per-tensor offset, wrapping around. P is prime and larger
// than any row, so no two rows of a matrix are the same window (rows never repeat or align, and
// the matrices keep full rank); the file is then written with plain buffer writes, I/O-bound.
//
// Streaming: only the block (64 MiB) and one small buffer are ever in memory.
import { resourcesDir } from '../src-main/engine/paths';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export type ShapeArch = 'gpt2-xl' | 'llama3-8b';
export const SHAPE_ARCHES: readonly ShapeArch[] = ['gpt2-xl', 'llama3-8b'];
type DType = 'F32' | 'BF16';
type Init = 'normal' | 'ones' | 'zeros' | 'causal-mask';

export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
  init: Init;
}

export interface ShapeSpec {
  arch: ShapeArch;
  layers: number;
  /** tensors in the order the model's state_dict lists them (what HF's sharding walks) */
  tensors: TensorSpec[];
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  /** HF save_pretrained's max_shard_size when the real repo is sharded, null for one model.safetensors */
  maxShardBytes: number | null;
}

const BYTES: Record<DType, number> = { F32: 4, BF16: 2 };

export function tensorBytes(t: TensorSpec): number {
  return t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
}

/** The real model's tensors and config, with `layers` decoder layers. */
export function shapeSpec(arch: ShapeArch, layers?: number): ShapeSpec {
  if (arch === 'gpt2-xl') {
    const L = layers ?? 48;
    const d = 1600;
    const V = 50257;
    const P = 1024;
    const t: TensorSpec[] = [];
    const add = (name: string, shape: number[], init: Init) => t.push({ name, dtype: 'F32', shape, init });
    // names as in openai-community/gpt2-xl model.safetensors (no `transformer.` prefix, Conv1D
    // layout [in, out], the attn.bias causal-mask buffers saved, the head tied to wte)
    add('wte.weight', [V, d], 'normal');
    add('wpe.weight', [P, d], 'normal');
    for (let i = 0; i < L; i++) {
      const p = `h.${i}.`;
      add(p + 'ln_1.weight', [d], 'ones');
      add(p + 'ln_1.bias', [d], 'zeros');
      add(p + 'attn.bias', [1, 1, P, P], 'causal-mask');
      add(p + 'attn.c_attn.weight', [d, 3 * d], 'normal');
      add(p + 'attn.c_attn.bias', [3 * d], 'zeros');
      add(p + 'attn.c_proj.weight', [d, d], 'normal');
      add(p + 'attn.c_proj.bias', [d], 'zeros');
      add(p + 'ln_2.weight', [d], 'ones');
      add(p + 'ln_2.bias', [d], 'zeros');
      add(p + 'mlp.c_fc.weight', [d, 4 * d], 'normal');
      add(p + 'mlp.c_fc.bias', [4 * d], 'zeros');
      add(p + 'mlp.c_proj.weight', [4 * d, d], 'normal');
      add(p + 'mlp.c_proj.bias', [d], 'zeros');
    }
    add('ln_f.weight', [d], 'ones');
    add('ln_f.bias', [d], 'zeros');
    return {
      arch,
      layers: L,
      tensors: t,
      maxShardBytes: null,
      // config.json of gpt2-xl as the hub serves it
      config: {
        activation_function: 'gelu_new',
        architectures: ['GPT2LMHeadModel'],
        attn_pdrop: 0.1,
        bos_token_id: 50256,
        embd_pdrop: 0.1,
        eos_token_id: 50256,
        initializer_range: 0.02,
        layer_norm_epsilon: 1e-5,
        model_type: 'gpt2',
        n_ctx: P,
        n_embd: d,
        n_head: 25,
        n_layer: L,
        n_positions: P,
        output_past: true,
        resid_pdrop: 0.1,
        summary_activation: null,
        summary_first_dropout: 0.1,
        summary_proj_to_labels: true,
        summary_type: 'cls_index',
        summary_use_proj: true,
        task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
        vocab_size: V,
      },
      generationConfig: { _from_model_config: true, bos_token_id: 50256, eos_token_id: 50256 },
    };
  }
  const L = layers ?? 32;
  const d = 4096;
  const ff = 14336;
  const kv = 8 * 128;
  const V = 128256;
  const t: TensorSpec[] = [];
  const add = (name: string, shape: number[], init: Init) => t.push({ name, dtype: 'BF16', shape, init });
  // state_dict order of LlamaForCausalLM (what save_pretrained's sharding walks)
  add('model.embed_tokens.weight', [V, d], 'normal');
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    add(p + 'self_attn.q_proj.weight', [d, d], 'normal');
    add(p + 'self_attn.k_proj.weight', [kv, d], 'normal');
    add(p + 'self_attn.v_proj.weight', [kv, d], 'normal');
    add(p + 'self_attn.o_proj.weight', [d, d], 'normal');
    add(p + 'mlp.gate_proj.weight', [ff, d], 'normal');
    add(p + 'mlp.up_proj.weight', [ff, d], 'normal');
    add(p + 'mlp.down_proj.weight', [d, ff], 'normal');
    add(p + 'input_layernorm.weight', [d], 'ones');
    add(p + 'post_attention_layernorm.weight', [d], 'ones');
  }
  add('model.norm.weight', [d], 'ones');
  add('lm_head.weight', [V, d], 'normal');
  return {
    arch,
    layers: L,
    tensors: t,
    // meta-llama/Meta-Llama-3-8B was saved with max_shard_size "5GB": this rule reproduces its four
    // shards (4 976 698 672 / 4 999 802 720 / 4 915 916 176 / 1 168 138 808 bytes, e.g. layer 8 whole
    // in shard 1, layer 20's up/down and layer 31's down_proj already in the next shard)
    maxShardBytes: 5_000_000_000,
    config: {
      architectures: ['LlamaForCausalLM'],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: 128000,
      eos_token_id: 128001,
      hidden_act: 'silu',
      hidden_size: d,
      initializer_range: 0.02,
      intermediate_size: ff,
      max_position_embeddings: 8192,
      model_type: 'llama',
      num_attention_heads: 32,
      num_hidden_layers: L,
      num_key_value_heads: 8,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 500000.0,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      transformers_version: '4.40.0.dev0',
      use_cache: true,
      vocab_size: V,
    },
    generationConfig: { _from_model_config: true, bos_token_id: 128000, eos_token_id: 128001, transformers_version: '4.40.0.dev0' },
  };
}

/**
 * HF's sharding rule: walk the state dict in order and start a new shard when the next tensor would
 * take the current one over maxShardBytes. Returns shard file names per tensor.
 */
export function assignShards(spec: ShapeSpec): { files: string[]; fileOf: Map<string, string> } {
  if (spec.maxShardBytes === null) return { files: ['model.safetensors'], fileOf: new Map(spec.tensors.map((t) => [t.name, 'model.safetensors'])) };
  const groups: TensorSpec[][] = [[]];
  let size = 0;
  for (const t of spec.tensors) {
    const b = tensorBytes(t);
    if (size + b > spec.maxShardBytes && groups[groups.length - 1].length > 0) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1].push(t);
    size += b;
  }
  const n = groups.length;
  // save_pretrained writes one plain model.safetensors (no index) when everything fits one shard
  if (n === 1) return { files: ['model.safetensors'], fileOf: new Map(spec.tensors.map((t) => [t.name, 'model.safetensors'])) };
  const pad = (i: number) => String(i).padStart(5, '0');
  const files = groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(n)}.safetensors`);
  const fileOf = new Map<string, string>();
  groups.forEach((g, i) => g.forEach((t) => fileOf.set(t.name, files[i])));
  return { files, fileOf };
}

// ---------------------------------------------------------------------------------------------
// Random block

/** Prime number of elements in the shared random block (2^24 + 43, 64 MiB as F32). */
export const BLOCK_ELEMS = 16_777_259;
const STD = 0.02;

/** xorshift128+ seeded through splitmix64 (BigInt only for seeding), uniform in (0, 1). */
function uniformSource(seed: number): () => number {
  let z = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 0x632be59bd9b4e019n);
  const next64 = () => {
    z = BigInt.asUintN(64, z + 0x9e3779b97f4a7c15n);
    let x = z;
    x = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
    x = BigInt.asUintN(64, (x ^ (x >> 27n)) * 0x94d049bb133111ebn);
    return x ^ (x >> 31n);
  };
  const s = new Uint32Array(4);
  const a = next64();
  const b = next64();
  s[0] = Number(a & 0xffffffffn) | 1;
  s[1] = Number(a >> 32n);
  s[2] = Number(b & 0xffffffffn);
  s[3] = Number(b >> 32n);
  // xoshiro128** on 32-bit words: fast in JS without BigInt
  return () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return (r + 0.5) / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** BLOCK_ELEMS values ~ N(0, STD²) (Box–Muller), as F32 bytes or BF16 bytes (round to nearest even). */
export function randomBlock(seed: number, dtype: DType, n = BLOCK_ELEMS): Buffer {
  const u = uniformSource(seed);
  const f = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u())) * STD;
    const th = 2 * Math.PI * u();
    f[i] = r * Math.cos(th);
    if (i + 1 < n) f[i + 1] = r * Math.sin(th);
  }
  if (dtype === 'F32') return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  const bits = new Uint32Array(f.buffer);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const x = bits[i];
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Deterministic start offset (in elements) of a tensor's window in the block. */
export function tensorOffset(seed: number, name: string, n = BLOCK_ELEMS): number {
  return crypto.createHash('sha256').update(`${seed}:${name}`).digest().readUInt32LE(0) % n;
}

// ---------------------------------------------------------------------------------------------
// Writing

const CHUNK = 32 << 20;

function constantBuffer(init: 'ones' | 'zeros', dtype: DType, elems: number): Buffer {
  const b = Buffer.alloc(elems * BYTES[dtype]);
  if (init === 'ones') {
    if (dtype === 'F32') new Float32Array(b.buffer, b.byteOffset, elems).fill(1);
    else new Uint16Array(b.buffer, b.byteOffset, elems).fill(0x3f80);
  }
  return b;
}

function causalMask(P: number): Buffer {
  const f = new Float32Array(P * P);
  for (let i = 0; i < P; i++) for (let j = 0; j <= i; j++) f[i * P + j] = 1;
  return Buffer.from(f.buffer);
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/** safetensors header: JSON with keys in name order (as safetensors' serializer writes them), 8-byte aligned. */
function header(tensors: TensorSpec[]): { bytes: Buffer; offsets: Map<string, number> } {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const h: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const offsets = new Map<string, number>();
  let pos = 0;
  for (const t of sorted) {
    const n = tensorBytes(t);
    h[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + n] };
    offsets.set(t.name, pos);
    pos += n;
  }
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jb = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(jb.length));
  return { bytes: Buffer.concat([len, jb]), offsets };
}

export interface WriteOptions {
  seed?: number;
  fill?: 'random' | 'sparse';
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

/** Writes the weights (and index, when sharded) of `spec` into `dir`; returns the file names. */
export function writeWeights(spec: ShapeSpec, dir: string, opts: WriteOptions = {}): string[] {
  const seed = opts.seed ?? 0;
  const fill = opts.fill ?? 'random';
  const { files, fileOf } = assignShards(spec);
  const dtype = spec.tensors[0].dtype;
  const block = fill === 'random' ? randomBlock(seed, dtype) : null;
  const total = spec.tensors.reduce((a, t) => a + tensorBytes(t), 0);
  let done = 0;
  const mask = new Map<number, Buffer>();
  for (const file of files) {
    const ts = spec.tensors.filter((t) => fileOf.get(t.name) === file);
    const { bytes: hb, offsets } = header(ts);
    const fd = fs.openSync(path.join(dir, file), 'w');
    try {
      writeAll(fd, hb);
      const dataBytes = ts.reduce((a, t) => a + tensorBytes(t), 0);
      if (fill === 'sparse') {
        fs.ftruncateSync(fd, hb.length + dataBytes);
        done += dataBytes;
        opts.onProgress?.(done, total);
        continue;
      }
      for (const t of [...ts].sort((a, b) => offsets.get(a.name)! - offsets.get(b.name)!)) {
        const n = tensorBytes(t);
        const el = BYTES[t.dtype];
        if (t.init === 'normal') {
          // a window of the block from this tensor's offset, wrapping (see the file comment)
          let pos = tensorOffset(seed, t.name) * el;
          let left = n;
          while (left > 0) {
            const take = Math.min(left, block!.length - pos, CHUNK);
            writeAll(fd, block!.subarray(pos, pos + take));
            left -= take;
            pos = (pos + take) % block!.length;
          }
        } else if (t.init === 'causal-mask') {
          const P = t.shape[t.shape.length - 1];
          if (!mask.has(P)) mask.set(P, causalMask(P));
          writeAll(fd, mask.get(P)!);
        } else {
          writeAll(fd, constantBuffer(t.init, t.dtype, n / el));
        }
        done += n;
        opts.onProgress?.(done, total);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  if (files.length > 1) {
    const weightMap = Object.fromEntries([...fileOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

/** GPT-2's byte ↔ unicode table: printable bytes map to themselves, the rest to U+0100 onwards. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Byte-level BPE vocabulary of exactly `size` entries: the 256 byte symbols (GPT-2 order), merges
 * learned greedily from `corpus` (the most frequent adjacent pair, over word types), and — when the
 * corpus runs out of repeated pairs long before 50k/128k merges — further valid merges of
 * already-known tokens with frequent letters, so ids cover the real vocabulary size. The real
 * merge tables cannot be downloaded here; this one is a real, working BPE of the right size.
 */
export function buildByteLevelBpe(corpus: string, size: number, maxLearned = 4000): { vocab: Map<string, number>; merges: [string, string][] } {
  const b2u = bytesToUnicode();
  const vocab = new Map<string, number>();
  // GPT-2's id order for the bytes: by their unicode stand-in (printable bytes first)
  const order = [...Array(256).keys()].sort((a, b) => b2u[a].codePointAt(0)! - b2u[b].codePointAt(0)!);
  for (const b of order) vocab.set(b2u[b], vocab.size);
  const merges: [string, string][] = [];
  const enc = new TextEncoder();
  const freq = new Map<string, number>();
  for (const m of corpus.matchAll(GPT2_SPLIT)) {
    const w = Array.from(enc.encode(m[0]), (b) => b2u[b]).join('\u0000');
    freq.set(w, (freq.get(w) ?? 0) + 1);
  }
  let words = [...freq].map(([w, f]) => ({ s: w.split('\u0000'), f }));
  while (vocab.size < size && merges.length < maxLearned) {
    const pairs = new Map<string, number>();
    for (const { s, f } of words) for (let i = 0; i + 1 < s.length; i++) {
      const k = s[i] + '\u0000' + s[i + 1];
      pairs.set(k, (pairs.get(k) ?? 0) + f);
    }
    let best = '';
    let bestN = 1;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && best !== '' && k < best)) [best, bestN] = [k, n];
    if (!best) break;
    const [a, b] = best.split('\u0000');
    const ab = a + b;
    if (vocab.has(ab)) break;
    merges.push([a, b]);
    vocab.set(ab, vocab.size);
    for (const w of words) {
      const s = w.s;
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) s.splice(i, 2, ab);
    }
    words = words.filter((w) => w.s.length > 1);
  }
  // fill to `size`: token + frequent letter, in id order (valid merges whose parts both exist)
  const letters = 'etaoinshrdlcumwfgypbvkjxqz'.split('');
  const known = [...vocab.keys()];
  for (let i = 0; vocab.size < size; i++) {
    const a = known[i % known.length];
    const b = letters[Math.floor(i / known.length) % letters.length];
    if (a.length > 12 || vocab.has(a + b)) continue;
    merges.push([a, b]);
    vocab.set(a + b, vocab.size);
    known.push(a + b);
  }
  return { vocab, merges };
}

function readCorpus(): string {
  return fs.readFileSync(path.join(resourcesDir(), 'corpus', 'default.txt'), 'utf8');
}

function addedToken(id: number, content: string, normalized: boolean) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}

/** tokenizer.json / tokenizer_config.json / special_tokens_map.json as transformers writes them. */
export function tokenizerFiles(arch: ShapeArch, corpus = readCorpus()): Record<string, unknown> {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  if (arch === 'gpt2-xl') {
    const { vocab, merges } = buildByteLevelBpe(corpus, 50256);
    const eot = '<|endoftext|>';
    vocab.set(eot, 50256);
    const tok = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [addedToken(50256, eot, true)],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: byteLevel,
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab: Object.fromEntries(vocab),
        merges: merges.map(([a, b]) => `${a} ${b}`),
      },
    };
    return {
      'tokenizer.json': tok,
      'tokenizer_config.json': {
        add_prefix_space: false,
        added_tokens_decoder: { '50256': { content: eot, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true } },
        bos_token: eot,
        clean_up_tokenization_spaces: true,
        eos_token: eot,
        model_max_length: 1024,
        tokenizer_class: 'GPT2Tokenizer',
        unk_token: eot,
      },
      'special_tokens_map.json': { bos_token: eot, eos_token: eot, unk_token: eot },
    };
  }
  // LLaMA 3: tiktoken-style byte-level BPE of 128 000 entries, then 256 special tokens
  const { vocab, merges } = buildByteLevelBpe(corpus, 128000);
  const specials: string[] = [];
  for (let i = 0; i < 256; i++) {
    const fixed: Record<number, string> = {
      0: '<|begin_of_text|>',
      1: '<|end_of_text|>',
      6: '<|start_header_id|>',
      7: '<|end_header_id|>',
      9: '<|eot_id|>',
    };
    // the real file numbers the reserved tokens 0, 1, 2, 3, then 4 after end_header_id, 5.. after eot_id
    specials.push(fixed[i] ?? `<|reserved_special_token_${i < 6 ? i - 2 : i === 8 ? 4 : i - 5}|>`);
  }
  const bot = '<|begin_of_text|>';
  const eot = '<|end_of_text|>';
  const tok = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s, i) => addedToken(128000 + i, s, false)),
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: bot, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bot, type_id: 0 } },
            { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: bot, type_id: 1 } },
            { Sequence: { id: 'B', type_id: 1 } },
          ],
          special_tokens: { [bot]: { id: bot, ids: [128000], tokens: [bot] } },
        },
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab: Object.fromEntries(vocab),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  return {
    'tokenizer.json': tok,
    'tokenizer_config.json': {
      added_tokens_decoder: Object.fromEntries(
        specials.map((s, i) => [String(128000 + i), { content: s, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }]),
      ),
      bos_token: bot,
      clean_up_tokenization_spaces: true,
      eos_token: eot,
      model_input_names: ['input_ids', 'attention_mask'],
      model_max_length: 1e30,
      tokenizer_class: 'PreTrainedTokenizerFast',
    },
    'special_tokens_map.json': { bos_token: bot, eos_token: eot },
  };
}

// ---------------------------------------------------------------------------------------------

const tokenizerMemo = new Map<ShapeArch, Record<string, unknown>>();

export interface MakeOptions extends WriteOptions {
  layers?: number;
  force?: boolean;
}

/** Writes the whole folder; refuses a non-empty folder unless force. Returns the spec written. */
export function makeShapeCheckpoint(arch: ShapeArch, dir: string, opts: MakeOptions = {}): ShapeSpec {
  if (!SHAPE_ARCHES.includes(arch)) throw new Error(`unknown --arch ${arch} (${SHAPE_ARCHES.join(', ')})`);
  if (opts.layers !== undefined && (!Number.isInteger(opts.layers) || opts.layers < 1)) throw new Error(`--layers must be a positive integer`);
  const spec = shapeSpec(arch, opts.layers);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    if (!opts.force) throw new Error(`${dir} is not empty (pass --force to overwrite)`);
    for (const f of fs.readdirSync(dir)) if (/\.(safetensors|json)$/.test(f)) fs.rmSync(path.join(dir, f));
  }
  fs.mkdirSync(dir, { recursive: true });
  const json = (f: string, v: unknown) => fs.writeFileSync(path.join(dir, f), JSON.stringify(v, null, 2) + '\n');
  json('generation_config.json', spec.generationConfig);
  // the BPE is trained once per arch per process (seconds for 128k entries)
  if (!tokenizerMemo.has(arch)) tokenizerMemo.set(arch, tokenizerFiles(arch));
  for (const [f, v] of Object.entries(tokenizerMemo.get(arch)!)) json(f, v);
  writeWeights(spec, dir, opts);
  // config.json last: the bench takes a folder with a config.json for a finished checkpoint, so an
  // interrupted write is redone instead of being opened without its weights
  json('config.json', spec.config);
  return spec;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string' },
      out: { type: 'string' },
      layers: { type: 'string' },
      seed: { type: 'string' },
      fill: { type: 'string' },
      force: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.arch || !values.out) {
    console.error('usage: make-shape-checkpoint.ts --arch gpt2-xl|llama3-8b --out DIR [--layers N] [--seed S] [--fill random|sparse] [--force]');
    process.exit(2);
  }
  const fill = (values.fill ?? 'random') as 'random' | 'sparse';
  if (fill !== 'random' && fill !== 'sparse') throw new Error(`--fill must be random or sparse`);
  const t0 = performance.now();
  let last = 0;
  const spec = makeShapeCheckpoint(values.arch as ShapeArch, path.resolve(values.out), {
    layers: values.layers ? Number(values.layers) : undefined,
    seed: values.seed ? Number(values.seed) : 0,
    fill,
    force: values.force,
    onProgress: (d, t) => {
      const now = performance.now();
      if (now - last > 2000 || d === t) {
        last = now;
        process.stderr.write(`\r${(d / 2 ** 30).toFixed(2)} / ${(t / 2 ** 30).toFixed(2)} GiB`);
      }
    },
  });
  const bytes = spec.tensors.reduce((a, t) => a + tensorBytes(t), 0);
  process.stderr.write(`\nwrote ${values.arch} (${spec.layers} layers, ${spec.tensors.length} tensors, ${(bytes / 2 ** 30).toFixed(2)} GiB) to ${values.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

// run as a script (not when imported, nor when bundled into scripts/device-pack.sh's bench.mjs, where every
// module shares the bundle's URL)
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && !process.env.EAC_BUNDLED) {
  await main();
}

// Writes a checkpoint folder with the real tensor names, shapes and dtype of a model family at any
// width and layer count, filled with small random values (norm weights 1, biases 0), so memory can
// be measured at real widths without downloading weights. The tokenizer is a fixture's (its ids are
// a subset of any vocabulary used here). Data is streamed: a 16 GB checkpoint never sits in memory.
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig, expectedTensorShapes } from '../../src-main/engine/checkpoint/config';
import { seededRandom } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

export type ShapeDType = 'F32' | 'BF16' | 'F16';

export interface ShapeSpec {
  arch: 'gpt2' | 'llama';
  layers: number;
  dtype: ShapeDType;
  /** config.json fields beyond the family defaults below (widths, vocab, heads...) */
  config?: Record<string, unknown>;
  /** split into shards of at most this many bytes (HF: 5 GB); one file when absent */
  shardBytes?: number;
  seed?: number;
}

/** LLaMA-3-8B's config.json (num_hidden_layers replaced by `layers`). */
export const LLAMA3_8B: Record<string, unknown> = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 8192,
  rope_theta: 500000.0,
  rms_norm_eps: 1e-5,
  hidden_act: 'silu',
  bos_token_id: 1,
  eos_token_id: 2,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

/** GPT-2 XL's config.json (n_layer replaced by `layers`). */
export const GPT2_XL: Record<string, unknown> = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 50257,
  n_embd: 1600,
  n_layer: 48,
  n_head: 25,
  n_positions: 1024,
  n_ctx: 1024,
  activation_function: 'gelu_new',
  layer_norm_epsilon: 1e-5,
  bos_token_id: 1023,
  eos_token_id: 1023,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
};

const BYTES: Record<ShapeDType, number> = { F32: 4, BF16: 2, F16: 2 };


function f16Bits(x: number): number {
  // round-to-nearest float16 for |x| well inside the normal range (the values written here)
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (exp << 10) | (((u >>> 13) & 0x3ff) + ((u >>> 12) & 1));
}

/** `count` values of `fill` (or random ±0.035 ≈ std 0.02) encoded in `dtype`. */
function encode(dtype: ShapeDType, values: Float32Array): Buffer {
  if (dtype === 'F32') return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  if (dtype === 'BF16') {
    const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let i = 0; i < values.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;
  } else for (let i = 0; i < values.length; i++) out[i] = f16Bits(values[i]);
  return Buffer.from(out.buffer);
}

export interface ShapeCheckpoint {
  dir: string;
  /** bytes of tensor data (the weight bytes the memory budget is relative to) */
  weightBytes: number;
  files: string[];
}

/** Writes the folder `dir` (created; existing weight files are overwritten). */
export function writeShapeCheckpoint(dir: string, spec: ShapeSpec): ShapeCheckpoint {
  const base = spec.arch === 'gpt2' ? GPT2_XL : LLAMA3_8B;
  const raw = { ...base, ...(spec.config ?? {}), [spec.arch === 'gpt2' ? 'n_layer' : 'num_hidden_layers']: spec.layers };
  raw.torch_dtype = spec.dtype === 'F32' ? 'float32' : spec.dtype === 'BF16' ? 'bfloat16' : 'float16';
  const cfg = parseConfig(raw);
  const shapes = [...expectedTensorShapes(cfg)].map(([n, s]) => ({ name: spec.arch === 'gpt2' ? `transformer.${n}` : n, shape: s }));
  if (spec.arch === 'gpt2') {
    // GPT2LMHeadModel files carry the tied head too (the loader drops it as identical to wte)
    shapes.push({ name: 'lm_head.weight', shape: shapes[0].shape });
  }
  fs.mkdirSync(dir, { recursive: true });
  const bpe = BYTES[spec.dtype];
  const sizeOf = (s: number[]) => s.reduce((a, b) => a * b, 1) * bpe;
  // shard assignment in order, HF style
  const shards: { name: string; shape: number[] }[][] = [[]];
  let cur = 0;
  for (const t of shapes) {
    const n = sizeOf(t.shape);
    if (spec.shardBytes && cur > 0 && cur + n > spec.shardBytes) {
      shards.push([]);
      cur = 0;
    }
    shards[shards.length - 1].push(t);
    cur += n;
  }
  const rand = seededRandom(spec.seed ?? 1234);
  const POOL = 1 << 22; // 4M values, reused at random offsets
  const pool = new Float32Array(POOL * 2);
  for (let i = 0; i < POOL; i++) pool[i] = (rand() * 2 - 1) * 0.035;
  pool.copyWithin(POOL, 0, POOL);
  const poolEnc = encode(spec.dtype, pool);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  let weightBytes = 0;
  shards.forEach((list, si) => {
    const file = shards.length === 1 ? 'model.safetensors' : `model-${String(si + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    files.push(file);
    const header: Record<string, unknown> = {};
    let off = 0;
    for (const t of list) {
      const n = sizeOf(t.shape);
      header[t.name] = { dtype: spec.dtype, shape: t.shape, data_offsets: [off, off + n] };
      weightMap[t.name] = file;
      off += n;
    }
    let json = Buffer.from(JSON.stringify(header), 'utf8');
    const pad = (8 - (json.length % 8)) % 8;
    if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
    const fd = fs.openSync(path.join(dir, file), 'w');
    try {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      fs.writeSync(fd, len);
      fs.writeSync(fd, json);
      for (const t of list) {
        let left = sizeOf(t.shape);
        weightBytes += left;
        const short = t.shape.length === 1;
        if (short) {
          const isNormWeight = /(ln_\d|ln_f|norm|layernorm)\.weight$/.test(t.name);
          fs.writeSync(fd, encode(spec.dtype, new Float32Array(left / bpe).fill(isNormWeight ? 1 : 0)));
          continue;
        }
        while (left > 0) {
          const start = Math.floor(rand() * POOL) * bpe;
          const n = Math.min(left, POOL * bpe);
          fs.writeSync(fd, poolEnc, start, n);
          left -= n;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  });
  if (files.length > 1) {
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: weightBytes }, weight_map: weightMap }));
  } else fs.rmSync(path.join(dir, 'model.safetensors.index.json'), { force: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw, null, 1));
  const tokSrc = path.join(FIXTURES, spec.arch === 'gpt2' ? 'gpt2-world-a' : 'llama-world-a');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokSrc, f), path.join(dir, f));
  return { dir, weightBytes, files };
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import {
  loadCheckpoint,
  parseConfig,
  readTensorF32,
  readSafetensorsHeader,
  expectedTensorShapes,
  writeSafetensors,
  CheckpointError,
  type StDType,
} from '../../src-main/engine/checkpoint';

import { FIXTURES as FIX } from '../shared';
let TMP = '';
let counter = 0;

beforeAll(() => {
  TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-ck-test-'));
});
afterAll(() => {
  if (TMP) fs.rmSync(TMP, { recursive: true, force: true });
});

// ---------- builders ----------

type Entry = { dtype: string; shape: unknown; data_offsets: unknown };

/** Writes a hand-made safetensors file: exact header text, a chosen length field and data size. */
function craftSt(
  file: string,
  header: Record<string, Entry | unknown> | string,
  dataBytes: number,
  opts: { lenOverride?: bigint; truncateTo?: number } = {},
): void {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const hb = Buffer.from(text, 'utf8');
  const buf = Buffer.alloc(8 + hb.length + dataBytes);
  buf.writeBigUInt64LE(opts.lenOverride ?? BigInt(hb.length), 0);
  hb.copy(buf, 8);
  for (let i = 8 + hb.length; i < buf.length; i++) buf[i] = i & 0xff;
  fs.writeFileSync(file, opts.truncateTo === undefined ? buf : buf.subarray(0, opts.truncateTo));
}

function newDir(): string {
  const d = path.join(TMP, `case-${++counter}`);
  fs.mkdirSync(d);
  return d;
}

// token ids inside the shrunk vocabulary (config.json's bos/eos ids are checked against vocab_size)
const TINY_GPT2 = { vocab_size: 8, n_embd: 4, n_layer: 1, n_head: 2, n_inner: 8, n_positions: 4, n_ctx: 4, bos_token_id: 0, eos_token_id: 0 };
const TINY_LLAMA = {
  vocab_size: 8,
  hidden_size: 4,
  intermediate_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 16,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** A folder with the fixture's config.json (dims shrunk) and tokenizer.json copied. */
function tinyFolder(arch: 'gpt2' | 'llama', overrides: Record<string, unknown> = {}): string {
  const d = newDir();
  const src = path.join(FIX, arch === 'gpt2' ? 'gpt2-world-a' : 'llama-world-a');
  const cfg = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8'));
  Object.assign(cfg, arch === 'gpt2' ? TINY_GPT2 : TINY_LLAMA, overrides);
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg, null, 1));
  fs.copyFileSync(path.join(src, 'tokenizer.json'), path.join(d, 'tokenizer.json'));
  return d;
}

function f32Data(n: number, seed: number): Uint8Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(seed * 131 + i * 0.7);
  return new Uint8Array(a.buffer);
}

type T = { name: string; dtype: StDType; shape: number[]; data: Uint8Array };

/** The full tensor set of a tiny config, as F32, with optional renames. */
function tinyTensors(dir: string, rename: (n: string) => string = (n) => n): T[] {
  const cfg = parseConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
  let seed = 0;
  return [...expectedTensorShapes(cfg)].map(([name, shape]) => ({
    name: rename(name),
    dtype: 'F32' as StDType,
    shape,
    data: f32Data(shape.reduce((a, b) => a * b, 1), ++seed),
  }));
}

function expectCkError(fn: () => unknown, code: string, ...mentions: string[]): CheckpointError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected CheckpointError ${code}`).toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  expect(ce.code, ce.message).toBe(code);
  for (const m of mentions) expect(ce.message).toContain(m);
  return ce;
}

const ST = 'model.safetensors';
const two = {
  'h.0.a': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
  'h.0.b': { dtype: 'F32', shape: [4], data_offsets: [16, 32] },
};

// ---------- safetensors header validation ----------

describe('safetensors validation', () => {
  it('accepts a well-formed file with unused bytes in the data section', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { __metadata__: { format: 'pt' }, ...two }, 64);
    const h = readSafetensorsHeader(f);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.tensors.map((t) => t.name)).toEqual(['h.0.a', 'h.0.b']);
    expect(h.tensors[1].offset).toBe(h.dataStart + 16);
  });

  it('truncated file (tensor data cut off) -> file_truncated naming the file and tensor', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    const hlen = Buffer.byteLength(JSON.stringify(two));
    craftSt(f, two, 32, { truncateTo: 8 + hlen + 20 });
    expectCkError(() => loadCheckpoint(d), 'file_truncated', f, '"h.0.b"');
  });

  it('file shorter than 8 bytes -> file_truncated', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    fs.writeFileSync(f, Buffer.from([1, 2, 3]));
    expectCkError(() => loadCheckpoint(d), 'file_truncated', f, '3 bytes');
  });

  it('header length 2^64-1 -> header_too_large naming the file', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, two, 32, { lenOverride: 0xffffffffffffffffn });
    expectCkError(() => loadCheckpoint(d), 'header_too_large', f, '18446744073709551615');
  });

  it('header length 100 MB + 1 -> header_too_large', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, two, 32, { lenOverride: 100_000_001n });
    expectCkError(() => loadCheckpoint(d), 'header_too_large', f);
  });

  it('header length beyond the end of the file -> file_truncated', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, two, 32, { lenOverride: 5000n });
    expectCkError(() => loadCheckpoint(d), 'file_truncated', f, '5000');
  });

  it('header length 0 -> header_too_short', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, two, 32, { lenOverride: 0n });
    expectCkError(() => loadCheckpoint(d), 'header_too_short', f);
  });

  it('header not JSON -> header_json naming the file', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, '{"h.0.a": {"dtype": "F32", "shape": [2,2], "data_offsets": [0,16]', 16);
    expectCkError(() => loadCheckpoint(d), 'header_json', f, 'not valid JSON');
  });

  it('header a JSON array -> header_json', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, '[1, 2, 3]', 16);
    expectCkError(() => loadCheckpoint(d), 'header_json', f, 'object');
  });

  it('__metadata__ with a non-string value -> header_json', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { __metadata__: { format: 1 }, ...two }, 32);
    expectCkError(() => loadCheckpoint(d), 'header_json', f, '__metadata__', 'format');
  });

  it('offsets past the data section -> offset_out_of_range naming file and tensor', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { ...two, 'h.0.far': { dtype: 'F32', shape: [2], data_offsets: [4000, 4008] } }, 40);
    expectCkError(() => loadCheckpoint(d), 'offset_out_of_range', f, '"h.0.far"', '4008');
  });

  it('begin > end -> offset_out_of_range', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { 'h.0.rev': { dtype: 'F32', shape: [0], data_offsets: [16, 8] } }, 32);
    expectCkError(() => loadCheckpoint(d), 'offset_out_of_range', f, '"h.0.rev"', 'begin > end');
  });

  it('non-integer offsets -> offset_out_of_range', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { 'h.0.x': { dtype: 'F32', shape: [1], data_offsets: [0.5, 4.5] } }, 32);
    expectCkError(() => loadCheckpoint(d), 'offset_out_of_range', f, '"h.0.x"');
  });

  it('overlapping tensors -> overlap naming both tensors', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(
      f,
      {
        'h.0.a': { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
        'h.0.b': { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      },
      32,
    );
    expectCkError(() => loadCheckpoint(d), 'overlap', f, '"h.0.a"', '"h.0.b"');
  });

  it('dtype x shape != byte length -> length_mismatch naming the tensor', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { 'h.0.a': { dtype: 'F16', shape: [2, 3], data_offsets: [0, 16] } }, 32);
    expectCkError(() => loadCheckpoint(d), 'length_mismatch', f, '"h.0.a"', '12');
  });

  it('unknown dtype -> bad_dtype naming the tensor and dtype', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { ...two, 'h.0.q': { dtype: 'F8_E4M3', shape: [8], data_offsets: [32, 40] } }, 40);
    expectCkError(() => loadCheckpoint(d), 'bad_dtype', f, '"h.0.q"', 'F8_E4M3');
  });

  it('negative or fractional shape -> bad_shape', () => {
    const d = tinyFolder('gpt2');
    const f = path.join(d, ST);
    craftSt(f, { 'h.0.s': { dtype: 'F32', shape: [-1, 4], data_offsets: [0, 16] } }, 16);
    expectCkError(() => loadCheckpoint(d), 'bad_shape', f, '"h.0.s"');
    craftSt(f, { 'h.0.s': { dtype: 'F32', shape: [1.5], data_offsets: [0, 16] } }, 16);
    expectCkError(() => loadCheckpoint(d), 'bad_shape', f, '"h.0.s"');
  });
});

// ---------- folder rules ----------

describe('folder rules', () => {
  it('transformer.-prefixed GPT-2 names are accepted; attn.bias/masked_bias buffers are ignored', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d, (n) => (n === 'wte.weight' ? n : 'transformer.' + n));
    ts.push({ name: 'transformer.h.0.attn.bias', dtype: 'F32', shape: [1, 1, 4, 4], data: f32Data(16, 99) });
    ts.push({ name: 'transformer.h.0.attn.masked_bias', dtype: 'F32', shape: [], data: f32Data(1, 98) });
    writeSafetensors(path.join(d, ST), ts, { format: 'pt' });
    const ck = loadCheckpoint(d);
    expect(ck.tensors.size).toBe(2 + 12 + 2);
    expect(ck.tensors.has('h.0.attn.c_attn.weight')).toBe(true);
    expect(ck.tensors.has('transformer.h.0.attn.c_attn.weight')).toBe(false);
    expect(ck.tensors.has('h.0.attn.bias')).toBe(false);
    expect(ck.tensors.has('h.0.attn.masked_bias')).toBe(false);
    expect(ck.config.tiedHead).toBe(true);
    const want = ts.find((t) => t.name === 'transformer.h.0.mlp.c_fc.weight')!;
    expect(Buffer.from(readTensorF32(ck, 'h.0.mlp.c_fc.weight').buffer).equals(Buffer.from(want.data))).toBe(true);
  });

  it('GPT-2 lm_head identical to wte stays tied; a different one unties the head', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d);
    const wte = ts.find((t) => t.name === 'wte.weight')!;
    writeSafetensors(path.join(d, ST), [...ts, { ...wte, name: 'lm_head.weight' }]);
    let ck = loadCheckpoint(d);
    expect(ck.config.tiedHead).toBe(true);
    expect(ck.tensors.has('lm_head.weight')).toBe(false);

    writeSafetensors(path.join(d, ST), [...ts, { ...wte, name: 'lm_head.weight', data: f32Data(32, 1234) }]);
    ck = loadCheckpoint(d);
    expect(ck.config.tiedHead).toBe(false);
    expect(ck.tensors.get('lm_head.weight')?.shape).toEqual([8, 4]);
  });

  it('duplicate after canonicalization -> duplicate_tensor', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d);
    const f = path.join(d, ST);
    writeSafetensors(f, [...ts, { ...ts[3], name: 'transformer.' + ts[3].name }]);
    expectCkError(() => loadCheckpoint(d), 'duplicate_tensor', f, ts[3].name);
  });

  it('missing tensors -> one missing_tensor error naming all of them and the folder', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d).filter((t) => t.name !== 'h.0.ln_2.bias' && t.name !== 'wpe.weight');
    writeSafetensors(path.join(d, ST), ts);
    expectCkError(() => loadCheckpoint(d), 'missing_tensor', d, ST, 'h.0.ln_2.bias', 'wpe.weight', '2 tensors');
  });

  it('wrong shape for an expected tensor -> shape_mismatch naming tensor, file and shapes', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d).map((t) =>
      t.name === 'h.0.attn.c_attn.weight' ? { ...t, shape: [12, 4] } : t, // transposed (nn.Linear layout)
    );
    writeSafetensors(path.join(d, ST), ts);
    expectCkError(() => loadCheckpoint(d), 'shape_mismatch', 'h.0.attn.c_attn.weight', ST, '[12, 4]', '[4, 12]');
  });

  it('integer weights for an expected tensor -> bad_dtype', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d).map((t) => (t.name === 'ln_f.bias' ? { ...t, dtype: 'I32' as StDType } : t));
    writeSafetensors(path.join(d, ST), ts);
    expectCkError(() => loadCheckpoint(d), 'bad_dtype', 'ln_f.bias', 'I32');
  });

  it('no config.json -> no_config; bad JSON -> bad_config; unknown model_type -> unsupported_arch', () => {
    const d = newDir();
    expectCkError(() => loadCheckpoint(d), 'no_config', d, 'config.json');
    fs.writeFileSync(path.join(d, 'config.json'), '{ nope');
    expectCkError(() => loadCheckpoint(d), 'bad_config', path.join(d, 'config.json'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ model_type: 'mistral' }));
    expectCkError(() => loadCheckpoint(d), 'unsupported_arch', 'mistral', path.join(d, 'config.json'));
  });

  it('parseConfig gives specific errors', () => {
    expectCkError(() => parseConfig({ model_type: 'llama', ...TINY_LLAMA, hidden_size: 190, num_attention_heads: 6, num_key_value_heads: 6 }), 'bad_config', 'num_attention_heads (6) must divide hidden_size (190)');
    expectCkError(() => parseConfig({ model_type: 'gpt2', ...TINY_GPT2, n_embd: 10, n_head: 3 }), 'bad_config', 'n_head (3) must divide n_embd (10)');
    expectCkError(() => parseConfig({ model_type: 'llama', ...TINY_LLAMA, num_key_value_heads: 3 }), 'bad_config', 'num_key_value_heads (3) must divide num_attention_heads (2)');
    expectCkError(() => parseConfig({ model_type: 'gpt2', ...TINY_GPT2, n_layer: undefined }), 'bad_config', 'n_layer');
    expectCkError(() => parseConfig({ model_type: 'gpt2', ...TINY_GPT2, vocab_size: '8' }), 'bad_config', 'vocab_size');
    expectCkError(() => parseConfig({ model_type: 'bert' }), 'unsupported_arch', 'bert');
    expectCkError(() => parseConfig([1]), 'bad_config');
    const g = parseConfig({ model_type: 'gpt2', vocab_size: 8, n_embd: 4, n_layer: 1, n_head: 2 });
    expect(g.ffn).toBe(16);
    expect(g.activation).toBe('gelu_new');
    expect(g.maxPositions).toBe(1024);
    const l = parseConfig({ model_type: 'llama', ...TINY_LLAMA, num_key_value_heads: undefined, tie_word_embeddings: undefined, eos_token_id: [2, 7] });
    expect(l.kvHeads).toBe(2);
    expect(l.tiedHead).toBe(false);
    expect(l.ropeTheta).toBe(10000);
    expect(l.activation).toBe('silu');
    expect(l.eosTokenId).toBe(2);
  });

  it('pickle-only folder -> pickle_only explaining the danger and the conversion', () => {
    const d = tinyFolder('gpt2');
    fs.writeFileSync(path.join(d, 'pytorch_model.bin'), Buffer.from('PK\x03\x04 not really'));
    const e = expectCkError(() => loadCheckpoint(d), 'pickle_only', d, 'pytorch_model.bin', 'execute', 'without Python');
    expect(e.message).toContain(
      `python -c "from transformers import AutoModelForCausalLM as M; M.from_pretrained('${d}').save_pretrained('${d}', safe_serialization=True)"`,
    );
  });

  it('folder without weights -> no_weights', () => {
    const d = tinyFolder('gpt2');
    expectCkError(() => loadCheckpoint(d), 'no_weights', d, ST);
  });

  it('weight file symlinked from outside the folder -> symlink_outside; a link inside is fine', () => {
    const outside = newDir();
    const d = tinyFolder('gpt2');
    writeSafetensors(path.join(outside, 'real.safetensors'), tinyTensors(d));
    fs.symlinkSync(path.join(outside, 'real.safetensors'), path.join(d, ST));
    expectCkError(() => loadCheckpoint(d), 'symlink_outside', path.join(d, ST), outside);

    const d2 = tinyFolder('gpt2');
    fs.mkdirSync(path.join(d2, 'blobs'));
    writeSafetensors(path.join(d2, 'blobs', 'abc'), tinyTensors(d2));
    fs.symlinkSync(path.join('blobs', 'abc'), path.join(d2, ST));
    expect(loadCheckpoint(d2).tensors.size).toBe(16);
  });
});

// ---------- sharded (index) folders ----------

function shardedLlama(opts: { tied?: boolean } = {}): { dir: string; shards: string[]; map: Record<string, string>; tensors: T[] } {
  const d = tinyFolder('llama', opts.tied ? { tie_word_embeddings: true } : {});
  const ts = tinyTensors(d).map((t) => ({ ...t, dtype: 'BF16' as StDType, data: t.data.subarray(0, t.data.byteLength / 2) }));
  const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const half = Math.ceil(ts.length / 2);
  const map: Record<string, string> = {};
  ts.forEach((t, i) => (map[t.name] = shards[i < half ? 0 : 1]));
  writeSafetensors(path.join(d, shards[0]), ts.slice(0, half), { format: 'pt' });
  writeSafetensors(path.join(d, shards[1]), ts.slice(half), { format: 'pt' });
  writeIndex(d, map);
  return { dir: d, shards, map, tensors: ts };
}

function writeIndex(d: string, map: Record<string, string>): void {
  fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }, null, 1));
}

describe('sharded folders', () => {
  it('loads a valid 2-shard BF16 LLaMA (GQA) built in the temp dir', () => {
    const { dir, shards, map, tensors } = shardedLlama();
    const ck = loadCheckpoint(dir);
    expect(ck.files).toEqual(shards);
    expect(ck.tensors.size).toBe(1 + 2 * 9 + 1 + 1);
    for (const [n, s] of Object.entries(map)) expect(ck.tensors.get(n)!.file).toBe(s);
    expect(ck.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([2, 4]);
    const t = tensors.find((x) => x.name === 'model.layers.1.mlp.down_proj.weight')!;
    const u16 = new Uint16Array(t.data.slice().buffer);
    const want = Float32Array.from(u16, (h) => new Float32Array(new Uint32Array([h * 65536]).buffer)[0]);
    expect(Array.from(readTensorF32(ck, t.name))).toEqual(Array.from(want));
  });

  it('tied LLaMA without lm_head loads', () => {
    const { dir } = shardedLlama({ tied: true });
    const ck = loadCheckpoint(dir);
    expect(ck.config.tiedHead).toBe(true);
    expect(ck.tensors.has('lm_head.weight')).toBe(false);
  });

  it('missing shard -> missing_shard naming the shard and the index', () => {
    const { dir, shards } = shardedLlama();
    fs.rmSync(path.join(dir, shards[1]));
    expectCkError(() => loadCheckpoint(dir), 'missing_shard', shards[1], 'model.safetensors.index.json');
  });

  it('index naming the wrong shard -> shard_mismatch naming tensor and both shards', () => {
    const { dir, shards, map } = shardedLlama();
    const name = 'model.norm.weight';
    const actual = map[name];
    const wrong = shards.find((s) => s !== actual)!;
    writeIndex(dir, { ...map, [name]: wrong });
    expectCkError(() => loadCheckpoint(dir), 'shard_mismatch', `"${name}"`, wrong, actual);
  });

  it('index naming a tensor no shard has -> missing_tensor', () => {
    const { dir, map, shards } = shardedLlama();
    writeIndex(dir, { ...map, 'model.layers.9.mlp.up_proj.weight': shards[0] });
    expectCkError(() => loadCheckpoint(dir), 'missing_tensor', 'model.layers.9.mlp.up_proj.weight', shards[0]);
  });

  it('index naming a path outside the folder -> bad_index', () => {
    const { dir, map } = shardedLlama();
    writeIndex(dir, { ...map, 'model.norm.weight': '../model-00001-of-00002.safetensors' });
    expectCkError(() => loadCheckpoint(dir), 'bad_index', 'model.norm.weight', '../model-00001-of-00002.safetensors');
  });

  it('tensor in two shards -> duplicate_tensor', () => {
    const { dir, shards, tensors } = shardedLlama();
    const half = Math.ceil(tensors.length / 2);
    writeSafetensors(path.join(dir, shards[1]), [...tensors.slice(half), tensors[0]]);
    expectCkError(() => loadCheckpoint(dir), 'duplicate_tensor', tensors[0].name, shards[0], shards[1]);
  });

  it('a malformed shard is reported with the shard path', () => {
    const { dir, shards } = shardedLlama();
    const f = path.join(dir, shards[1]);
    craftSt(f, { 'model.norm.weight': { dtype: 'BF16', shape: [4], data_offsets: [0, 4] } }, 8);
    expectCkError(() => loadCheckpoint(dir), 'length_mismatch', f, '"model.norm.weight"');
  });
});

// ---------- NaN / Inf weights ----------

describe('non-finite weights', () => {
  it('a NaN in a sampled part of a tensor -> non_finite at open, naming file, tensor and element', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d).map((t) => {
      if (t.name !== 'h.0.mlp.c_proj.weight') return t;
      const a = new Float32Array(t.data.slice().buffer);
      a[3] = NaN;
      return { ...t, data: new Uint8Array(a.buffer) };
    });
    writeSafetensors(path.join(d, ST), ts);
    expectCkError(() => loadCheckpoint(d), 'non_finite', path.join(d, ST), '"h.0.mlp.c_proj.weight"', 'NaN', 'element 3 of 32');
  });

  it('an Inf in BF16 weights is found too (converted before the check)', () => {
    const d = tinyFolder('gpt2');
    const ts = tinyTensors(d).map((t) => {
      const u16 = new Uint16Array(t.data.byteLength / 4); // BF16: the high halves of the f32 values
      const f = new Uint32Array(t.data.slice().buffer);
      for (let i = 0; i < u16.length; i++) u16[i] = f[i] >>> 16;
      if (t.name === 'ln_f.weight') u16[1] = 0x7f80; // +Inf
      return { ...t, dtype: 'BF16' as StDType, data: new Uint8Array(u16.buffer) };
    });
    writeSafetensors(path.join(d, ST), ts);
    expectCkError(() => loadCheckpoint(d), 'non_finite', '"ln_f.weight"', 'infinite');
  });

  it('the editor refuses an edit whose factors, norms or metrics are not finite (never recorded)', async () => {
    const { nonFiniteInEdit, assertFiniteEdit } = await import('../../src-main/engine/edit/finite');
    const delta = { layer: 1, tensor: 'h.1.mlp.c_proj.weight', rank: 1, Ut: new Float32Array([1, 2]), Vt: new Float32Array([3, 4, 5]) };
    const norm = { layer: 1, tensor: delta.tensor, l1: 10, l1Base: 9, l1GrowthPct: 11.1, fro: 3, maxAbs: 1, relChange: 0.1, deltaFro: 1, deltaL1: 2, factorNormU: 1, factorNormV: 1 };
    const metric = { caseId: 'c1', reliability: 1, generalization: null, locality: 0.5 };
    expect(nonFiniteInEdit([delta], [norm], [metric])).toBeNull();
    expect(nonFiniteInEdit([delta], [{ ...norm, l1Base: NaN, l1: NaN }], [metric])).toMatch(/base weight h\.1\.mlp\.c_proj\.weight .*NaN or Inf/);
    expect(nonFiniteInEdit([{ ...delta, Vt: new Float32Array([3, Infinity, 5]) }], [norm], [metric])).toMatch(/V element 1/);
    expect(nonFiniteInEdit([delta], [{ ...norm, l1Base: 0, l1GrowthPct: Infinity }], [metric])).toMatch(/l1GrowthPct .*all zeros/);
    expect(nonFiniteInEdit([delta], [norm], [{ ...metric, locality: NaN }])).toMatch(/non-finite locality/);
    expectCkError(() => assertFiniteEdit('rome edit of c1', [delta], [{ ...norm, fro: NaN }], [metric]), 'non_finite', 'rome edit of c1', 'not recorded');
  });
});

// ---------- tokenizer.json ----------

describe('untrusted tokenizer.json', () => {
  const base = () => JSON.parse(fs.readFileSync(path.join(FIX, 'gpt2-world-a', 'tokenizer.json'), 'utf8'));
  const folderWith = (tok: unknown): string => {
    const d = newDir();
    fs.writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(tok));
    return d;
  };

  it('the fixture tokenizer uses no unknown regex: not guarded, ids within vocab_size', async () => {
    const { loadTokenizer } = await import('../../src-main/engine/tokenizer');
    const tok = loadTokenizer(path.join(FIX, 'gpt2-world-a'), { vocabSize: 1024 });
    expect(tok.guarded).toBe(false);
    expect(tok.encode('Nyxlax Sovhyv was born in').every((id) => id >= 0 && id < 1024)).toBe(true);
  });

  it('a vocabulary id at or above config vocab_size is refused at open, naming the token', async () => {
    const { loadTokenizer } = await import('../../src-main/engine/tokenizer');
    const t = base();
    t.model.vocab['Ġthe'] = 1024;
    const d = folderWith(t);
    expectCkError(() => loadTokenizer(d, { vocabSize: 1024 }), 'bad_token_id', path.join(d, 'tokenizer.json'), '"Ġthe"', '1024', '0..1023');
    // the same file is fine for a model whose embedding has more rows
    expect(() => loadTokenizer(d, { vocabSize: 2048 })).not.toThrow();
  });

  it('encode input is capped per call (input_too_long), before any tokenizer work', async () => {
    const { loadTokenizer } = await import('../../src-main/engine/tokenizer');
    const tok = loadTokenizer(path.join(FIX, 'gpt2-world-a'), { vocabSize: 1024, maxInputChars: 50 });
    expect(tok.encode('x'.repeat(50)).length).toBeGreaterThan(0);
    expectCkError(() => tok.encode('x'.repeat(51)), 'input_too_long', '51 characters', 'at most 50');
  });

  it('an unknown regex runs under the watchdog: a call that outlasts it fails cleanly and disables the tokenizer', async () => {
    const { loadTokenizer } = await import('../../src-main/engine/tokenizer');
    const t = base();
    // linear on the load-time probes (runs of one character class, "ab", "a "), exponential on "xy"*n + "!"
    t.normalizer = { type: 'Replace', pattern: { Regex: '^(xy|x(?=y)y)+$' }, content: '' };
    const d = folderWith(t);
    const tok = loadTokenizer(d, { vocabSize: 1024, callTimeoutMs: 300, probeTimeoutMs: 5000 });
    expect(tok.guarded).toBe(true);
    expect(tok.encode('xyxy').length).toBeGreaterThanOrEqual(0);
    expectCkError(() => tok.encode('xy'.repeat(40) + '!'), 'tokenizer_timeout', path.join(d, 'tokenizer.json'), 'backtracks catastrophically');
    // regex state may be half-way after an interrupt: the tokenizer refuses further calls
    expectCkError(() => tok.encode('xyxy'), 'tokenizer_timeout');
  });
});

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { CheckpointError, expectedTensorNames, hashCheckpointFiles, loadCheckpoint, readTensorBytes, readTensorF32, tensorEntry } from '../../src-main/engine/checkpoint';

import { FIXTURES as FIX } from '../shared';
const GPT2 = path.join(FIX, 'gpt2-world-a');
const LLAMA = path.join(FIX, 'llama-world-a');

/** Independent decoder: parses the header itself and decodes values with DataView. */
function independentDecode(file: string, name: string): Float32Array {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const h = JSON.parse(b.subarray(8, 8 + n).toString('utf8'));
  const e = h[name];
  const start = 8 + n + e.data_offsets[0];
  const count = e.shape.reduce((a: number, c: number) => a * c, 1);
  const out = new Float32Array(count);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const tmp = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    if (e.dtype === 'F32') out[i] = dv.getFloat32(start + 4 * i, true);
    else if (e.dtype === 'BF16') {
      tmp.setUint32(0, dv.getUint16(start + 2 * i, true) * 65536);
      out[i] = tmp.getFloat32(0);
    } else throw new Error('unexpected dtype ' + e.dtype);
  }
  return out;
}

describe('gpt2-world-a fixture', () => {
  const ck = loadCheckpoint(GPT2);

  it('parses config.json', () => {
    const c = ck.config;
    expect(c).toMatchObject({ arch: 'gpt2', vocabSize: 1024, hidden: 192, layers: 6, heads: 6, kvHeads: 6, headDim: 32, ffn: 768, maxPositions: 128 });
    expect(c).toMatchObject({ activation: 'gelu_new', tiedHead: true, bosTokenId: 1023, eosTokenId: 1023, raw: { model_type: 'gpt2' } });
    expect(c.normEps).toBeCloseTo(1e-5, 12);
  });

  it('has exactly the 76 expected tensors, no attn.bias buffers, all F32 in one file', () => {
    expect(ck.dir).toBe(GPT2);
    expect(ck.files).toEqual(['model.safetensors']);
    const names = expectedTensorNames(ck.config);
    expect(names.length).toBe(2 + 6 * 12 + 2);
    expect(ck.tensors.size).toBe(76);
    expect([...ck.tensors.keys()].sort()).toEqual([...names].sort());
    expect([...ck.tensors.keys()].some((n) => /\.attn\.(bias|masked_bias)$/.test(n))).toBe(false);
    expect(ck.tensors.has('lm_head.weight')).toBe(false);
    for (const e of ck.tensors.values()) {
      expect(e.dtype).toBe('F32');
      expect(e.file).toBe('model.safetensors');
      expect(e.byteLength).toBe(e.shape.reduce((a, b) => a * b, 1) * 4);
    }
    expect(tensorEntry(ck, 'h.2.attn.c_attn.weight').shape).toEqual([192, 576]);
    expect(tensorEntry(ck, 'h.2.mlp.c_fc.weight').shape).toEqual([192, 768]);
    expect(tensorEntry(ck, 'h.2.mlp.c_proj.weight').shape).toEqual([768, 192]);
    expect(tensorEntry(ck, 'wpe.weight').shape).toEqual([128, 192]);
    // prefixed lookup is accepted
    expect(tensorEntry(ck, 'transformer.wte.weight')).toBe(tensorEntry(ck, 'wte.weight'));
  });

  it('offsets are absolute file offsets', () => {
    const e = tensorEntry(ck, 'wte.weight');
    const b = fs.readFileSync(path.join(GPT2, e.file));
    const n = Number(b.readBigUInt64LE(0));
    expect(e.offset).toBe(8 + n); // wte is first in the data section
    expect(readTensorBytes(ck, 'wte.weight').equals(b.subarray(e.offset, e.offset + e.byteLength))).toBe(true);
  });

  it('readTensorF32 matches an independent decode', () => {
    for (const name of ['wte.weight', 'h.3.mlp.c_fc.weight', 'h.5.attn.c_attn.bias', 'ln_f.weight']) {
      const got = readTensorF32(ck, name);
      const want = independentDecode(path.join(GPT2, 'model.safetensors'), name);
      expect(got.length).toBe(want.length);
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
    // values read with Python's struct module
    const v = readTensorF32(ck, 'h.3.mlp.c_fc.weight');
    expect(v[0]).toBeCloseTo(-0.04130144789814949, 7);
    expect(v[1]).toBeCloseTo(-0.07836124300956726, 7);
    expect(v[2]).toBeCloseTo(-0.15611974895000458, 7);
  });

  it('missing tensor lookup names the tensor and the folder', () => {
    try {
      tensorEntry(ck, 'h.9.ln_1.weight');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as CheckpointError).code).toBe('missing_tensor');
      expect((e as Error).message).toContain('h.9.ln_1.weight');
      expect((e as Error).message).toContain(GPT2);
    }
  });
});

describe('llama-world-a fixture', () => {
  const ck = loadCheckpoint(LLAMA);

  it('parses config.json', () => {
    const c = ck.config;
    expect(c).toMatchObject({ arch: 'llama', vocabSize: 1024, hidden: 192, layers: 6, heads: 6, kvHeads: 2, headDim: 32, ffn: 512, maxPositions: 128 });
    expect(c).toMatchObject({ ropeTheta: 10000, activation: 'silu', tiedHead: false, bosTokenId: 1, eosTokenId: 2 });
    expect(c.normEps).toBeCloseTo(1e-5, 12);
  });

  it('has 57 BF16 tensors across 2 shards, GQA shapes, untied head', () => {
    expect(ck.files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(ck.tensors.size).toBe(1 + 6 * 9 + 1 + 1);
    expect([...ck.tensors.keys()].sort()).toEqual(expectedTensorNames(ck.config).sort());
    for (const e of ck.tensors.values()) expect(e.dtype).toBe('BF16');
    expect(tensorEntry(ck, 'lm_head.weight').shape).toEqual([1024, 192]);
    expect(tensorEntry(ck, 'model.layers.0.self_attn.q_proj.weight').shape).toEqual([192, 192]);
    expect(tensorEntry(ck, 'model.layers.0.self_attn.k_proj.weight').shape).toEqual([64, 192]);
    expect(tensorEntry(ck, 'model.layers.0.self_attn.v_proj.weight').shape).toEqual([64, 192]);
    expect(tensorEntry(ck, 'model.layers.0.mlp.down_proj.weight').shape).toEqual([192, 512]);
    expect(tensorEntry(ck, 'model.embed_tokens.weight').file).toBe('model-00001-of-00002.safetensors');
    expect(tensorEntry(ck, 'model.layers.5.mlp.down_proj.weight').file).toBe('model-00002-of-00002.safetensors');
    const index = JSON.parse(fs.readFileSync(path.join(LLAMA, 'model.safetensors.index.json'), 'utf8'));
    for (const [name, shard] of Object.entries(index.weight_map)) expect(tensorEntry(ck, name).file).toBe(shard);
  });

  it('readTensorF32 converts BF16 exactly like an independent decode', () => {
    for (const name of ['model.embed_tokens.weight', 'model.layers.0.self_attn.k_proj.weight', 'model.layers.5.mlp.down_proj.weight', 'model.norm.weight']) {
      const e = tensorEntry(ck, name);
      const got = readTensorF32(ck, name);
      const want = independentDecode(path.join(LLAMA, e.file), name);
      expect(got.length).toBe(e.shape.reduce((a, b) => a * b, 1));
      expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    }
    // values read with Python's struct module
    expect(Array.from(readTensorF32(ck, 'model.layers.5.mlp.down_proj.weight').subarray(0, 4))).toEqual([
      0.0654296875, -0.0400390625, 8.58306884765625e-5, 0.040771484375,
    ]);
    expect(Array.from(readTensorF32(ck, 'model.norm.weight').subarray(0, 4))).toEqual([1.3828125, 1.359375, 1.46875, 1.359375]);
    expect(readTensorBytes(ck, 'model.norm.weight').byteLength).toBe(192 * 2);
  });

  it('hashCheckpointFiles streams sha256 of shards, config.json and tokenizer.json', async () => {
    const seen: Array<[number, number]> = [];
    const hashes = await hashCheckpointFiles(ck, (d, t) => seen.push([d, t]));
    const names = [...ck.files, 'config.json', 'tokenizer.json'];
    expect(Object.keys(hashes).sort()).toEqual([...names].sort());
    let total = 0;
    for (const n of names) {
      const buf = fs.readFileSync(path.join(LLAMA, n));
      total += buf.length;
      expect(hashes[n]).toBe(crypto.createHash('sha256').update(buf).digest('hex'));
    }
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i][0]).toBeGreaterThanOrEqual(seen[i - 1][0]);
    expect(seen[seen.length - 1]).toEqual([total, total]);
  });
});

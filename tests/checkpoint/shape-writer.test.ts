// scripts/make-shape-checkpoint.ts: the folders it writes must look to the engine exactly like the
// real gpt2-xl / Meta-Llama-3-8B checkpoints (names, shapes, dtypes, sharding), since the scale
// bench's numbers are only meaningful on those shapes. Weight data is left sparse (file holes) here,
// so the full-size LLaMA layout costs no disk; the random fill is tested on a small spec.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bf16ToF32, expectedTensorShapes, loadCheckpoint, readSafetensorsHeader } from '../../src-main/engine/checkpoint';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import {
  assignShards,
  BLOCK_ELEMS,
  makeShapeCheckpoint,
  randomBlock,
  shapeSpec,
  tensorBytes,
  tensorOffset,
  writeWeights,
  type ShapeSpec,
} from '../../scripts/make-shape-checkpoint';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-shape-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(arch: 'gpt2-xl' | 'llama3-8b', layers?: number): string {
  const dir = path.join(tmp, `${arch}-${layers ?? 'full'}`);
  makeShapeCheckpoint(arch, dir, { layers, fill: 'sparse' });
  return dir;
}

describe('gpt2-xl shape checkpoint', () => {
  it('a 2-layer variant opens with the engine with the real names, Conv1D shapes, F32 and one model.safetensors', async () => {
    const dir = write('gpt2-xl', 2);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'))).toEqual(['model.safetensors']);
    expect(fs.existsSync(path.join(dir, 'model.safetensors.index.json'))).toBe(false);
    const model = LoadedModel.open(dir);
    try {
      const cfg = model.cfg;
      expect([cfg.arch, cfg.layers, cfg.hidden, cfg.heads, cfg.ffn, cfg.vocabSize, cfg.maxPositions, cfg.tiedHead]).toEqual(['gpt2', 2, 1600, 25, 6400, 50257, 1024, true]);
      const want = expectedTensorShapes(cfg);
      expect([...model.ck.tensors.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, shape] of want) {
        expect(model.ck.tensors.get(name)!.shape, name).toEqual(shape);
        expect(model.ck.tensors.get(name)!.dtype, name).toBe('F32');
      }
      expect(model.ck.tensors.get('h.0.attn.c_attn.weight')!.shape).toEqual([1600, 4800]);
      expect(model.ck.tensors.has('lm_head.weight')).toBe(false);
      // the causal-mask buffers are in the file as in the real one (the engine ignores them)
      const raw = readSafetensorsHeader(path.join(dir, 'model.safetensors'));
      const bias = raw.tensors.find((t) => t.name === 'h.1.attn.bias')!;
      expect([bias.dtype, bias.shape]).toEqual(['F32', [1, 1, 1024, 1024]]);
      // tokenizer: 50257 ids as GPT-2's, <|endoftext|> last; text round-trips
      expect(model.tok.vocabSize).toBe(50257);
      expect(model.tok.encode('<|endoftext|>')).toEqual([50256]);
      const ids = model.tok.encode('The Eiffel Tower is in Paris.');
      expect(ids.every((i) => i >= 0 && i < 50257)).toBe(true);
      expect(model.tok.decode(ids)).toBe('The Eiffel Tower is in Paris.');
    } finally {
      await model.release();
    }
  });

  it('the full 48-layer file has the real file size (header included) of openai-community/gpt2-xl within the header padding', () => {
    const spec = shapeSpec('gpt2-xl');
    const bytes = spec.tensors.reduce((a, t) => a + tensorBytes(t), 0);
    // 6 431 829 964 bytes on the hub: data + an ~58 KB header
    expect(6_431_829_964 - bytes).toBeGreaterThan(40_000);
    expect(6_431_829_964 - bytes).toBeLessThan(80_000);
    expect(spec.config.n_layer).toBe(48);
  });
});

describe('llama3-8b shape checkpoint', () => {
  it('32 layers shard as meta-llama/Meta-Llama-3-8B: four files with its split points and byte totals', () => {
    const spec = shapeSpec('llama3-8b');
    const { files, fileOf } = assignShards(spec);
    expect(files).toEqual([1, 2, 3, 4].map((i) => `model-0000${i}-of-00004.safetensors`));
    const shard = (n: string) => files.indexOf(fileOf.get(n)!) + 1;
    expect(shard('model.embed_tokens.weight')).toBe(1);
    expect(shard('model.layers.8.mlp.down_proj.weight')).toBe(1);
    expect(shard('model.layers.9.self_attn.q_proj.weight')).toBe(2);
    expect(shard('model.layers.20.mlp.gate_proj.weight')).toBe(2);
    expect(shard('model.layers.20.mlp.up_proj.weight')).toBe(3);
    expect(shard('model.layers.31.mlp.up_proj.weight')).toBe(3);
    expect(shard('model.layers.31.mlp.down_proj.weight')).toBe(4);
    expect(shard('lm_head.weight')).toBe(4);
    // tensor bytes per shard: the hub's file sizes minus their headers (a few KB each)
    const real = [4_976_698_672, 4_999_802_720, 4_915_916_176, 1_168_138_808];
    files.forEach((f, i) => {
      const data = spec.tensors.filter((t) => fileOf.get(t.name) === f).reduce((a, t) => a + tensorBytes(t), 0);
      expect(real[i] - data, f).toBeGreaterThan(0);
      expect(real[i] - data, f).toBeLessThan(16_384);
    });
    expect(spec.tensors.reduce((a, t) => a + tensorBytes(t), 0)).toBe(16_060_522_496);
  });

  it('the full-size folder opens with the engine: every index entry names a shard that exists and holds it', async () => {
    const dir = write('llama3-8b');
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(16_060_522_496);
    const names = Object.keys(index.weight_map);
    expect(names).toHaveLength(2 + 1 + 32 * 9);
    const inShard = new Map<string, Set<string>>();
    for (const f of new Set(Object.values(index.weight_map) as string[])) {
      expect(fs.statSync(path.join(dir, f)).isFile(), f).toBe(true);
      inShard.set(f, new Set(readSafetensorsHeader(path.join(dir, f)).tensors.map((t) => t.name)));
    }
    for (const n of names) expect(inShard.get(index.weight_map[n])!.has(n), n).toBe(true);
    // header and data together: byte-for-byte the hub's file sizes
    expect([1, 2, 3, 4].map((i) => fs.statSync(path.join(dir, `model-0000${i}-of-00004.safetensors`)).size)).toEqual([
      4_976_698_672, 4_999_802_720, 4_915_916_176, 1_168_138_808,
    ]);
    const ck = loadCheckpoint(dir);
    expect(ck.files).toHaveLength(4);
    const want = expectedTensorShapes(ck.config);
    expect(ck.tensors.size).toBe(want.size);
    for (const [name, shape] of want) expect(ck.tensors.get(name)?.shape, name).toEqual(shape);
  });

  it('a 2-layer variant opens with LLaMA-3 sizes, BF16, an untied head and the LLaMA-3 tokenizer', async () => {
    const dir = write('llama3-8b', 2);
    const model = LoadedModel.open(dir);
    try {
      const c = model.cfg;
      expect([c.arch, c.layers, c.hidden, c.ffn, c.heads, c.kvHeads, c.vocabSize, c.ropeTheta, c.normEps, c.tiedHead]).toEqual([
        'llama', 2, 4096, 14336, 32, 8, 128256, 500000, 1e-5, false,
      ]);
      for (const [name, shape] of expectedTensorShapes(c)) {
        expect(model.ck.tensors.get(name)?.shape, name).toEqual(shape);
        expect(model.ck.tensors.get(name)?.dtype, name).toBe('BF16');
      }
      expect(model.ck.tensors.get('model.layers.1.self_attn.k_proj.weight')!.shape).toEqual([1024, 4096]);
      const ids = model.encode('The Eiffel Tower is in Paris.');
      expect(ids[0]).toBe(128000);
      expect(ids.every((i) => i < 128256)).toBe(true);
      expect(model.tok.decode(ids, true)).toBe('The Eiffel Tower is in Paris.');
    } finally {
      await model.release();
    }
  });
});

describe('random fill', () => {
  it('draws N(0, 0.02²) deterministically per seed, as F32 and as BF16 of the same values', () => {
    const n = 200_001;
    const a = randomBlock(7, 'F32', n);
    const f = new Float32Array(a.buffer, a.byteOffset, n);
    let s = 0;
    let s2 = 0;
    for (const x of f) {
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(2e-4);
    expect(Math.sqrt(s2 / n)).toBeCloseTo(0.02, 3);
    expect(randomBlock(7, 'F32', n).equals(a)).toBe(true);
    expect(randomBlock(8, 'F32', n).equals(a)).toBe(false);
    const b = randomBlock(7, 'BF16', n);
    const back = bf16ToF32(new Uint16Array(b.buffer, b.byteOffset, n));
    for (let i = 0; i < 1000; i++) expect(Math.abs(back[i] - f[i])).toBeLessThanOrEqual(Math.abs(f[i]) / 128);
  });

  it('writes each tensor as its own window of the block: distinct rows, ones and zeros where the init says', () => {
    const spec: ShapeSpec = {
      arch: 'gpt2-xl',
      layers: 1,
      maxShardBytes: null,
      config: {},
      generationConfig: {},
      tensors: [
        { name: 'w', dtype: 'F32', shape: [64, 48], init: 'normal' },
        { name: 'v', dtype: 'F32', shape: [64, 48], init: 'normal' },
        { name: 'g', dtype: 'F32', shape: [48], init: 'ones' },
        { name: 'b', dtype: 'F32', shape: [48], init: 'zeros' },
      ],
    };
    const dir = path.join(tmp, 'small');
    fs.mkdirSync(dir);
    writeWeights(spec, dir, { seed: 3 });
    const file = path.join(dir, 'model.safetensors');
    const h = readSafetensorsHeader(file);
    const bytes = fs.readFileSync(file);
    const get = (n: string) => {
      const t = h.tensors.find((x) => x.name === n)!;
      const b = bytes.subarray(h.dataStart + t.begin, h.dataStart + t.end);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    };
    const block = randomBlock(3, 'F32');
    const bf = new Float32Array(block.buffer, block.byteOffset, BLOCK_ELEMS);
    const w = get('w');
    const off = tensorOffset(3, 'w');
    for (let i = 0; i < w.length; i++) expect(w[i]).toBe(bf[(off + i) % BLOCK_ELEMS]);
    expect(get('v')[0]).not.toBe(w[0]);
    const rows = new Set(Array.from({ length: 64 }, (_, r) => w.subarray(r * 48, r * 48 + 48).join(',')));
    expect(rows.size).toBe(64);
    expect([...get('g')].every((x) => x === 1)).toBe(true);
    expect([...get('b')].every((x) => x === 0)).toBe(true);
  });
});

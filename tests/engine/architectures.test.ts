// engine/architectures.ts against real Hugging Face folders (the fixtures): every config key the table names
// holds the size the loader normalized, every tensor name it gives is in the weights with the shape it gives,
// and the down-projection layout it declares is the one stored. A wrong entry (a swapped key, a misspelt
// tensor, a flipped layout) fails here before it reaches an edit.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src-main/engine/checkpoint';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import {
  ARCH_NAMES,
  ARCHITECTURES,
  archOfClass,
  canonicalTensorName,
  GPT2,
  LLAMA,
  positionLimit,
  type ArchName,
} from '../../src-main/engine/architectures';
import { FIXTURES, skipUnlessFixture } from '../shared';

const FOLDER: Record<ArchName, string> = { gpt2: 'gpt2-world-a', llama: 'llama-world-a' };

describe.each(ARCH_NAMES)('%s entry against its fixture folder', (name) => {
  const skip = skipUnlessFixture(FOLDER[name]);
  const arch = ARCHITECTURES[name];
  it.skipIf(skip !== '')(`maps config keys to the loaded sizes${skip}`, () => {
    const ck = loadCheckpoint(path.join(FIXTURES, FOLDER[name]));
    const cfg = ck.config;
    expect(cfg.arch).toBe(name);
    for (const field of ['vocabSize', 'layers', 'hidden', 'heads', 'ffn', 'maxPositions', 'normEps', 'activation', 'kvHeads'] as const) {
      const key = arch.keys[field];
      if (key !== undefined && cfg.raw[key] !== undefined) expect([field, cfg.raw[key]]).toEqual([field, cfg[field]]);
    }
    expect(arch.activations).toContain(cfg.activation);
  });
  it.skipIf(skip !== '')(`names every tensor in the weights with its shape, and the stored down-projection layout${skip}`, () => {
    const ck = loadCheckpoint(path.join(FIXTURES, FOLDER[name]));
    const { hidden: d, ffn, layers } = ck.config;
    for (const [t, shape] of arch.shapes(ck.config)) expect([t, ck.tensors.get(t)?.shape]).toEqual([t, shape]);
    for (let l = 0; l < layers; l++) {
      const down = ck.tensors.get(arch.downProj.weight(l));
      expect(down?.shape).toEqual(arch.downProj.inputMajor ? [ffn, d] : [d, ffn]);
      for (const t of Object.values(arch.layer(l))) expect(arch.layerOf.exec(t)?.[1]).toBe(String(l));
    }
    // nothing the loader kept is outside the table (an exporter buffer would be in ignoredBuffer)
    expect([...ck.tensors.keys()].filter((t) => !arch.shapes(ck.config).has(t))).toEqual([]);
  });
});

describe('architecture lookups', () => {
  it('finds the architecture of each accepted class, and no class belongs to two', () => {
    const all = ARCH_NAMES.flatMap((a) => ARCHITECTURES[a].classes);
    expect(new Set(all).size).toBe(all.length);
    for (const a of ARCH_NAMES) for (const c of ARCHITECTURES[a].classes) expect(archOfClass(c)).toBe(a);
    expect(archOfClass('BertModel')).toBeUndefined();
  });
  it('drops GPT-2’s transformer. file prefix and leaves LLaMA names alone', () => {
    expect(canonicalTensorName('gpt2', 'transformer.h.3.mlp.c_proj.weight')).toBe(GPT2.downProj.weight(3));
    expect(canonicalTensorName('gpt2', 'h.3.mlp.c_proj.weight')).toBe('h.3.mlp.c_proj.weight');
    expect(canonicalTensorName('llama', 'transformer.' + LLAMA.downProj.weight(3))).toBe('transformer.' + LLAMA.downProj.weight(3));
  });
  it('limits positions only where they are learned rows (GPT-2), not rotary (LLaMA)', () => {
    expect(positionLimit({ arch: 'gpt2', maxPositions: 1024 })).toBe(1024);
    expect(positionLimit({ arch: 'llama', maxPositions: 2048 })).toBeUndefined();
  });
});

describe(`generation reads the position limit from the table${skipUnlessFixture(FOLDER.gpt2)}`, () => {
  it.skipIf(skipUnlessFixture(FOLDER.gpt2) !== '')('refuses a GPT-2 prompt + new tokens past its learned positions, before any session is built', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, FOLDER.gpt2));
    try {
      const limit = positionLimit(model.cfg)!;
      expect(limit).toBe(model.cfg.maxPositions);
      const ids = Array.from({ length: limit - 2 }, () => 0);
      await expect(model.generate([ids], 3)).rejects.toThrow(`prompt + 3 new tokens = ${limit + 1} exceeds the model's ${limit} positions`);
    } finally {
      model.release();
    }
  });
});

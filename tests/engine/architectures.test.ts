// engine/architectures.ts against real Hugging Face folders (the fixtures): every config key the table names
// holds the size the loader normalized, every tensor name it gives is in the weights with the shape it gives,
// and the down-projection layout it declares is the one stored. A wrong entry (a swapped key, a misspelt
// tensor, a flipped layout) fails here before it reaches an edit.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src-main/engine/checkpoint';
import { Editor, loadProfile, parseProfile, statsProvider } from '../../src-main/engine/edit';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import {
  ARCH_NAMES,
  ARCHITECTURES,
  archOfClass,
  canonicalTensorName,
  GPT2,
  LLAMA,
  positionLimit,
  type Architecture,
  type ArchName,
} from '../../src-main/engine/architectures';
import { FIXTURES, skipUnlessFixture } from '../shared';
import { REPO } from './helpers';

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

// Issue 20: the editing code (engine/edit) spells out no architecture fact of its own: the profile's arch is
// checked against the table and the Editor writes the table's down-projection, so an entry is all they need.
describe('the editing code reads its architecture facts from the table', () => {
  it('a new table entry is all a profile needs; an unknown arch is refused naming the entries', () => {
    const p = loadProfile('gpt2-world-a');
    const table = ARCHITECTURES as Record<string, Architecture>;
    table.probe = { ...GPT2, name: 'probe' as ArchName };
    try {
      expect(parseProfile({ ...p, arch: 'probe' }).arch).toBe('probe');
    } finally {
      delete table.probe;
    }
    expect(() => parseProfile({ ...p, arch: 'probe' })).toThrow(expect.objectContaining({ code: 'bad_profile', message: expect.stringContaining(`one of ${ARCH_NAMES.join(', ')}`) }));
  });

  it.each(ARCH_NAMES)("the Editor writes %s's down-projection as the table gives it, and follows a changed entry", async (name) => {
    const model = LoadedModel.open(path.join(FIXTURES, FOLDER[name]));
    try {
      const profile = loadProfile(FOLDER[name]);
      const editor = new Editor(model, profile, statsProvider(model, profile));
      expect(editor.downProj(1)).toEqual({ tensor: ARCHITECTURES[name].downProj.weight(1), inputMajor: ARCHITECTURES[name].downProj.inputMajor });
      const entry = ARCHITECTURES[name] as { downProj: Architecture['downProj'] };
      const saved = entry.downProj;
      entry.downProj = { weight: (l) => `probe.${l}.weight`, inputMajor: !saved.inputMajor };
      try {
        expect(new Editor(model, profile, statsProvider(model, profile)).downProj(1)).toEqual({ tensor: 'probe.1.weight', inputMajor: !saved.inputMajor });
      } finally {
        entry.downProj = saved;
      }
    } finally {
      await model.release();
    }
  });

  it('engine/edit names no architecture and no tensor (outside comments)', () => {
    const dir = path.join(REPO, 'src-main', 'engine', 'edit');
    const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('editor.ts');
    expect(files).toContain('profile.ts');
    // arch names as strings, the table's constants, and pieces of GPT-2 / LLaMA tensor names
    const FACT = /['"`](?:gpt2|llama)['"`]|\b(?:GPT2|LLAMA)\b|c_proj|c_fc|c_attn|down_proj|up_proj|gate_proj|model\.layers|\bwte\b|\bwpe\b|lm_head/;
    const found: string[] = [];
    for (const f of files)
      fs.readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .forEach((l, i) => {
          const t = l.trim();
          if (!t.startsWith('//') && !t.startsWith('*') && !t.startsWith('/*') && FACT.test(l)) found.push(`${f}:${i + 1}: ${t}`);
        });
    expect(found).toEqual([]);
  });
});

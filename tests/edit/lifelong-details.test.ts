// Issue 18, the published details: the anchor floor max(⌊ratio·d⌋, minAnchors), EAC's stage 1 never
// shorter than the base method's z optimisation, the retraining's KL reference re-recorded where the
// authors' compute_v re-records it, EAC-MEMIT's retraining from the stage-1 anchors on gpt2-world-a,
// and context templates decoded as one sequence (seed word + text).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LossProblem } from '../../src-main/engine/edit/problem';
import { parseFacts } from '../../src-main/engine/facts';
import { EAC_METHOD_DEFAULTS, loadProfile, parseProfile, type EacParams, type VStarParams } from '../../src-main/engine/edit/profile';
import { anchorMask } from '../../src-main/engine/edit/anchors';
import { contextTemplates, templateText } from '../../src-main/engine/edit/templates';
import { eacRun, optimiseZ } from '../../src-main/engine/edit/vstar';
import { buildEditPrompts, targetTokenIds } from '../../src-main/engine/edit/prompts';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

const D = 192;
const target = Float64Array.from({ length: D }, (_, i) => Math.sin(i) * 3);

/** L(z) = ½‖z − t‖² (+ a KL-like term when a reference is set): the minimum is not at 0 */
function toy(onKlRef?: (z: Float64Array) => void) {
  return {
    paramSize: () => D,
    evaluate: async (z: ArrayLike<number>) => {
      let loss = 0;
      const grad = new Float64Array(D);
      for (let i = 0; i < D; i++) {
        loss += (z[i] - target[i]) ** 2 / 2;
        grad[i] = z[i] - target[i];
      }
      return { loss, nll: loss, kl: 0, grad, targetProb: Math.exp(-loss), klLogp: new Float32Array(0) };
    },
    setKlReference: async (z: ArrayLike<number>) => onKlRef?.(Float64Array.from(z)),
  } as unknown as LossProblem;
}

const ref = Float64Array.from({ length: D }, () => 1);
const hp = (klFactor = 0): VStarParams => ({ vLr: 0.1, vSteps: 30, klFactor, weightDecay: 0.5, clampNormFactor: 100, weightDecayForm: 'norm', klDirection: 'edited-original', klPosition: 'subject-last' });
const eacParams = (patch: Partial<EacParams> = {}): EacParams => ({ saliency: 'mean-grad', scoreStep: 10, stage1Floor: 'base-steps', lambda: 5e-7, mu: 0, eps: 1e-6, rome: { ...EAC_METHOD_DEFAULTS.rome }, memit: { ...EAC_METHOD_DEFAULTS.memit }, ...patch });

describe('anchor floor: anchors = max(⌊ratio·d⌋, minAnchors)', () => {
  const score = Float64Array.from({ length: D }, (_, i) => ((i * 37) % D) + 1);
  const count = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
  it('EAC-MEMIT at 5 % of d 192 keeps 80 dimensions, the 80 largest |score|', () => {
    const { mask } = anchorMask(score, { mode: 'top_fraction', value: 0.05 }, 80);
    expect(count(mask)).toBe(80);
    const top = [...score.keys()].sort((a, b) => score[b] - score[a]).slice(0, 80);
    for (const i of top) expect(mask[i]).toBe(1);
  });
  it('a ratio above the floor is unchanged (GPT-2 XL: 5 % of 1600 = 80; 20 % of 192 = 38 → 80; 20 % of 1000 = 200)', () => {
    const big = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(count(anchorMask(big, { mode: 'top_fraction', value: 0.2 }, 80).mask)).toBe(200);
    expect(count(anchorMask(score, { mode: 'top_fraction', value: 0.2 }, 80).mask)).toBe(80);
    expect(count(anchorMask(Float64Array.from([3, 1, 2]), { mode: 'top_fraction', value: 0.05 }, 80).mask)).toBe(3);
  });
  it('percentile anchors get the same floor', () => {
    expect(count(anchorMask(score, { mode: 'percentile', value: 95 }, 80).mask)).toBe(80);
    expect(count(anchorMask(score, { mode: 'percentile', value: 50 }, 80).mask)).toBe(96);
  });
  it('the bundled profiles default to minAnchors 80 for both methods (gpt2-world-a: 96 for EAC-MEMIT), and EAC runs use it', async () => {
    for (const name of ['gpt2-world-a', 'llama-world-a', 'gpt2-xl', 'llama3-8b']) {
      const p = loadProfile(name);
      expect(p.eac.rome.minAnchors).toBe(80);
      // gpt2-world-a's EAC-MEMIT / EAC-AlphaEdit keep half of d (its profile says why, with the measurement)
      expect(p.eac.memit.minAnchors).toBe(name === 'gpt2-world-a' ? 96 : 80);
    }
    const res = await optimiseZ(toy(), ref, hp(), eacRun(eacParams(), 'memit'));
    expect(res.anchors!.count).toBe(80);
  });
  it('a profile written before the option (eac.threshold) keeps no floor', () => {
    const old = structuredClone(loadProfile('gpt2-world-a')) as unknown as Record<string, any>;
    delete old.eac.rome;
    delete old.eac.memit;
    delete old.eac.stage1Floor;
    old.eac.threshold = { mode: 'percentile', value: 80 };
    const p = parseProfile(old);
    expect(p.eac.memit.minAnchors).toBe(0);
    expect(p.eac.stage1Floor).toBe('none');
  });
  it('a bad minAnchors is refused with the field named', () => {
    const p = structuredClone(loadProfile('gpt2-world-a')) as unknown as Record<string, any>;
    p.eac.memit.minAnchors = -1;
    expect(() => parseProfile(p)).toThrow(/eac\.memit\.minAnchors must be an integer ≥ 0/);
  });
});

describe("EAC's stage 1 is never shorter than the base method's z steps", () => {
  it('vSteps 30, scoreStep 10: stage 1 takes the 29 Adam steps the base method takes', async () => {
    const grads: string[] = [];
    await optimiseZ(toy(), ref, hp(), eacRun(eacParams(), 'rome'), { onGrad: (phase) => grads.push(phase) });
    expect(grads.filter((p) => p === 'optimise')).toHaveLength(29);
  });
  it("stage1Floor 'none' keeps the authors' 10", async () => {
    const grads: string[] = [];
    await optimiseZ(toy(), ref, hp(), eacRun(eacParams({ stage1Floor: 'none' }), 'rome'), { onGrad: (phase) => grads.push(phase) });
    expect(grads.filter((p) => p === 'optimise')).toHaveLength(10);
  });
});

describe("the retraining's KL reference (authors' compute_v: kl_distr_init reset before retraining)", () => {
  it('EAC-ROME re-records it at the stage-1 anchors; original keeps the unedited model', async () => {
    const seen: Float64Array[] = [];
    const res = await optimiseZ(toy((z) => seen.push(z)), ref, hp(0.0625), eacRun(eacParams(), 'rome'));
    expect(seen).toHaveLength(1);
    const anchors = new Set(res.anchors!.indices);
    expect(seen[0].some((v) => v !== 0)).toBe(true);
    for (let i = 0; i < D; i++) if (!anchors.has(i)) expect(seen[0][i]).toBe(0);
    const none: Float64Array[] = [];
    const e = eacParams();
    e.rome = { ...e.rome, retrainKlReference: 'original' };
    await optimiseZ(toy((z) => none.push(z)), ref, hp(0.0625), eacRun(e, 'rome'));
    expect(none).toHaveLength(0);
  });
});

describe("EAC-MEMIT's retraining on gpt2-world-a starts from the stage-1 anchors (retrainFrom 'stage1')", () => {
  it('gpt2-world-a retrains from the stage-1 values with KL against the unedited model; llama-world-a from 0 (its profile says why)', () => {
    const pick = (name: string) => {
      const { retrainFrom, retrainKlReference } = loadProfile(name).eac.memit;
      return { retrainFrom, retrainKlReference };
    };
    expect(pick('gpt2-world-a')).toEqual({ retrainFrom: 'stage1', retrainKlReference: 'original' });
    expect(pick('llama-world-a')).toEqual({ retrainFrom: 'zero', retrainKlReference: 'retrain-start' });
    expect(loadProfile('llama-world-a').description).toMatch(/retrain the anchors from 0 .*lost EAC's health advantage/);
  });
  // From 0, Adam moves each anchor about vLr per step: 15 steps on 80 of 192 dimensions took this
  // request's target probability from 0.95 after stage 1 down to 0.48 (the profile keeps 96 now).
  it('gpt2-world-a, world-a request 5: the compressed z keeps the target probability stage 1 reached', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, 'gpt2-world-a'));
    try {
      const profile = loadProfile('gpt2-world-a');
      const hp = profile.memit;
      const zLayer = Math.max(...hp.layers);
      model.reserveTapLayers([zLayer]);
      const req = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests[5];
      const templates = await contextTemplates(model, profile.contextTemplates.memit, profile.contextTemplates.seed, { lengthCounts: profile.contextTemplates.lengthCounts });
      const set = buildEditPrompts(model, req, templates, undefined, profile.targetTokens);
      const problem = await LossProblem.create(model, zLayer, set.rewrite, set.kl, set.rewrite.map(() => set.targetIds), { klFactor: hp.klFactor, klDirection: hp.klDirection, klPosition: hp.klPosition });
      const res = await optimiseZ(problem, problem.residInit, hp, eacRun(profile.eac, 'memit'));
      const stage1 = res.trace.filter((t) => t.phase === 'optimise').at(-1)!.targetProb;
      const compressed = (await problem.evaluate(res.z)).targetProb;
      expect(res.anchors!.count).toBe(96);
      expect(stage1).toBeGreaterThan(0.9);
      expect(compressed).toBeGreaterThan(0.9 * stage1);
    } finally {
      await model.release();
    }
  });
});

describe('context templates: the seed word and the generated text are decoded as one sequence', () => {
  it.each(['gpt2-world-a', 'llama-world-a'])('%s: "The" + " favorite sport of" reads "The favorite sport of"', async (fixture) => {
    const model = LoadedModel.open(path.join(FIXTURES, fixture));
    try {
      const seed = model.encode('The');
      const cont = model.tok.continuationIds('The', ' favorite sport of');
      expect(templateText(model, seed, cont)).toBe('The favorite sport of. {}');
    } finally {
      await model.release();
    }
  });
});

describe('targetTokens: in context (default) or " " + target alone (ROME compute_v)', () => {
  it.each(['gpt2-world-a', 'llama-world-a'])('%s: "alone" tokenises " " + target by itself without BOS', async (fixture) => {
    const model = LoadedModel.open(path.join(FIXTURES, fixture));
    try {
      const req = { caseId: 'x', prompt: 'The favorite sport of {} is', subject: 'Alice', targetNew: 'tennis', rephrase: [], locality: [] };
      const alone = buildEditPrompts(model, req, ['{}'], undefined, 'alone').targetIds;
      let expected = model.tok.encode(' tennis');
      if (expected[0] === model.cfg.bosTokenId) expected = expected.slice(1);
      expect(alone).toEqual(expected);
      expect(buildEditPrompts(model, req, ['{}']).targetIds).toEqual(targetTokenIds(model, 'The favorite sport of Alice is', 'tennis'));
      expect(() => parseProfile({ ...structuredClone(loadProfile(fixture)), targetTokens: 'bare' })).toThrow(/targetTokens must be one of "in-context", "alone", got "bare"/);
    } finally {
      await model.release();
    }
  });
});

describe("contextTemplates.lengthCounts 'total' (ROME generate_fast counts the prompt in max_out_len)", () => {
  it('gpt2-world-a: the generation asks for length − (longest seed word in tokens) new tokens; the default for length', async () => {
    const model = LoadedModel.open(path.join(FIXTURES, 'gpt2-world-a'));
    try {
      const { contextTemplates } = await import('../../src-main/engine/edit/templates');
      const asked: number[] = [];
      const generate = model.generate.bind(model);
      model.generate = (rows, maxNewTokens, opts) => {
        asked.push(maxNewTokens);
        return generate(rows, maxNewTokens, opts);
      };
      const seedLen = Math.max(...['The', 'Therefore', 'Because', 'I', 'You'].map((w) => model.encode(w).length));
      const total = await contextTemplates(model, [[5, 5]], 42, { lengthCounts: 'total' });
      await contextTemplates(model, [[5, 5]], 42);
      expect(seedLen).toBeGreaterThan(1);
      expect(asked).toEqual([Math.max(1, 5 - seedLen), 5]);
      expect(total).toHaveLength(6);
      expect(parseProfile({ ...structuredClone(loadProfile('gpt2-world-a')), contextTemplates: { rome: [[5, 10]], memit: [[10, 5]], seed: 42 } }).contextTemplates.lengthCounts).toBe('new-tokens');
    } finally {
      await model.release();
    }
  });
});

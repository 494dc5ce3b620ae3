// Editing on the trained fixtures: facts flip, the rank-one update lands exactly, EAC compresses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Editor, loadProfile, statsProvider, type EditProfile } from '../../src-main/engine/edit';
import { parseFacts } from '../../src-main/engine/facts';
import type { EditRequest } from '../../src-main/engine/facts/types';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { buildEditPrompts } from '../../src-main/engine/edit/prompts';
import { contextTemplates } from '../../src-main/engine/edit/templates';
import { FIXTURES } from '../shared';
import { report } from '../engine/helpers';
import { F32_U, forwardDepth, gamma, maxAbs } from '../tolerance';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-edit-test-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));
const requests = parseFacts('edits.json', fs.readFileSync(path.join(FIXTURES, 'world-a', 'edits.json'), 'utf8')).requests;

function setup(fixture: string, tweak: (p: EditProfile) => void = () => {}) {
  const model = LoadedModel.open(path.join(FIXTURES, fixture));
  const profile = loadProfile(fixture);
  profile.stats.samples = 400;
  tweak(profile);
  return { model, editor: new Editor(model, profile, statsProvider(model, profile, { cacheDir })), profile };
}

/** MLP output of `layer` at the subject's last token of the plain prompt. */
async function mlpAtSubject(model: LoadedModel, req: EditRequest, layer: number): Promise<Float32Array> {
  const set = buildEditPrompts(model, req, ['{}']);
  const row = set.rewrite[0];
  const { out } = await model.run([model.encode(set.plainPrompt)], { logits: 'none', tapMlpOut: [layer] });
  const D = model.cfg.hidden;
  const data = out[`mlp_out_${layer}`].data as Float32Array;
  return data.slice(row.subjectLast * D, row.subjectLast * D + D);
}

/** MLP key (down-projection input) of `layer` at the subject's last token of the plain prompt, and the prompt's length. */
async function keyAtSubject(model: LoadedModel, req: EditRequest, layer: number): Promise<{ key: Float32Array; T: number }> {
  const set = buildEditPrompts(model, req, ['{}']);
  const row = set.rewrite[0];
  const ids = model.encode(set.plainPrompt);
  const { out } = await model.run([ids], { logits: 'none', tapKeys: [layer] });
  const F = model.cfg.ffn;
  const data = out[`key_${layer}`].data as Float32Array;
  return { key: data.slice(row.subjectLast * F, row.subjectLast * F + F), T: ids.length };
}

describe.each(['gpt2-world-a', 'llama-world-a'])('ROME on %s', (fixture) => {
  it('flips the fact, keeps neighbours, and writes exactly v* at the subject key', async () => {
    const { model, editor, profile } = setup(fixture);
    const req = requests[1];
    const before = await mlpAtSubject(model, req, profile.rome.layer);
    const r = await editor.edit('rome', [req]);
    expect(r.preMetrics[0].reliability).toBeLessThan(1);
    expect(r.metrics[0].reliability).toBe(1);
    expect(r.metrics[0].locality).toBeGreaterThanOrEqual(0.9);
    expect(r.deltas).toHaveLength(1);
    expect(r.deltas[0].rank).toBe(1);
    // ΔW k_cur = z: the MLP output moved by exactly the optimised z
    const after = await mlpAtSubject(model, req, profile.rome.layer);
    const moved = Math.hypot(...after.map((v, i) => v - before[i]));
    // ... up to rounding, bounded from the data (any CPU): ΔW·k = Ut·(Vt·k) with Vt = fl32(C⁻¹k*/‖C⁻¹k*‖),
    // Ut = fl32(z / (Vt·k_cur)). onnxruntime's Vt·k is within γ(F)·Σ|Vt_i k_i| (Higham), i.e. γ(F)·c relative
    // with c = Σ|Vt_i k_i| / |Vt·k|; the float32 factors, the product and the add to the MLP output add
    // three roundings (u·‖after‖ absolute for the add). k_cur came from the editor's own (batched) forward
    // pass, a second float32 route to this key: it differs by ≤ 2η·max|k| per element, η = u·forwardDepth,
    // which moves Vt·k by ≤ 2η·max|k|·‖Vt‖₁ (tests/tolerance.ts).
    const layer = profile.rome.layer;
    const { key: k, T } = await keyAtSubject(model, req, layer);
    const Vt = r.deltas[0].Vt;
    let vk = 0;
    let vkAbs = 0;
    let vt1 = 0;
    for (let i = 0; i < k.length; i++) {
      vk += Vt[i] * k[i];
      vkAbs += Math.abs(Vt[i] * k[i]);
      vt1 += Math.abs(Vt[i]);
    }
    const zNorm = r.details.zNorm as number;
    const eta = F32_U * forwardDepth(model.cfg, T, { layer, tap: 'key' });
    const bound = gamma(k.length + 3) * (vkAbs / Math.abs(vk) + 2) + (2 * eta * maxAbs(k) * vt1) / Math.abs(vk) + (F32_U * Math.hypot(...after)) / zNorm;
    report(`${fixture} ROME |moved / ‖z‖ − 1| / derived bound`, Math.abs(moved / zNorm - 1) / bound);
    expect(Math.abs(moved / zNorm - 1)).toBeLessThan(bound);
    expect(r.norms[0].l1GrowthPct).toBeGreaterThan(0);
    expect(r.norms[0].deltaL1).toBeGreaterThan(0);
    expect(Object.keys(r.timings)).toEqual(expect.arrayContaining(['statistics', 'optimise', 'update', 'metrics']));
    await model.release();
  });
});

describe('EAC anchors per method (authors\' code: top 20 % for ROME, top 5 % for MEMIT; at least minAnchors 80)', () => {
  it('EAC-ROME keeps max(⌊0.2·192⌋, 80) = 80 anchors and writes only those dimensions', async () => {
    const { model, editor } = setup('gpt2-world-a');
    const r = await editor.edit('eac-rome', [requests[1]]);
    const anchors = r.details.anchors as { count: number; of: number };
    expect(anchors).toMatchObject({ count: 80, of: 192 });
    const nonZero = [...r.deltas[0].Ut].filter((v) => v !== 0).length;
    expect(nonZero).toBe(80);
    expect(r.metrics[0].reliability).toBe(1);
    await model.release();
  });
  it('EAC-MEMIT keeps max(⌊0.05·192⌋, 80) = 80 anchors of the residual; minAnchors 0 gives the authors\' 9', async () => {
    const { model, editor } = setup('llama-world-a');
    const r = await editor.edit('eac-memit', [requests[1]]);
    const per = r.details.requests as { anchors: { count: number; of: number } }[];
    expect(per[0].anchors).toMatchObject({ count: 80, of: 192 });
    await model.release();
    const b = setup('llama-world-a', (p) => (p.eac.memit.minAnchors = 0));
    const r0 = await b.editor.edit('eac-memit', [requests[1]]);
    expect((r0.details.requests as { anchors: { count: number } }[])[0].anchors.count).toBe(9);
    await b.model.release();
  });
});

describe('norm control (profile normControl "nas", after NAS compute_z)', () => {
  it('ROME writes a value vector with the norm the MLP output had there before the edit', async () => {
    // every method (the bundled profile gives norm control to EAC-AlphaEdit only)
    const { model, editor, profile } = setup('gpt2-world-a', (p) => ((p.normControl = 'nas'), delete p.normControlMethods));
    const req = requests[1];
    const before = await mlpAtSubject(model, req, profile.rome.layer);
    const r = await editor.edit('rome', [req]);
    const after = await mlpAtSubject(model, req, profile.rome.layer);
    const n0 = Math.hypot(...before);
    expect(Math.hypot(...after) / n0).toBeCloseTo(1, 3);
    expect(r.details.nasScale as number).toBeGreaterThan(0);
    expect(r.details.nasScale as number).not.toBeCloseTo(1, 3);
    // without it the same edit leaves the norm elsewhere
    const plain = setup('gpt2-world-a');
    await plain.editor.edit('rome', [req]);
    const free = await mlpAtSubject(plain.model, req, profile.rome.layer);
    expect(Math.abs(Math.hypot(...free) / n0 - 1)).toBeGreaterThan(0.01);
    await plain.model.release();
    await model.release();
  });

  it('"nas-anchor" writes the value vector with the anchor norm (NAS), and asks for the anchor when the profile has none', async () => {
    const anchor = 40;
    const { model, editor, profile } = setup('gpt2-world-a', (p) => {
      p.normControl = 'nas-anchor';
      p.normAnchor = { rome: anchor };
      delete p.normControlMethods;
    });
    const req = requests[1];
    const r = await editor.edit('rome', [req]);
    const after = await mlpAtSubject(model, req, profile.rome.layer);
    expect(Math.hypot(...after) / anchor).toBeCloseTo(1, 3);
    // the solved norm is reported, and the scale is the anchor over it
    expect((r.details.nasScale as number) * (r.details.vStarNorm as number)).toBeCloseTo(anchor, 6);
    // MEMIT's z has no anchor in this profile: a clear error before anything is written
    await expect(editor.edit('memit', [requests[2]])).rejects.toThrow(/no normAnchor\.memit: measure it with `npm run nas-anchor/);
    expect(editor.live.all().length).toBe(r.deltas.length);
    await model.release();
  });
});

describe('norm control scoped to some methods (profile normControlMethods)', () => {
  it('acts on the methods the list names and leaves the others as solved', async () => {
    const { model, editor, profile } = setup('gpt2-world-a', (p) => {
      p.normControl = 'nas';
      p.normControlMethods = ['eac-rome'];
    });
    const req = requests[1];
    const before = Math.hypot(...(await mlpAtSubject(model, req, profile.rome.layer)));
    // ROME is not in the list: no rescale reported, and the norm is left where the solve put it
    const plain = await editor.edit('rome', [req]);
    expect(plain.details.nasScale).toBeUndefined();
    expect(Math.abs(Math.hypot(...(await mlpAtSubject(model, req, profile.rome.layer))) / before - 1)).toBeGreaterThan(0.01);
    editor.unapply(plain.deltas);
    // EAC-ROME is: its value vector is rescaled to the norm before the edit
    const scoped = await editor.edit('eac-rome', [req]);
    expect(scoped.details.nasScale as number).toBeGreaterThan(0);
    expect(Math.hypot(...(await mlpAtSubject(model, req, profile.rome.layer))) / before).toBeCloseTo(1, 3);
    await model.release();
  });
});

describe('ROME without C⁻¹ (rome.mom2Adjustment false, the EAC authors\' ROME configs)', () => {
  it('writes along k* itself (u = k*/‖k*‖) and uses no key statistics', async () => {
    const { model, editor, profile } = setup('gpt2-world-a', (p) => (p.rome.mom2Adjustment = false));
    const req = requests[1];
    const r = await editor.edit('rome', [req]);
    expect(r.statsKeys).toEqual({});
    expect(r.metrics[0].reliability).toBe(1);
    // k*: the subject key averaged over ROME's context rows, recomputed here from taps
    const templates = await contextTemplates(model, profile.contextTemplates.rome, profile.contextTemplates.seed);
    const { rewrite } = buildEditPrompts(model, req, templates);
    const F = model.cfg.ffn;
    const kStar = new Float64Array(F);
    for (const row of rewrite) {
      const { out } = await model.run([row.ids], { logits: 'none', tapKeys: [profile.rome.layer] });
      const k = out[`key_${profile.rome.layer}`].data as Float32Array;
      for (let a = 0; a < F; a++) kStar[a] += k[row.subjectLast * F + a] / rewrite.length;
    }
    const Vt = r.deltas[0].Vt;
    const cos = Vt.reduce((acc, v, a) => acc + v * kStar[a], 0) / (Math.hypot(...Vt) * Math.hypot(...kStar));
    expect(cos).toBeGreaterThan(0.9999);
    await model.release();
  });
});

describe('MEMIT and FT', () => {
  it('MEMIT spreads a batch of 2 over layers 1–3 with rank-2 factors', async () => {
    const { model, editor } = setup('gpt2-world-a');
    const r = await editor.edit('memit', [requests[1], requests[3]]);
    expect(r.layers).toEqual([1, 2, 3]);
    expect(r.deltas.map((d) => d.rank)).toEqual([2, 2, 2]);
    const pre = r.preMetrics.reduce((a, m) => a + m.reliability, 0);
    const post = r.metrics.reduce((a, m) => a + m.reliability, 0);
    expect(post).toBeGreaterThan(pre);
    // nothing tentative is left behind: the live set holds exactly this edit's deltas
    expect(editor.live.all()).toHaveLength(3);
    await model.release();
  });
  it('FT with the elastic net moves the matrix less than plain FT', async () => {
    const a = setup('gpt2-world-a');
    const plain = await a.editor.edit('ft', [requests[1]]);
    const b = setup('gpt2-world-a');
    const en = await b.editor.edit('ft-en', [requests[1]]);
    expect(plain.deltas[0].rank).toBe(192);
    expect(en.norms[0].deltaL1).toBeLessThan(plain.norms[0].deltaL1);
    await a.model.release();
    await b.model.release();
  });
  it('a cancelled FT edit throws the engine\'s one cancellation shape (cancelledError, not a DOMException) and leaves nothing live', async () => {
    const { model, editor } = setup('gpt2-world-a');
    const ac = new AbortController();
    ac.abort();
    // skipMetrics: the FT step loop is the first place that looks at the signal
    await expect(editor.edit('ft', [requests[1]], { signal: ac.signal, skipMetrics: true })).rejects.toMatchObject({ code: 'cancelled', name: 'AbortError' });
    expect(editor.live.all()).toHaveLength(0);
    await model.release();
  });
});

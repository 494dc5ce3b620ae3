// Export of the edited checkpoint: the folder opens as a plain checkpoint, its edited tensors are exactly
// W0 + Σ U Vᵀ of the ledger's factors rounded once to the file's dtype (checked in float64, exact-weights.ts),
// and it reproduces the live edited model (logits within bounds derived in tests/tolerance.ts: float32
// rounding of two forward routes; bf16 adds one rounding of the edited weight) with the same greedy tokens.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readSafetensorsHeader, readTensorBytes } from '../../src-main/engine/checkpoint';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { exportWorkspace } from '../../src-main/jobs/studio/ops';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, LLAMA, tmpDir, worldEdits } from '../jobs/helpers';
import { report } from '../engine/helpers';
import { BF16_U, f32Bound, forwardDepth, maxAbs } from '../tolerance';
import { checkExportedWeights } from './exact-weights';

const PROMPTS = ['Touthbes Sundslyvshux plays the sport of', 'The capital of', 'Bomjoust Saikthi works for'];

async function editTwice(modelDir: string, profileName: 'gpt2-world-a' | 'llama-world-a', dir: string) {
  const ws = await Workspace.open({ modelDir, workspaceDir: dir, cacheDir: path.join(dir, 'cache') });
  const profile = fastProfile(profileName);
  const editor = ws.editorFor(profile);
  for (const r of worldEdits(2)) {
    const res = await editor.edit('rome', [r]);
    ws.ledger.recordEdit(ws.modelId, res, { profile });
  }
  return ws;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('export (gpt2, f32)', () => {
  const dir = tmpDir('eac-export-');
  let ws: Workspace;
  let out: string;
  beforeAll(async () => {
    ws = await editTwice(GPT2, 'gpt2-world-a', dir);
    out = path.join(dir, 'export');
  });
  afterAll(async () => {
    await ws?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a loadable folder whose edited tensor is exactly W0 + ΣUVᵀ and whose logits equal the live model within float32 rounding', async () => {
    const progress: number[] = [];
    const r = await exportWorkspace(ws, out, { onProgress: (f) => progress.push(f) });
    expect(fs.existsSync(out + '.partial')).toBe(false);
    expect(r.editedTensors).toEqual(['h.2.mlp.c_proj.weight']);
    expect(r.editIds).toHaveLength(2);
    expect(progress[progress.length - 1]).toBe(1);
    const names = fs.readdirSync(out).sort();
    expect(names).toEqual(['README.md', 'config.json', 'edits.json', 'model.safetensors', 'reference.json', 'tokenizer.json', 'tokenizer_config.json']);
    // the export's own card: what was edited, not the base's description
    const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(card).toContain('gpt2-world-a — edited with EAC Studio');
    expect(card).toContain('`h.2.mlp.c_proj.weight`');
    for (const id of r.editIds) expect(card).toMatch(new RegExp(`\\| \\d+ \\| ${id} \\| rome \\| 2 \\|`));

    // the exactness claim where it is exact: the stored float32 tensor against float64 W0 + Σ U Vᵀ
    const exact = checkExportedWeights(out, GPT2, ws.ledger.liveEdits(ws.modelId).flatMap((e) => e.factors));
    expect(exact.tensors).toEqual(r.editedTensors);
    expect(exact.maxDelta).toBeGreaterThan(0);
    report('export gpt2 f32: worst |stored - exact| / one-rounding bound', exact.worstRatio);
    expect(exact.over, `worst |stored − exact| / bound = ${exact.worstRatio}`).toBe(0);

    const exported = LoadedModel.open(out);
    try {
      let worst = 0;
      let bound = Infinity;
      for (const p of PROMPTS) {
        const ids = ws.model.encode(p);
        const [live] = await ws.model.lastLogits([ids]);
        const [exp] = await exported.lastLogits([ids]);
        // two float32 routes to the same logits (live W0·k + U(Vᵀk), exported fl32(W0 + UVᵀ)·k): each within
        // the forward-pass bound of the exact value, whatever kernels this CPU gets (tests/tolerance.ts)
        const b = f32Bound(maxAbs(live), forwardDepth(ws.model.cfg, ids.length), 2);
        expect(maxAbsDiff(live, exp)).toBeLessThan(b);
        worst = Math.max(worst, maxAbsDiff(live, exp) / b);
        bound = Math.min(bound, b);
      }
      report('export gpt2 f32: worst |live - exported| logits / derived bound', worst);
      // the edit is really in the weights: the base model differs by far more than rounding
      const ids = ws.model.encode(PROMPTS[0]);
      const [base] = await ws.withBase(() => ws.model.lastLogits([ids]));
      const [exp] = await exported.lastLogits([ids]);
      // (100× the rounding bound: a difference rounding could never explain)
      expect(maxAbsDiff(base, exp)).toBeGreaterThan(100 * bound);
    } finally {
      await exported.release();
    }
  });

  it('copies untouched tensors and buffers byte for byte, keeps names/order/dtypes, writes provenance', () => {
    const src = readSafetensorsHeader(path.join(GPT2, 'model.safetensors'));
    const dst = readSafetensorsHeader(path.join(out, 'model.safetensors'));
    expect(dst.tensors.map((t) => [t.name, t.dtype, t.shape.join('x')])).toEqual(src.tensors.map((t) => [t.name, t.dtype, t.shape.join('x')]));
    expect(src.tensors.some((t) => /attn\.bias$/.test(t.name))).toBe(true);
    const a = fs.readFileSync(path.join(GPT2, 'model.safetensors'));
    const b = fs.readFileSync(path.join(out, 'model.safetensors'));
    for (let i = 0; i < src.tensors.length; i++) {
      const s = src.tensors[i];
      const d = dst.tensors[i];
      const same = a.subarray(s.offset, s.offset + s.byteLength).equals(b.subarray(d.offset, d.offset + d.byteLength));
      expect(same, s.name).toBe(!/h\.2\.mlp\.c_proj\.weight$/.test(s.name));
    }
    expect(dst.metadata.format).toBe('pt');
    expect(JSON.parse(dst.metadata.eac_edit_ids)).toHaveLength(2);
    expect(JSON.parse(dst.metadata.eac_methods)).toEqual(['rome']);
    expect(JSON.parse(dst.metadata.eac_base_sha256)['model.safetensors']).toMatch(/^[0-9a-f]{64}$/);
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(manifest.edits.map((e: { caseIds: string[] }) => e.caseIds)).toEqual([['0'], ['1']]);
    expect(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).toBe(fs.readFileSync(path.join(GPT2, 'config.json'), 'utf8'));
    expect(ws.ledger.events(ws.modelId, 'export')).toHaveLength(1);
  });

  it('refuses an existing outDir unless overwrite, and replaces its own previous export in the same folder', async () => {
    await expect(exportWorkspace(ws, out)).rejects.toThrow(/already exists/);
    const r = await exportWorkspace(ws, out, { overwrite: true });
    expect(r.outDir).toBe(out);
    // no scratch or moved-aside folder left behind (.export.partial-XXXXXX, .export.old-XXXXXX)
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('export.') || n.startsWith('.export.'))).toEqual([]);
  });
});

describe('export (llama, bf16, sharded)', () => {
  const dir = tmpDir('eac-export-llama-');
  let ws: Workspace;
  afterAll(async () => {
    await ws?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the shards and index, writes bf16, and matches the live model within bf16 rounding', async () => {
    ws = await editTwice(LLAMA, 'llama-world-a', dir);
    const out = path.join(dir, 'export');
    await exportWorkspace(ws, out);
    const names = fs.readdirSync(out).sort();
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json', 'edits.json', 'tokenizer.json'])
      expect(names).toContain(f);
    const idxSrc = JSON.parse(fs.readFileSync(path.join(LLAMA, 'model.safetensors.index.json'), 'utf8'));
    const idxDst = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(idxDst.weight_map).toEqual(idxSrc.weight_map);
    const ck = loadCheckpoint(out);
    const edited = [...ck.tensors.values()].filter((t) => t.name.endsWith('mlp.down_proj.weight'));
    expect(edited.every((t) => t.dtype === 'BF16')).toBe(true);
    const base = loadCheckpoint(LLAMA);
    const l = fastProfile('llama-world-a').rome.layer;
    expect(readTensorBytes(ck, `model.layers.${l}.mlp.down_proj.weight`).equals(readTensorBytes(base, `model.layers.${l}.mlp.down_proj.weight`))).toBe(false);
    expect(readTensorBytes(ck, 'model.layers.0.mlp.down_proj.weight').equals(readTensorBytes(base, 'model.layers.0.mlp.down_proj.weight'))).toBe(true);

    // stored bf16 tensors: W0 + Σ U Vᵀ rounded once (float64 → float32 → bf16) per element
    const exact = checkExportedWeights(out, LLAMA, ws.ledger.liveEdits(ws.modelId).flatMap((e) => e.factors));
    expect(exact.tensors).toEqual([`model.layers.${l}.mlp.down_proj.weight`]);
    report('export llama bf16: worst |stored - exact| / one-rounding bound', exact.worstRatio);
    expect(exact.over, `worst |stored − exact| / bound = ${exact.worstRatio}`).toBe(0);

    const exported = LoadedModel.open(out);
    try {
      let worst = 0;
      for (const p of PROMPTS) {
        const ids = ws.model.encode(p);
        const [live] = await ws.model.lastLogits([ids]);
        const [exp] = await exported.lastLogits([ids]);
        // The exported model differs from the live one by the bf16 rounding of the edited weight: each element of
        // W = W0 + ΔW moves by at most BF16_U·|W|, independently, so the edited layer's MLP output moves by about
        // BF16_U of its own size (the same probabilistic model as tests/tolerance.ts: a sum of n terms each off
        // by ≤ u relative is off by ~u·√n·rms, and the sum itself is ~√n·rms). A relative change ε of one
        // layer's contribution to the residual stream moves the logits by at most ε of their size, charged at
        // max |logit| as every other rounding; one edited layer, plus the two float32 routes.
        const editedLayers = exact.tensors.length;
        const b = maxAbs(live) * BF16_U * editedLayers + f32Bound(maxAbs(live), forwardDepth(ws.model.cfg, ids.length), 2);
        expect(maxAbsDiff(live, exp)).toBeLessThan(b);
        worst = Math.max(worst, maxAbsDiff(live, exp) / b);
        const [g1] = await ws.model.generate([ids], 8);
        const [g2] = await exported.generate([ids], 8);
        expect(g2).toEqual(g1);
      }
      report('export llama bf16: worst |live - exported| logits / derived bound', worst);
    } finally {
      await exported.release();
    }
  });
});

// Export of the edited checkpoint: the folder opens as a plain checkpoint and reproduces the live
// edited model (f32: logits within 1e-5; bf16: within bf16 rounding and the same greedy tokens).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, readSafetensorsHeader, readTensorBytes } from '../../src-main/engine/checkpoint';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { exportWorkspace } from '../../src-main/jobs/studio/ops';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, LLAMA, tmpDir, worldEdits } from '../jobs/helpers';

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

  it('writes a loadable folder whose logits equal the live edited model within 1e-5', async () => {
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

    const exported = LoadedModel.open(out);
    try {
      for (const p of PROMPTS) {
        const ids = ws.model.encode(p);
        const [live] = await ws.model.lastLogits([ids]);
        const [exp] = await exported.lastLogits([ids]);
        expect(maxAbsDiff(live, exp)).toBeLessThan(1e-5);
      }
      // the edit is really in the weights: the base model differs
      const ids = ws.model.encode(PROMPTS[0]);
      const [base] = await ws.withBase(() => ws.model.lastLogits([ids]));
      const [exp] = await exported.lastLogits([ids]);
      expect(maxAbsDiff(base, exp)).toBeGreaterThan(1e-3);
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

    const exported = LoadedModel.open(out);
    try {
      for (const p of PROMPTS) {
        const ids = ws.model.encode(p);
        const [live] = await ws.model.lastLogits([ids]);
        const [exp] = await exported.lastLogits([ids]);
        expect(maxAbsDiff(live, exp)).toBeLessThan(2e-2);
        const [g1] = await ws.model.generate([ids], 8);
        const [g2] = await exported.generate([ids], 8);
        expect(g2).toEqual(g1);
      }
    } finally {
      await exported.release();
    }
  });
});

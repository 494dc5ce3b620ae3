// Export never ships weights of another format beside the edited safetensors (a TF / Flax / llama.cpp user, or a
// loader that prefers pytorch_model.bin, would silently run the UNEDITED model): they are left out and listed in
// edits.json `omitted`, in the card, in the API result and by the CLI; the ordinary files are still copied.
// A copy of the GPT-2 fixture in <tmp>/models/gpt2-world-a gets the foreign files; the workspace is <tmp>/ws.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foreignWeightReason } from '../../src-main/engine/export';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { exportWorkspace } from '../../src-main/jobs/studio/ops';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, tmpDir, worldEdits, runEac } from '../jobs/helpers';
import { f32Bound, forwardDepth, maxAbs } from '../tolerance';
import { report } from '../engine/helpers';
import { checkExportedWeights } from './exact-weights';

/** weights of other formats (and a second safetensors set) with the reason each must give */
const FOREIGN: Record<string, RegExp> = {
  'pytorch_model.bin': /^PyTorch/,
  'pytorch_model.bin.index.json': /^index of PyTorch/,
  'tf_model.h5': /^TensorFlow/,
  'flax_model.msgpack': /^Flax/,
  'model.onnx': /^ONNX/,
  'model.onnx_data': /^ONNX/,
  'model.gguf': /^GGUF/,
  'rust_model.ot': /^rust-bert/,
  'training.ckpt': /^PyTorch checkpoint/,
  'adapter_model.safetensors': /^safetensors not in the edited weight set/,
  // beside model.safetensors (which the loader takes) a sharded index is a second, unedited set
  'model.safetensors.index.json': /^index of safetensors not in the edited weight set/,
  'model-00001-of-00001.safetensors': /^safetensors not in the edited weight set/,
};
/** files that are not weights: copied byte for byte */
const ORDINARY: Record<string, string> = {
  'generation_config.json': '{"bos_token_id": 0, "eos_token_id": 0, "max_length": 64}\n',
  LICENSE: 'MIT License\n\nCopyright (c) the fixture authors\n',
  'special_tokens_map.json': '{"eos_token": "<|endoftext|>"}\n',
  'merges.txt': '#version: 0.2\nĠ t\n',
  'tokenizer.model': '\u0000\u0001sentencepiece-ish bytes\n',
};
const BASE_CARD = '---\nlicense: mit\n---\n# gpt2-world-a\n\nThe base model card.\n';
const FIXTURE_FILES = ['config.json', 'reference.json', 'tokenizer.json', 'tokenizer_config.json'];

const eac = (args: string[]) => runEac(args, { ...process.env, EAC_DEBUG: '' });

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('foreignWeightReason', () => {
  const ck = { files: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'] };
  it('names every other weight format and its index, never the edited set or ordinary files', () => {
    for (const [f, re] of Object.entries(FOREIGN)) {
      if (f === 'model.safetensors.index.json') continue; // decided by the export: our index or a second set's
      expect(foreignWeightReason(f, ck), f).toMatch(re);
      expect(foreignWeightReason(f, ck), f).toMatch(/unedited weights/);
    }
    for (const f of ['pytorch_model-00001-of-00002.bin', 'TF_MODEL.H5', 'consolidated.00.pth', 'model.pt', 'tf_model.h5.index.json', 'flax_model.msgpack.index.json', 'model-q4_k_m.gguf'])
      expect(foreignWeightReason(f, ck), f).not.toBeNull();
    for (const f of [...ck.files, ...Object.keys(ORDINARY), ...FIXTURE_FILES, 'README.md', 'vocab.json', 'spiece.model'])
      expect(foreignWeightReason(f, ck), f).toBeNull();
  });
});

describe('export with weights of other formats in the model folder', () => {
  const root = tmpDir('eac-export-foreign-');
  const model = path.join(root, 'models', 'gpt2-world-a');
  const wsDir = path.join(root, 'ws');
  const db = path.join(wsDir, 'ledger.sqlite');
  const out = path.join(root, 'export');
  let ws: Workspace;

  beforeAll(async () => {
    fs.mkdirSync(path.dirname(model), { recursive: true });
    fs.cpSync(GPT2, model, { recursive: true });
    for (const f of Object.keys(FOREIGN)) {
      // the second safetensors set is a real copy of the (unedited) weights: the case the export must not ship
      if (f.endsWith('.safetensors')) fs.copyFileSync(path.join(GPT2, 'model.safetensors'), path.join(model, f));
      else if (f.endsWith('.index.json')) fs.writeFileSync(path.join(model, f), JSON.stringify({ metadata: {}, weight_map: { 'wte.weight': f.replace('.index.json', '') } }));
      else fs.writeFileSync(path.join(model, f), Buffer.from(`fake ${f} weights `.repeat(64)));
    }
    for (const [f, text] of Object.entries(ORDINARY)) fs.writeFileSync(path.join(model, f), text);
    fs.writeFileSync(path.join(model, 'README.md'), BASE_CARD);
    // LLaMA-3 style original/ with a consolidated checkpoint: a sub-folder, not copied, listed
    fs.mkdirSync(path.join(model, 'original'));
    fs.writeFileSync(path.join(model, 'original', 'consolidated.00.pth'), 'fake pth');

    ws = await Workspace.open({ modelDir: model, workspaceDir: wsDir, dbFile: db, cacheDir: path.join(root, 'cache') });
    const profile = fastProfile('gpt2-world-a');
    const editor = ws.editorFor(profile);
    const [r] = worldEdits(1);
    ws.ledger.recordEdit(ws.modelId, await editor.edit('rome', [r]), { profile });
  });
  afterAll(async () => {
    await ws?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('leaves out every foreign weight file, lists each in the result, edits.json and the card, and the edited safetensors load', async () => {
    const r = await exportWorkspace(ws, out);
    const names = fs.readdirSync(out).sort();
    for (const f of [...Object.keys(FOREIGN), 'original']) expect(names, f).not.toContain(f);
    expect(names).toEqual(['README.md', 'edits.json', 'model.safetensors', ...FIXTURE_FILES, ...Object.keys(ORDINARY)].sort());

    const expected = [...Object.keys(FOREIGN), 'original/'].sort();
    expect(r.omitted.map((f) => f.file).sort()).toEqual(expected);
    for (const f of r.omitted) {
      if (f.file === 'original/') expect(f.reason).toMatch(/^a sub-folder/);
      else expect(f.reason, f.file).toMatch(FOREIGN[f.file]);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'edits.json'), 'utf8'));
    expect(manifest.omitted).toEqual(r.omitted);
    // the manifest's file list (what a later overwrite checks against) names none of them
    expect(manifest.files.map((f: { name: string }) => f.name).filter((n: string) => expected.includes(n))).toEqual([]);
    expect(ws.ledger.events(ws.modelId, 'export').at(-1)?.payload).toMatchObject({ omitted: r.omitted.map((f) => f.file) });

    const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    const line = card.split('\n').find((l) => l.startsWith('Left out of this export:'));
    expect(line, card).toBeDefined();
    for (const f of expected) expect(line).toContain('`' + f + '`');
    expect(line).toContain('unedited base model');
    // still the export's own card over the base's
    expect(card).toContain('gpt2-world-a — edited with EAC Studio');
    expect(card).toContain('The base model card.');

    // the edited safetensors hold W0 + Σ U Vᵀ of the ledger's factors, rounded once to float32
    const exact = checkExportedWeights(out, model, ws.ledger.liveEdits(ws.modelId).flatMap((e) => e.factors));
    expect(exact.tensors).toEqual(r.editedTensors);
    expect(exact.maxDelta).toBeGreaterThan(0);
    report('export (foreign files) worst |stored - exact| / one-rounding bound', exact.worstRatio);
    expect(exact.over, `worst |stored − exact| / bound = ${exact.worstRatio}`).toBe(0);

    const exported = LoadedModel.open(out);
    try {
      const ids = ws.model.encode('Touthbes Sundslyvshux plays the sport of');
      const [live] = await ws.model.lastLogits([ids]);
      const [exp] = await exported.lastLogits([ids]);
      // the same function by two float32 routes (W0·k + U(Vᵀk) live, fl32(W0 + UVᵀ)·k exported): each within
      // the forward-pass bound of the exact logits whatever kernels the CPU gets (tests/tolerance.ts)
      const bound = f32Bound(maxAbs(live), forwardDepth(ws.model.cfg, ids.length), 2);
      report('export (foreign files) max |live - exported| logits / derived bound', `${maxAbsDiff(live, exp).toExponential(2)} / ${bound.toExponential(2)}`);
      expect(maxAbsDiff(live, exp)).toBeLessThan(bound);
      // and the edit moved them by 100× what rounding can: the exported model is not the base
      const [base] = await ws.withBase(() => ws.model.lastLogits([ids]));
      expect(maxAbsDiff(base, exp)).toBeGreaterThan(100 * bound);
    } finally {
      await exported.release();
    }
  });

  it('still copies the ordinary files (tokenizer, config, generation_config.json, LICENSE) byte for byte', () => {
    for (const f of [...FIXTURE_FILES, ...Object.keys(ORDINARY)])
      expect(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(model, f))), f).toBe(true);
  });

  it('eac ledger export prints each left-out file on stderr and returns them under "omitted"', async () => {
    const out2 = path.join(root, 'export-cli');
    const r = await eac(['ledger', 'export', out2, '--db', db]);
    expect(r.code, r.err).toBe(0);
    const lines = r.err.split(/[\n\r]/).filter((l) => l.startsWith('left out '));
    expect(lines.map((l) => /^left out (\S+):/.exec(l)?.[1]).sort()).toEqual([...Object.keys(FOREIGN), 'original/'].sort());
    expect(lines.find((l) => l.startsWith('left out tf_model.h5:'))).toMatch(/TensorFlow/);
    const result = JSON.parse(r.out);
    expect(result.omitted.map((f: { file: string }) => f.file)).toContain('model.gguf');
    expect(fs.existsSync(path.join(out2, 'pytorch_model.bin'))).toBe(false);
  });
});

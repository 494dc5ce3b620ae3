// Low-rank edit factors: zero factors leave the model unchanged; a random rank-2 factor on one
// layer gives exactly the forward of the hand-materialised weight W0 + U Vᵀ.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTensorF32, writeSafetensors, type SafetensorsWriteTensor } from '../../src-main/engine/checkpoint';
import { LoadedModel, type LayerFactors } from '../../src-main/engine/runtime/model';
import { FIXTURE_NAMES, findFixture, fixtureMissingReason, maxAbsDiff, randn, report } from './helpers';

const LAYER = 2;
const RANK = 2;

function downProjName(arch: 'gpt2' | 'llama', l: number): string {
  return arch === 'gpt2' ? `h.${l}.mlp.c_proj.weight` : `model.layers.${l}.mlp.down_proj.weight`;
}

/** A copy of the folder with every tensor in F32 in one file, W0 + U Vᵀ written into one layer. */
function materialise(model: LoadedModel, l: number, f: LayerFactors): string {
  const { ck } = model;
  const { ffn, hidden } = ck.config;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-materialised-'));
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json'])
    if (fs.existsSync(path.join(ck.dir, file))) fs.copyFileSync(path.join(ck.dir, file), path.join(dir, file));
  const target = downProjName(ck.config.arch, l);
  const tensors: SafetensorsWriteTensor[] = [];
  for (const t of ck.tensors.values()) {
    const w = readTensorF32(ck, t.name);
    if (t.name === target) {
      // GPT-2 Conv1D stores [d_ff, d] (used as k·W); LLaMA stores [d, d_ff] (used as W·k)
      const inputMajor = ck.config.arch === 'gpt2';
      for (let i = 0; i < ffn; i++)
        for (let j = 0; j < hidden; j++) {
          let s = 0;
          for (let r = 0; r < f.rank; r++) s += f.Vt[r * ffn + i] * f.Ut[r * hidden + j];
          w[inputMajor ? i * hidden + j : j * ffn + i] += s;
        }
    }
    tensors.push({ name: t.name, dtype: 'F32', shape: t.shape, data: new Uint8Array(w.buffer, w.byteOffset, w.byteLength) });
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
  return dir;
}

for (const name of FIXTURE_NAMES) {
  const fx = findFixture(name);
  describe.skipIf(!fx)(`${name} edit factors${fx ? '' : ` (skipped: ${fixtureMissingReason(name)})`}`, () => {
    const model = fx ? LoadedModel.open(fx.dir) : (null as unknown as LoadedModel);
    const cleanup: (() => Promise<void> | void)[] = [];
    afterAll(async () => {
      for (const c of cleanup) await c();
      await model?.release();
    });
    const rows = () => fx!.cases.map((c) => c.ids);

    it('zero factors on every layer equal the plain model', async () => {
      model.factors.clear();
      const plain = await model.lastLogits(rows());
      const plainGen = await model.generate(rows(), 10, { stopIds: [] });
      const { ffn, hidden } = model.cfg;
      for (const l of model.allLayers()) model.factors.set(l, { rank: RANK, Vt: new Float32Array(RANK * ffn), Ut: new Float32Array(RANK * hidden) });
      try {
        const zero = await model.lastLogits(rows());
        for (let b = 0; b < plain.length; b++) expect(maxAbsDiff(zero[b], plain[b])).toBeLessThan(1e-6);
        expect(await model.generate(rows(), 10, { stopIds: [] })).toEqual(plainGen);
      } finally {
        model.factors.clear();
      }
    });

    it(`a random rank-${RANK} factor on layer ${LAYER} equals W0 + U Vᵀ (taps and a materialised checkpoint)`, async () => {
      const { ffn, hidden } = model.cfg;
      const f: LayerFactors = { rank: RANK, Vt: randn(RANK * ffn, 7, 1 / Math.sqrt(ffn)), Ut: randn(RANK * hidden, 11, 2) };
      const spec = { logits: 'none' as const, tapKeys: [LAYER], tapMlpOut: [LAYER] };
      model.factors.clear();
      const plain = await model.run(rows(), spec);
      model.factors.set(LAYER, f);
      let edited;
      let editedLast;
      let editedGen;
      try {
        edited = await model.run(rows(), spec);
        editedLast = await model.lastLogits(rows());
        editedGen = await model.generate(rows(), 10, { stopIds: [] });
      } finally {
        model.factors.clear();
      }

      // 1) in JS from the key tap: out' = out + Utᵀ (Vt key) at every position
      const key = plain.out[`key_${LAYER}`].data as Float32Array;
      const out = plain.out[`mlp_out_${LAYER}`].data as Float32Array;
      const outEdited = edited.out[`mlp_out_${LAYER}`].data as Float32Array;
      const keyEdited = edited.out[`key_${LAYER}`].data as Float32Array;
      expect(maxAbsDiff(keyEdited, key)).toBeLessThan(1e-6); // the edit acts after the key
      const positions = key.length / ffn;
      const expected = new Float32Array(out.length);
      let change = 0;
      for (let p = 0; p < positions; p++) {
        const vk = new Float64Array(RANK);
        for (let r = 0; r < RANK; r++) {
          let s = 0;
          for (let i = 0; i < ffn; i++) s += f.Vt[r * ffn + i] * key[p * ffn + i];
          vk[r] = s;
        }
        for (let j = 0; j < hidden; j++) {
          let s = 0;
          for (let r = 0; r < RANK; r++) s += f.Ut[r * hidden + j] * vk[r];
          expected[p * hidden + j] = out[p * hidden + j] + s;
          change = Math.max(change, Math.abs(s));
        }
      }
      const tapErr = maxAbsDiff(outEdited, expected);
      report(`${name} rank-2 factor: max |mlp_out' - (out + Ut^T Vt k)|`, tapErr);
      expect(change).toBeGreaterThan(0.05); // the factor really changes the layer
      expect(tapErr).toBeLessThan(1e-4);

      // 2) a checkpoint with the weight materialised, run plainly
      const dir = materialise(model, LAYER, f);
      const hand = LoadedModel.open(dir);
      cleanup.push(async () => {
        await hand.release();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      const handLast = await hand.lastLogits(rows());
      const plainLast = await model.lastLogits(rows());
      let err = 0;
      let moved = 0;
      for (let b = 0; b < handLast.length; b++) {
        err = Math.max(err, maxAbsDiff(handLast[b], editedLast[b]));
        moved = Math.max(moved, maxAbsDiff(plainLast[b], editedLast[b]));
      }
      report(`${name} rank-2 factor vs materialised W0+UV^T logits`, err);
      report(`${name} rank-2 factor moves logits by`, moved);
      expect(moved).toBeGreaterThan(1e-2);
      expect(err).toBeLessThan(1e-4);
      expect(await hand.generate(rows(), 10, { stopIds: [] })).toEqual(editedGen);
    });
  });
}

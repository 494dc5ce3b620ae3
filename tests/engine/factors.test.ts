// Low-rank edit factors: zero factors leave the model unchanged; a random rank-2 factor on one
// layer gives exactly the forward of the hand-materialised weight W0 + U Vᵀ.
// Exact claims are checked exactly (adding an exact zero, nodes upstream of the edit); the rest against
// bounds derived from the computation (tests/tolerance.ts), which hold whatever kernels the CPU gets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTensorF32, writeSafetensors, type SafetensorsWriteTensor } from '../../src-main/engine/checkpoint';
import { LoadedModel, type LayerFactors } from '../../src-main/engine/runtime/model';
import { FIXTURE_NAMES, findFixture, fixtureMissingReason, maxAbsDiff, randn, report } from './helpers';
import { f32Bound, forwardDepth, gamma, maxAbs } from '../tolerance';

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
        // exact on every CPU: the same session and GEMM shapes on the W0 path, and the factor term is an exact
        // zero (products of zeros summed), which x + 0 = x leaves bit for bit
        for (let b = 0; b < plain.length; b++) expect(maxAbsDiff(zero[b], plain[b])).toBe(0);
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
      // the edit acts after the key: every node up to it is the same node on the same inputs, so equal bits
      expect(maxAbsDiff(keyEdited, key)).toBe(0);
      // Expected in float64 from the same float32 key and plain output. onnxruntime computes Vt·k (ffn products
      // per row), Utᵀ·(that) (RANK products) and adds it to out, in float32, in whatever order and blocking
      // its kernels use (or folds the add into the GEMM): by Higham's γ bound each element is within
      // γ(ffn + RANK + 1)·Σ_r |Ut[r,j]|·Σ_i |Vt[r,i]·k_i| + γ(RANK + 2)·(|out_j| + that sum) of the exact
      // value, on any CPU. |x|ᵀ|y| comes from the data, so the bound is rigorous, not a model.
      const positions = key.length / ffn;
      let change = 0;
      let tapErr = 0;
      let tapRatio = 0;
      let tapBound = 0;
      for (let p = 0; p < positions; p++) {
        const vk = new Float64Array(RANK);
        const vkAbs = new Float64Array(RANK);
        for (let r = 0; r < RANK; r++) {
          let s = 0;
          let a = 0;
          for (let i = 0; i < ffn; i++) {
            s += f.Vt[r * ffn + i] * key[p * ffn + i];
            a += Math.abs(f.Vt[r * ffn + i] * key[p * ffn + i]);
          }
          vk[r] = s;
          vkAbs[r] = a;
        }
        for (let j = 0; j < hidden; j++) {
          let s = 0;
          let a = 0;
          for (let r = 0; r < RANK; r++) {
            s += f.Ut[r * hidden + j] * vk[r];
            a += Math.abs(f.Ut[r * hidden + j]) * vkAbs[r];
          }
          const o = out[p * hidden + j];
          const err = Math.abs(outEdited[p * hidden + j] - (o + s));
          const bound = gamma(ffn + RANK + 1) * a + gamma(RANK + 2) * (Math.abs(o) + a);
          expect(err).toBeLessThanOrEqual(bound);
          tapErr = Math.max(tapErr, err);
          tapRatio = Math.max(tapRatio, err / bound);
          tapBound = Math.max(tapBound, bound);
          change = Math.max(change, Math.abs(s));
        }
      }
      report(`${name} rank-2 factor: max |mlp_out' - (out + Ut^T Vt k)|`, tapErr);
      report(`${name} rank-2 factor: tap error / gamma bound`, tapRatio);
      // the factor really changes the layer: by 100× the rounding bound above, which rounding never explains
      expect(change).toBeGreaterThan(100 * tapBound);

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
      let ratio = 0;
      let minBound = Infinity;
      const rs = rows();
      for (let b = 0; b < handLast.length; b++) {
        // two float32 routes (live factors, weight rounded once to float32) to the same logits: twice the
        // forward-pass bound at this row's length (tests/tolerance.ts)
        const bound = f32Bound(maxAbs(editedLast[b]), forwardDepth(model.cfg, rs[b].length), 2);
        expect(maxAbsDiff(handLast[b], editedLast[b])).toBeLessThan(bound);
        err = Math.max(err, maxAbsDiff(handLast[b], editedLast[b]));
        ratio = Math.max(ratio, maxAbsDiff(handLast[b], editedLast[b]) / bound);
        moved = Math.max(moved, maxAbsDiff(plainLast[b], editedLast[b]));
        minBound = Math.min(minBound, bound);
      }
      report(`${name} rank-2 factor vs materialised W0+UV^T logits`, err);
      report(`${name} rank-2 factor vs materialised logits / derived bound`, ratio);
      report(`${name} rank-2 factor moves logits by`, moved);
      // and the logits, by 100× the rounding bound
      expect(moved).toBeGreaterThan(100 * minBound);
      expect(await hand.generate(rows(), 10, { stopIds: [] })).toEqual(editedGen);
    });
  });
}

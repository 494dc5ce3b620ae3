// KL direction of the v* loss on a two-token toy distribution, computed by hand.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { klTerm } from '../../src-main/engine/edit/lossgraph';
import { Graph } from '../../src-main/engine/graph/ir';
import { serializeModel } from '../../src-main/engine/onnx/writer';
import { gradCheck } from './gradcheck';

// original p_o = (0.5, 0.5), edited p_e = (0.9, 0.1)
// KL(p_e ‖ p_o) = 0.9 ln(0.9/0.5) + 0.1 ln(0.1/0.5) = 0.368064...
// KL(p_o ‖ p_e) = 0.5 ln(0.5/0.9) + 0.5 ln(0.5/0.1) = 0.510826...
const klEO = 0.9 * Math.log(1.8) + 0.1 * Math.log(0.2);
const klOE = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(5);

async function klOf(rev: number): Promise<number> {
  const g = new Graph('kl', 'float64');
  const logp = g.input('logp', 'float64', [1, 2]);
  const ref = g.input('ref', 'float64', [1, 2]);
  const r = g.input('rev', 'float64', []);
  g.output(klTerm(g, logp, ref, r), 'kl');
  const s = await ort.InferenceSession.create(serializeModel(g));
  const out = await s.run({
    logp: new ort.Tensor('float64', Float64Array.from([Math.log(0.9), Math.log(0.1)]), [1, 2]),
    ref: new ort.Tensor('float64', Float64Array.from([Math.log(0.5), Math.log(0.5)]), [1, 2]),
    rev: new ort.Tensor('float64', Float64Array.from([rev]), []),
  });
  await s.release();
  return (out.kl.data as Float64Array)[0];
}

describe('KL direction', () => {
  it('rev picks the direction: the graph gives different values for rev = 0 and rev = 1 on this toy', async () => {
    // a klTerm that ignored rev (or summed both directions) would give one value for both
    expect(Math.abs((await klOf(1)) - (await klOf(0)))).toBeGreaterThan(0.1);
  });
  it('rev = ½ is the even mix of the two hand-computed directions', async () => {
    expect(await klOf(0.5)).toBeCloseTo((klEO + klOE) / 2, 12);
  });
  // 12 digits on onnxruntime float64: two log-ratios and products, ≤ 8 roundings of terms ≤ 1, so within
  // 8·2^-53 ≈ 1e-15 of the hand value whatever kernels the CPU gets; the directions differ by 0.14
  it("rev = 1 is ROME's KL(edited ‖ original) (kl_div(init, edited, log_target=True))", async () => {
    expect(await klOf(1)).toBeCloseTo(klEO, 12);
  });
  it('rev = 0 is KL(original ‖ edited), the earlier form', async () => {
    expect(await klOf(0)).toBeCloseTo(klOE, 12);
  });
  for (const rev of [0, 1])
    it(`gradient w.r.t. the edited log-probs matches central differences (rev = ${rev})`, async () => {
      const { maxRel } = await gradCheck({
        inputs: [[2, 3]],
        build: (g, [x]) => {
          const logp = g.logSoftmax(x, -1);
          const ref = g.logSoftmax(g.inline('refl', 'float64', [2, 3], [0.3, -1, 0.2, 1.1, 0, -0.4]), -1);
          return klTerm(g, logp, ref, g.inline('rev', 'float64', [], [rev]));
        },
      });
      expect(maxRel).toBeLessThan(1e-5);
    });
});

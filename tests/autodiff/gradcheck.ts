// Central finite differences in float64 against the autodiff graph.
//
// Why the callers' fixed tolerances (|fd − grad| < 1e-7, relative < 1e-6 at h = 1e-6) hold on every CPU:
// the difference has two parts. Truncation, h²/6·|f'''| ≈ 1e-12·|f'''|, depends on the maths only. Rounding,
// ε_f / h with ε_f the float64 error of one loss evaluation, is the part onnxruntime's kernels (FMA3 or
// AVX-512 DGEMM, other reduction orders) change: the loss is a projection of ≤ 30 outputs of inputs in
// [−1, 1], |loss| ≲ 10, so ε_f ≈ √30·2^-53·10 ≈ 6e-15 under the probabilistic model of tests/tolerance.ts and
// ε_f / h ≈ 6e-9, a sixteenth of the absolute tolerance. Measured here (AVX-512) the worst op is at 2.6e-10
// absolute and 5.7e-9 relative: 400× and 175× inside the bounds, room no kernel choice can use up.
import * as ort from 'onnxruntime-node';
import { gradients } from '../../src-main/engine/graph/autodiff';
import { Graph } from '../../src-main/engine/graph/ir';
import { serializeModel } from '../../src-main/engine/onnx/writer';

export function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export interface GradCase {
  /** shapes of the differentiable inputs */
  inputs: number[][];
  /** build a scalar-valued output from the inputs */
  build: (g: Graph, xs: string[]) => string;
  seed?: number;
  /** value generator per input (e.g. positive for Log/Sqrt) */
  init?: (i: number, r: () => number) => number;
}

export async function gradCheck(c: GradCase): Promise<{ maxAbs: number; maxRel: number }> {
  const g = new Graph('gc', 'float64');
  const xs = c.inputs.map((s, i) => g.input(`x${i}`, 'float64', s));
  const y = c.build(g, xs);
  // a random projection makes the scalar depend on every output element
  const ys = g.shape(y) as number[];
  const r = rng(c.seed ?? 7);
  const n = ys.reduce((a, b) => a * b, 1);
  const proj = g.inline('proj', 'float64', ys, Array.from({ length: n }, () => r()));
  const loss = g.reduce('ReduceSum', g.mul(y, proj), [...ys.keys()], false);
  const grads = gradients(g, loss, xs);
  g.output(loss, 'loss');
  grads.forEach((gr, i) => g.output(gr, `g${i}`));
  const sess = await ort.InferenceSession.create(serializeModel(g));
  const vals = c.inputs.map((s, i) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => (c.init ? c.init(i, r) : r() * 2)));
  const feeds = () => Object.fromEntries(vals.map((v, i) => [`x${i}`, new ort.Tensor('float64', v, c.inputs[i])]));
  const out = await sess.run(feeds());
  let maxAbs = 0;
  let maxRel = 0;
  const h = 1e-6;
  for (let i = 0; i < vals.length; i++) {
    const ad = out[`g${i}`].data as Float64Array;
    for (let j = 0; j < vals[i].length; j++) {
      const keep = vals[i][j];
      vals[i][j] = keep + h;
      const lp = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      vals[i][j] = keep - h;
      const lm = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      vals[i][j] = keep;
      const fd = (lp - lm) / (2 * h);
      const err = Math.abs(fd - ad[j]);
      maxAbs = Math.max(maxAbs, err);
      maxRel = Math.max(maxRel, err / Math.max(1e-3, Math.abs(fd)));
    }
  }
  await sess.release();
  return { maxAbs, maxRel };
}

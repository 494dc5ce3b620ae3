import { describe, expect, it } from 'vitest';
import { DIFFERENTIABLE_OPS } from '../../src-main/engine/graph/autodiff';
import { Graph } from '../../src-main/engine/graph/ir';
import { GradCase, gradCheck } from './gradcheck';

const pos = (_i: number, r: () => number) => 0.5 + r() + 0.5;
const cases: Record<string, GradCase> = {
  Add: { inputs: [[2, 3, 4], [4]], build: (g, [a, b]) => g.add(a, b) },
  Sub: { inputs: [[2, 3], [1, 3]], build: (g, [a, b]) => g.sub(a, b) },
  Mul: { inputs: [[2, 1, 4], [3, 1]], build: (g, [a, b]) => g.mul(a, b) },
  Div: { inputs: [[3, 4], [4]], build: (g, [a, b]) => g.div(a, b), init: (i, r) => (i === 1 ? 1 + r() : r()) },
  Pow: { inputs: [[3, 4]], build: (g, [a]) => g.op('Pow', [a, g.constF(3)]) },
  Neg: { inputs: [[5]], build: (g, [a]) => g.neg(a) },
  Tanh: { inputs: [[5]], build: (g, [a]) => g.op('Tanh', [a]) },
  Exp: { inputs: [[5]], build: (g, [a]) => g.op('Exp', [a]) },
  Log: { inputs: [[5]], build: (g, [a]) => g.op('Log', [a]), init: pos },
  Sqrt: { inputs: [[5]], build: (g, [a]) => g.op('Sqrt', [a]), init: pos },
  Reciprocal: { inputs: [[5]], build: (g, [a]) => g.op('Reciprocal', [a]), init: pos },
  Sigmoid: { inputs: [[5]], build: (g, [a]) => g.op('Sigmoid', [a]) },
  Abs: { inputs: [[6]], build: (g, [a]) => g.op('Abs', [a]) },
  Cast: { inputs: [[4]], build: (g, [a]) => g.cast(g.mul(a, a), 'float64') },
  Identity: { inputs: [[4]], build: (g, [a]) => g.op('Identity', [a]) },
  MatMul: { inputs: [[2, 3, 4], [4, 5]], build: (g, [a, b]) => g.matmul(a, b) },
  // a right operand with batch dims takes the general rule (the 2-D one goes through Gemm)
  'MatMul (batched right operand)': { inputs: [[2, 3, 4], [2, 4, 5]], build: (g, [a, b]) => g.matmul(a, b) },
  // both transB variants: y = a·bᵀ + a·c
  Gemm: { inputs: [[3, 4], [5, 4], [4, 5]], build: (g, [a, b, c]) => g.add(g.gemm(a, b, false, true), g.gemm(a, c)) },
  // how weights stored [out, in] are applied to [B, T, in] activations: flatten, Gemm(transB), reshape back
  'Gemm (matmul2d on 3-D input)': { inputs: [[2, 3, 4], [5, 4]], build: (g, [a, b]) => g.matmul2d(a, b, true) },
  Transpose: { inputs: [[2, 3, 4]], build: (g, [a]) => g.mul(g.transpose(a, [2, 0, 1]), g.transpose(a, [2, 0, 1])) },
  Reshape: { inputs: [[2, 6]], build: (g, [a]) => g.mul(g.reshape(a, [3, 4], [3, 4]), g.constF(2)) },
  Unsqueeze: { inputs: [[3]], build: (g, [a]) => g.mul(g.unsqueeze(a, [0]), g.constF(3)) },
  Squeeze: { inputs: [[3, 1]], build: (g, [a]) => g.mul(g.squeeze(a, [1]), g.constF(3)) },
  Expand: {
    inputs: [[3, 1]],
    build: (g, [a]) => g.node('Expand', [a, g.constI([2, 3, 4])], {}, [{ dtype: 'float64', shape: [2, 3, 4] }])[0],
  },
  ReduceSum: { inputs: [[3, 4, 2]], build: (g, [a]) => g.mul(g.unsqueeze(g.reduce('ReduceSum', a, [1], false), [1]), g.reduce('ReduceSum', a, [0, 2])) },
  ReduceMean: { inputs: [[3, 4]], build: (g, [a]) => g.mul(g.reduce('ReduceMean', a, [-1]), a) },
  Softmax: { inputs: [[2, 5]], build: (g, [a]) => g.softmax(a, -1) },
  LogSoftmax: { inputs: [[2, 5]], build: (g, [a]) => g.logSoftmax(a, -1) },
  Slice: { inputs: [[3, 6]], build: (g, [a]) => g.mul(g.slice(a, 1, 1, 4), g.slice(a, 1, 2, 5)) },
  Concat: { inputs: [[2, 3], [2, 2]], build: (g, [a, b]) => g.mul(g.concat([a, b, a], 1), g.concat([b, a, a], 1)) },
  Gather: { inputs: [[5, 3]], build: (g, [a]) => g.gather(a, g.constI([4, 0, 4, 2])) },
  GatherElements: {
    inputs: [[3, 4]],
    build: (g, [a]) => g.op('GatherElements', [a, g.inline('ix', 'int64', [3, 2], [0, 3, 1, 1, 2, 0])], { axis: { i: 1 } }),
  },
  Where: {
    inputs: [[4], [4]],
    build: (g, [a, b]) => g.op('Where', [g.inline('cond', 'bool', [4], [1, 0, 0, 1]), a, b]),
  },
};

describe('backward rules agree with float64 central differences', () => {
  it('every differentiable op has a check', () => {
    expect(DIFFERENTIABLE_OPS.filter((op) => !cases[op]).sort()).toEqual([]);
  });
  for (const [op, c] of Object.entries(cases)) {
    it(op, async () => {
      const { maxAbs, maxRel } = await gradCheck(c);
      expect(maxAbs).toBeLessThan(1e-7);
      expect(maxRel).toBeLessThan(1e-6);
    });
  }
  it('rejects a rank mismatch it cannot undo', () => {
    const g = new Graph('x', 'float64');
    const a = g.input('a', 'float64', ['B', 3]);
    expect(() => g.add(a, g.input('b', 'float64', [4, 3]))).toThrow(/broadcast/);
  });
});

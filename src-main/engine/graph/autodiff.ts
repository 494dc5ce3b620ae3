// Reverse-mode differentiation over the IR, emitting standard ONNX ops (this ORT build ships no
// training ops). Only nodes on a path from `wrt` to `loss` get backward nodes.
import { Graph, Node, Shape, dimEq, normAxis, shapeEq } from './ir';
import { internalError } from '../errors';

type Rule = (g: Graph, n: Node, gy: string) => (string | null)[];

/** Sum a broadcast gradient back down to the shape of the operand it flows to. */
export function sumTo(g: Graph, grad: string, target: Shape): string {
  const gs = g.shape(grad);
  if (shapeEq(gs, target)) return grad;
  let out = grad;
  const lead = gs.length - target.length;
  if (lead < 0) throw internalError(`sumTo: gradient [${gs}] has lower rank than [${target}]`);
  if (lead > 0) out = g.reduce('ReduceSum', out, [...Array(lead).keys()], false);
  const os = g.shape(out);
  const axes: number[] = [];
  os.forEach((d, i) => {
    if (dimEq(d, target[i])) return;
    if (target[i] === 1) axes.push(i);
    else throw internalError(`sumTo: cannot reduce [${gs}] to [${target}]`);
  });
  if (axes.length) out = g.reduce('ReduceSum', out, axes, true);
  return out;
}

function swapLast(g: Graph, a: string): string {
  const r = g.shape(a).length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return g.transpose(a, perm);
}

const inShape = (g: Graph, n: Node, i: number) => g.shape(n.inputs[i]);
const attrI = (n: Node, k: string, d: number) => (n.attrs[k] as { i: number } | undefined)?.i ?? d;

// Expand has no static inference in the IR: register its shape explicitly.
function expandTo(g: Graph, a: string, like: string): string {
  return g.node('Expand', [a, g.op('Shape', [like])], {}, [{ dtype: g.dtype(a), shape: g.shape(like) }])[0];
}

function zerosLike(g: Graph, x: string): string {
  return expandTo(g, g.constF(0), x);
}

const RULES: Record<string, Rule> = {
  Identity: (_g, _n, gy) => [gy],
  Add: (g, n, gy) => [sumTo(g, gy, inShape(g, n, 0)), sumTo(g, gy, inShape(g, n, 1))],
  Sub: (g, n, gy) => [sumTo(g, gy, inShape(g, n, 0)), sumTo(g, g.neg(gy), inShape(g, n, 1))],
  Mul: (g, n, gy) => [
    sumTo(g, g.mul(gy, n.inputs[1]), inShape(g, n, 0)),
    sumTo(g, g.mul(gy, n.inputs[0]), inShape(g, n, 1)),
  ],
  Div: (g, n, gy) => [
    sumTo(g, g.div(gy, n.inputs[1]), inShape(g, n, 0)),
    sumTo(g, g.neg(g.div(g.mul(gy, n.outputs[0]), n.inputs[1])), inShape(g, n, 1)),
  ],
  Pow: (g, n, gy) => {
    const c = g.constValues.get(n.inputs[1]);
    if (!c || c.length !== 1) throw internalError('Pow: only constant scalar exponents are differentiable');
    const d = g.mul(gy, g.mul(g.constF(c[0]), g.op('Pow', [n.inputs[0], g.constF(c[0] - 1)])));
    return [sumTo(g, d, inShape(g, n, 0)), null];
  },
  Neg: (g, _n, gy) => [g.neg(gy)],
  Tanh: (g, n, gy) => [g.mul(gy, g.sub(g.constF(1), g.mul(n.outputs[0], n.outputs[0])))],
  Exp: (g, n, gy) => [g.mul(gy, n.outputs[0])],
  Log: (g, n, gy) => [g.div(gy, n.inputs[0])],
  Sqrt: (g, n, gy) => [g.div(g.mul(gy, g.constF(0.5)), n.outputs[0])],
  Reciprocal: (g, n, gy) => [g.neg(g.mul(gy, g.mul(n.outputs[0], n.outputs[0])))],
  Sigmoid: (g, n, gy) => [g.mul(gy, g.mul(n.outputs[0], g.sub(g.constF(1), n.outputs[0])))],
  Abs: (g, n, gy) => [g.mul(gy, g.op('Sign', [n.inputs[0]]))],
  Cast: (g, n, gy) => [g.cast(gy, g.dtype(n.inputs[0]))],
  MatMul: (g, n, gy) => {
    const [a, b] = n.inputs;
    const bs = g.shape(b);
    if (bs.length === 2 && typeof bs[0] === 'number' && typeof bs[1] === 'number') {
      // a 2-D right operand (a weight, edit factors): dA = dY·bᵀ and dB = aᵀ·dY through Gemm on the
      // stored layouts, so no transposed copy of a weight is ever made
      const K = bs[0];
      const N = bs[1];
      const rows = (x: string, w: number) => (g.shape(x).length === 2 ? x : g.reshape(x, [-1, w], ['rows', w]));
      return [sumTo(g, g.matmul2d(gy, b, true), g.shape(a)), g.gemm(rows(a, K), rows(gy, N), true, false)];
    }
    return [sumTo(g, g.matmul(gy, swapLast(g, b)), g.shape(a)), sumTo(g, g.matmul(swapLast(g, a), gy), g.shape(b))];
  },
  Gemm: (g, n, gy) => {
    // Y = A·op(B) (+ C); alpha = beta = 1 as the IR emits them
    const [a, b, c] = n.inputs;
    if (attrI(n, 'transA', 0) !== 0) throw internalError('Gemm backward: transA is not supported');
    const tB = attrI(n, 'transB', 0) === 1;
    const da = tB ? g.gemm(gy, b) : g.gemm(gy, b, false, true);
    const db = tB ? g.gemm(gy, a, true, false) : g.gemm(a, gy, true, false);
    return c ? [da, db, sumTo(g, gy, g.shape(c))] : [da, db];
  },
  Transpose: (g, n, gy) => {
    const perm = (n.attrs.perm as { ints: number[] }).ints;
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [g.transpose(gy, inv)];
  },
  Reshape: (g, n, gy) => [
    g.node('Reshape', [gy, g.op('Shape', [n.inputs[0]])], {}, [{ dtype: g.dtype(gy), shape: inShape(g, n, 0) }])[0],
    null,
  ],
  Unsqueeze: (g, n, gy) => [
    g.node('Reshape', [gy, g.op('Shape', [n.inputs[0]])], {}, [{ dtype: g.dtype(gy), shape: inShape(g, n, 0) }])[0],
    null,
  ],
  Squeeze: (g, n, gy) => [
    g.node('Reshape', [gy, g.op('Shape', [n.inputs[0]])], {}, [{ dtype: g.dtype(gy), shape: inShape(g, n, 0) }])[0],
    null,
  ],
  Expand: (g, n, gy) => [sumTo(g, gy, inShape(g, n, 0)), null],
  ReduceSum: (g, n, gy) => [reduceBack(g, n, gy, false), null],
  ReduceMean: (g, n, gy) => [reduceBack(g, n, gy, true), null],
  Softmax: (g, n, gy) => {
    const y = n.outputs[0];
    const ax = attrI(n, 'axis', -1);
    const s = g.reduce('ReduceSum', g.mul(gy, y), [ax], true);
    return [g.mul(y, g.sub(gy, s))];
  },
  LogSoftmax: (g, n, gy) => {
    const ax = attrI(n, 'axis', -1);
    const s = g.reduce('ReduceSum', gy, [ax], true);
    return [g.sub(gy, g.mul(g.op('Exp', [n.outputs[0]]), s))];
  },
  Slice: (g, n, gy) => {
    const [x, starts, ends, axes] = n.inputs;
    const s = g.shape(x);
    const st = g.constValues.get(starts)!;
    const ax = normAxis(g.constValues.get(axes)![0], s.length);
    const dim = s[ax];
    if (typeof dim !== 'number') throw internalError('Slice backward needs a static dim');
    const end = Math.min(g.constValues.get(ends)![0], dim);
    const pads = new Array(2 * s.length).fill(0);
    pads[ax] = st[0];
    pads[s.length + ax] = dim - end;
    return [g.node('Pad', [gy, g.constI(pads)], {}, [{ dtype: g.dtype(gy), shape: s }])[0], null, null, null];
  },
  Concat: (g, n, gy) => {
    const ax = attrI(n, 'axis', 0);
    let off = 0;
    return n.inputs.map((inp) => {
      const d = g.shape(inp)[ax];
      if (typeof d !== 'number') throw internalError('Concat backward needs static dims');
      const part = g.slice(gy, ax, off, off + d);
      off += d;
      return part;
    });
  },
  Gather: (g, n, gy) => {
    // rows of a matrix picked by a 1-D index: scatter-add the gradient rows back
    const [data, idx] = n.inputs;
    if (attrI(n, 'axis', 0) !== 0 || g.shape(idx).length !== 1) throw internalError('Gather backward: only axis 0 with 1-D indices');
    const zeros = zerosLike(g, data);
    const idx2 = g.unsqueeze(idx, [1]);
    const out = g.node('ScatterND', [zeros, idx2, gy], { reduction: { s: 'add' } }, [
      { dtype: g.dtype(data), shape: g.shape(data) },
    ])[0];
    return [out, null];
  },
  GatherElements: (g, n, gy) => {
    const [data, idx] = n.inputs;
    const zeros = zerosLike(g, data);
    const out = g.node('ScatterElements', [zeros, idx, gy], { axis: { i: attrI(n, 'axis', 0) }, reduction: { s: 'add' } }, [
      { dtype: g.dtype(data), shape: g.shape(data) },
    ])[0];
    return [out, null];
  },
  Where: (g, n, gy) => {
    const [c, a, b] = n.inputs;
    const z = g.constF(0);
    return [
      null,
      sumTo(g, g.op('Where', [c, gy, z]), g.shape(a)),
      sumTo(g, g.op('Where', [c, z, gy]), g.shape(b)),
    ];
  },
};

function reduceBack(g: Graph, n: Node, gy: string, mean: boolean): string {
  const x = n.inputs[0];
  const xs = g.shape(x);
  const axes = (g.constValues.get(n.inputs[1]) ?? []).map((a) => normAxis(a, xs.length));
  let grad = gy;
  if (attrI(n, 'keepdims', 1) === 0) grad = g.unsqueeze(grad, axes);
  if (mean) {
    let count = 1;
    for (const a of axes) {
      const d = xs[a];
      if (typeof d !== 'number') throw internalError('ReduceMean backward needs static reduced dims');
      count *= d;
    }
    grad = g.mul(grad, g.constF(1 / count));
  }
  return expandTo(g, grad, x);
}

export const DIFFERENTIABLE_OPS = Object.keys(RULES);

export interface GradientOptions {
  /**
   * Values that cut the forward pass into segments, in forward order (the residual stream between
   * transformer blocks). Activation checkpointing: the backward pass recomputes a segment's
   * intermediates from the checkpoint before it, right when it reaches that segment, so only the
   * checkpoints stay alive across the graph — one block's activations at a time instead of all of
   * them (GPT-2 XL, 30 blocks × ~110 MB for a 22-prompt edit) for one extra forward pass.
   */
  checkpoints?: string[];
}

/**
 * Append the gradient of scalar `loss` with respect to each of `wrt` to the graph; returns the
 * gradient value names (a zero tensor where `loss` does not depend on an input).
 */
export function gradients(g: Graph, loss: string, wrt: string[], opts: GradientOptions = {}): string[] {
  const fromWrt = new Set(wrt);
  for (const n of g.nodes) if (n.inputs.some((i) => fromWrt.has(i))) n.outputs.forEach((o) => fromWrt.add(o));
  const toLoss = new Set([loss]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => toLoss.has(o))) n.inputs.forEach((x) => toLoss.add(x));
  }
  const active = (v: string) => fromWrt.has(v) && toLoss.has(v);

  const contrib = new Map<string, string[]>();
  const push = (v: string, gv: string) => {
    const list = contrib.get(v) ?? [];
    list.push(gv);
    contrib.set(v, list);
  };
  const total = (v: string): string | null => {
    const list = contrib.get(v);
    if (!list || list.length === 0) return null;
    const sum = list.length === 1 ? list[0] : g.node('Sum', list, {}, [{ dtype: g.dtype(list[0]), shape: g.shape(v) }])[0];
    contrib.set(v, [sum]);
    return sum;
  };

  // Values computed from initializers only (a weight cast to the compute dtype, a slice of one) are
  // recomputed where a backward rule needs them instead of being kept alive from the forward pass:
  // a bf16 weight's f32 copy then lives for one matmul, not across the whole graph.
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const constMemo = new Map<string, boolean>();
  const isConst = (v: string): boolean => {
    if (g.initializers.has(v)) return true;
    const hit = constMemo.get(v);
    if (hit !== undefined) return hit;
    const p = producer.get(v);
    const ins = p ? p.inputs.filter((i) => i !== '') : [];
    const r = !!p && ins.length > 0 && ins.every(isConst);
    constMemo.set(v, r);
    return r;
  };
  // A weight view (a cast matrix, Graph.weightViews) is re-emitted anchored on the incoming gradient,
  // so the copy is made right before the backward matmul that reads it.
  const remat = (v: string, anchor: string): string => {
    const view = g.weightViews.get(v);
    if (view) return view(anchor);
    if (v === '' || g.initializers.has(v) || !isConst(v)) return v;
    const p = producer.get(v)!;
    const outs = g.node(
      p.op,
      p.inputs.map((i) => remat(i, anchor)),
      p.attrs,
      p.outputs.map((o) => ({ dtype: g.dtype(o), shape: g.shape(o) })),
    );
    return outs[p.outputs.indexOf(v)];
  };

  if (g.shape(loss).length !== 0) throw internalError('loss must be a scalar');
  push(loss, g.constF(1));
  const forward = [...g.nodes];

  // segments between checkpoints: segment k holds the nodes after checkpoint k-1 up to checkpoint k
  const cps = opts.checkpoints ?? [];
  const at = new Map<Node, number>();
  forward.forEach((n, i) => at.set(n, i));
  const cpAt = cps.map((c) => {
    const p = producer.get(c);
    if (!p) throw internalError(`checkpoint ${c} is not computed by a node`);
    return at.get(p)!;
  });
  for (let k = 1; k < cpAt.length; k++) if (cpAt[k] <= cpAt[k - 1]) throw internalError('checkpoints must be in forward order');
  const segmentOf = (i: number): number => {
    for (let k = 1; k < cpAt.length; k++) if (i > cpAt[k - 1] && i <= cpAt[k]) return k;
    return -1;
  };
  const recomputed = new Map<number, Map<string, string>>();
  /** Segment k's forward again, from its checkpoint tied to `anchor` (a gradient that exists only once the backward pass reaches the segment). */
  const recompute = (k: number, anchor: string): Map<string, string> => {
    let m = recomputed.get(k);
    if (m) return m;
    m = new Map([[cps[k - 1], g.after(cps[k - 1], anchor)]]);
    for (let i = cpAt[k - 1] + 1; i <= cpAt[k]; i++) {
      const n = forward[i];
      if (!n.inputs.some((x) => m!.has(x))) continue; // independent of the segment's input: kept as is
      const outs = g.node(n.op, n.inputs.map((x) => m!.get(x) ?? x), n.attrs, n.outputs.map((o) => ({ dtype: g.dtype(o), shape: g.shape(o) })));
      n.outputs.forEach((o, j) => m!.set(o, outs[j]));
    }
    recomputed.set(k, m);
    return m;
  };

  for (let i = forward.length - 1; i >= 0; i--) {
    const n = forward[i];
    if (!n.outputs.some(active)) continue;
    const gy = total(n.outputs[0]);
    if (!gy) continue;
    if (n.outputs.length !== 1) throw internalError(`${n.op}: multi-output nodes are not differentiable`);
    const rule = RULES[n.op];
    if (!rule) throw internalError(`no backward rule for ${n.op}`);
    const seg = segmentOf(i);
    const m = seg > 0 ? recompute(seg, gy) : null;
    // weight views are re-cast next to this rule; activations of a checkpointed segment come from its recomputation
    const input = (v: string) => (g.weightViews.has(v) || !m ? remat(v, gy) : (m.get(v) ?? remat(v, gy)));
    const grads = rule(g, { ...n, inputs: n.inputs.map(input), outputs: m ? n.outputs.map((o) => m.get(o) ?? o) : n.outputs }, gy);
    n.inputs.forEach((inp, k) => {
      const gi = grads[k];
      if (gi && active(inp)) push(inp, gi);
    });
  }
  return wrt.map((w) => total(w) ?? zerosLike(g, w));
}

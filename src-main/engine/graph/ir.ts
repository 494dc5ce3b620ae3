import { internalError } from '../errors';
// Graph IR: a typed, shape-tracking builder over plain ONNX ops. Shapes are tracked symbolically
// (numbers or dim names) because the autodiff needs them to undo broadcasting statically.

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool';
export type Dim = number | string;
export type Shape = Dim[];

export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] }
  | { t: InlineTensor };

export interface Value {
  name: string;
  dtype: DType;
  shape: Shape;
}

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface InlineTensor {
  dtype: DType;
  dims: number[];
  data: Uint8Array;
}

export interface ExternalTensor {
  dtype: DType;
  dims: number[];
  location: string;
  offset: number;
  length: number;
}

export type Initializer = ({ kind: 'inline' } & InlineTensor) | ({ kind: 'external' } & ExternalTensor);

export const FLOAT_TYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]));
}

export function broadcastShapes(a: Shape, b: Shape): Shape {
  const n = Math.max(a.length, b.length);
  const out: Shape = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw internalError(`cannot broadcast [${a}] with [${b}]`);
  }
  return out;
}

function typedBytes(dtype: DType, values: ArrayLike<number>): Uint8Array {
  switch (dtype) {
    case 'float32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(v))).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(values).buffer);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    default:
      throw internalError(`inline constants of ${dtype} are not supported`);
  }
}

export class Graph {
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly nodes: Node[] = [];
  readonly initializers = new Map<string, Initializer>();
  /** Known constant values (for autodiff rules that need e.g. a Pow exponent or Slice bounds). */
  readonly constValues = new Map<string, number[]>();
  /**
   * Values that are views of a checkpoint weight (its cast to the compute dtype), with how to emit
   * the view again so that it runs just before a use that depends on `anchor`. The autodiff uses it
   * to re-cast a weight where the backward pass needs it instead of keeping the forward cast alive.
   */
  readonly weightViews = new Map<string, (anchor: string) => string>();
  private readonly values = new Map<string, Value>();
  private counter = 0;

  constructor(
    readonly name: string,
    /** dtype every float computation runs in (float64 for gradient checks). */
    readonly fdt: DType = 'float32',
  ) {}

  /**
   * A graph of `nodes` (a topologically ordered subset of this graph's) with `inputs` as its graph
   * inputs, `outputs` as its outputs and the initializers the nodes read. Used to run one graph as a
   * chain of smaller ones (runtime/partition.ts). `types` overrides the declared type of an input or
   * output (a bf16 weight view fed as the f16 the device holds).
   */
  extract(name: string, nodes: Node[], inputs: string[], outputs: string[], types: ReadonlyMap<string, DType> = new Map()): Graph {
    const g = new Graph(name, this.fdt);
    const declare = (n: string) => {
      const v = this.value(n);
      // every dim symbolic: a cut tensor's rank is what the IR knows for certain
      return g.define(n, types.get(n) ?? v.dtype, v.shape.map((_, i) => `${n}_d${i}`));
    };
    for (const n of inputs) {
      declare(n);
      g.inputs.push(g.value(n));
    }
    for (const node of nodes) {
      for (const i of node.inputs) {
        if (i === '' || g.values.has(i)) continue;
        const init = this.initializers.get(i);
        if (!init) throw internalError(`extract ${name}: ${i} is neither an input nor produced before its use`);
        g.initializers.set(i, init);
        g.values.set(i, this.value(i));
      }
      for (const o of node.outputs) g.values.set(o, this.value(o));
      g.nodes.push(node);
    }
    for (const o of outputs) {
      if (!g.values.has(o)) throw internalError(`extract ${name}: output ${o} is not produced`);
      const v = g.value(o);
      g.outputs.push(types.has(o) ? { name: o, dtype: types.get(o)!, shape: v.shape } : v);
    }
    return g;
  }

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw internalError(`unknown value ${name}`);
    return v;
  }

  shape(name: string): Shape {
    return this.value(name).shape;
  }

  dtype(name: string): DType {
    return this.value(name).dtype;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  private define(name: string, dtype: DType, shape: Shape): string {
    if (this.values.has(name)) throw internalError(`value ${name} defined twice`);
    this.values.set(name, { name, dtype, shape });
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): string {
    this.define(name, dtype, shape);
    this.inputs.push(this.value(name));
    return name;
  }

  output(name: string, as?: string): string {
    let n = name;
    if (as && as !== name) n = this.op('Identity', [name], {}, as);
    if (!this.outputs.some((o) => o.name === n)) this.outputs.push(this.value(n));
    return n;
  }

  external(name: string, t: ExternalTensor): string {
    this.initializers.set(name, { kind: 'external', ...t });
    return this.define(name, t.dtype, t.dims);
  }

  inline(name: string, dtype: DType, dims: number[], values: ArrayLike<number>): string {
    this.initializers.set(name, { kind: 'inline', dtype, dims, data: typedBytes(dtype, values) });
    if (values.length <= 64) this.constValues.set(name, Array.from(values));
    return this.define(name, dtype, dims);
  }

  /** A constant in the compute float dtype (scalar when dims is []). */
  constF(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.inline(this.fresh('c'), this.fdt, dims ?? (typeof values === 'number' ? [] : [arr.length]), arr);
  }

  constI(values: number[], dims?: number[]): string {
    return this.inline(this.fresh('ci'), 'int64', dims ?? [values.length], values);
  }

  /** Emit a node; out shapes/dtypes come from the caller (ops below compute them). */
  node(op: string, inputs: string[], attrs: Record<string, Attr>, outs: { name?: string; dtype: DType; shape: Shape }[]): string[] {
    for (const i of inputs) if (i !== '' && !this.values.has(i)) throw internalError(`${op}: unknown input ${i}`);
    const names = outs.map((o) => this.define(o.name ?? this.fresh(op.toLowerCase()), o.dtype, o.shape));
    this.nodes.push({ op, inputs, outputs: names, attrs });
    return names;
  }

  /** Single-output op with shape inference for the ops the models use. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    const { dtype, shape } = this.infer(op, inputs, attrs);
    return this.node(op, inputs, attrs, [{ name, dtype, shape }])[0];
  }

  private infer(op: string, inputs: string[], attrs: Record<string, Attr>): { dtype: DType; shape: Shape } {
    const v = (i: number) => this.value(inputs[i]);
    switch (op) {
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
      case 'Pow':
        return { dtype: v(0).dtype, shape: broadcastShapes(v(0).shape, v(1).shape) };
      case 'Equal':
      case 'Less':
      case 'Greater':
        return { dtype: 'bool', shape: broadcastShapes(v(0).shape, v(1).shape) };
      case 'Where':
        return { dtype: v(1).dtype, shape: broadcastShapes(v(0).shape, broadcastShapes(v(1).shape, v(2).shape)) };
      case 'Identity':
      case 'Neg':
      case 'Tanh':
      case 'Exp':
      case 'Log':
      case 'Sqrt':
      case 'Reciprocal':
      case 'Sigmoid':
      case 'Abs':
      case 'Sign':
      case 'Cos':
      case 'Sin':
      case 'Softmax':
      case 'LogSoftmax':
        return { dtype: v(0).dtype, shape: v(0).shape };
      case 'Cast':
        return { dtype: DTYPE_OF_ONNX[(attrs.to as { i: number }).i], shape: v(0).shape };
      case 'MatMul': {
        const a = v(0).shape;
        const b = v(1).shape;
        if (a.length < 2 || b.length < 2) throw internalError('MatMul: rank ≥ 2 required');
        if (!dimEq(a[a.length - 1], b[b.length - 2])) throw internalError(`MatMul: [${a}] x [${b}]`);
        const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
        return { dtype: v(0).dtype, shape: [...batch, a[a.length - 2], b[b.length - 1]] };
      }
      case 'Gemm': {
        const a = v(0).shape;
        const b = v(1).shape;
        if (a.length !== 2 || b.length !== 2) throw internalError('Gemm: 2-D operands required');
        const tA = ((attrs.transA as { i: number } | undefined)?.i ?? 0) === 1;
        const tB = ((attrs.transB as { i: number } | undefined)?.i ?? 0) === 1;
        const [m, ka] = tA ? [a[1], a[0]] : [a[0], a[1]];
        const [kb, n] = tB ? [b[1], b[0]] : [b[0], b[1]];
        if (!dimEq(ka, kb)) throw internalError(`Gemm: [${a}]${tA ? 'ᵀ' : ''} x [${b}]${tB ? 'ᵀ' : ''}`);
        return { dtype: v(0).dtype, shape: [m, n] };
      }
      case 'Transpose': {
        const perm = (attrs.perm as { ints: number[] }).ints;
        return { dtype: v(0).dtype, shape: perm.map((p) => v(0).shape[p]) };
      }
      case 'Gather': {
        const axis = normAxis((attrs.axis as { i: number } | undefined)?.i ?? 0, v(0).shape.length);
        const s = v(0).shape;
        return { dtype: v(0).dtype, shape: [...s.slice(0, axis), ...v(1).shape, ...s.slice(axis + 1)] };
      }
      case 'GatherElements':
        return { dtype: v(0).dtype, shape: v(1).shape };
      case 'ReduceSum':
      case 'ReduceMean':
      case 'ReduceMax': {
        const s = v(0).shape;
        const axes = (this.constValues.get(inputs[1]) ?? []).map((a) => normAxis(a, s.length));
        const keep = ((attrs.keepdims as { i: number } | undefined)?.i ?? 1) === 1;
        const shape: Shape = [];
        s.forEach((d, i) => {
          if (!axes.includes(i)) shape.push(d);
          else if (keep) shape.push(1);
        });
        return { dtype: v(0).dtype, shape };
      }
      case 'Unsqueeze': {
        const s = [...v(0).shape];
        const axes = this.constValues.get(inputs[1])!;
        const rank = s.length + axes.length;
        for (const a of axes.map((x) => normAxis(x, rank)).sort((x, y) => x - y)) s.splice(a, 0, 1);
        return { dtype: v(0).dtype, shape: s };
      }
      case 'Squeeze': {
        const s = v(0).shape;
        const axes = this.constValues.get(inputs[1])!.map((a) => normAxis(a, s.length));
        return { dtype: v(0).dtype, shape: s.filter((_, i) => !axes.includes(i)) };
      }
      case 'Shape':
        return { dtype: 'int64', shape: [v(0).shape.length] };
      default:
        throw internalError(`no shape inference for ${op}: use node() with explicit shapes`);
    }
  }

  // ---- op helpers ----------------------------------------------------------------------------
  add(a: string, b: string, name?: string) { return this.op('Add', [a, b], {}, name); }
  sub(a: string, b: string) { return this.op('Sub', [a, b]); }
  mul(a: string, b: string, name?: string) { return this.op('Mul', [a, b], {}, name); }
  div(a: string, b: string) { return this.op('Div', [a, b]); }
  matmul(a: string, b: string, name?: string) { return this.op('MatMul', [a, b], {}, name); }
  neg(a: string) { return this.op('Neg', [a]); }
  /**
   * `w` reshaped to its own shape with a data dependency on `anchor`: onnxruntime cannot run what
   * consumes the result (a weight's cast) before `anchor` exists, so the cast's f32 copy is made
   * right before its matmul instead of wherever the topological sort happens to put it (it put the
   * cast of a vocab block before the first layer). Reshape aliases its input: no copy.
   */
  after(w: string, anchor: string) {
    const dims = this.shape(w);
    const own = dims.every((d) => typeof d === 'number') ? this.constI(dims as number[]) : this.op('Shape', [w]);
    const one = this.node('Shape', [anchor], { start: { i: 0 }, end: { i: 1 } }, [{ dtype: 'int64', shape: [1] }])[0];
    const zero = this.op('Mul', [one, this.constI([0])]);
    const shape = this.op('Add', [own, zero]);
    return this.node('Reshape', [w, shape], {}, [{ dtype: this.dtype(w), shape: dims }])[0];
  }
  /** 2-D Gemm (alpha 1, no C) with optional transposed operands: no Transpose node, no copy of b. */
  gemm(a: string, b: string, transA = false, transB = false) {
    const attrs: Record<string, Attr> = {};
    if (transA) attrs.transA = { i: 1 };
    if (transB) attrs.transB = { i: 1 };
    return this.op('Gemm', [a, b], attrs);
  }
  /**
   * x [..., K] times the 2-D matrix w — [K, N], or [N, K] with `transB` — through Gemm on w's stored
   * layout (rank > 2 inputs are flattened to rows and reshaped back). Used for weights: never
   * materialises wᵀ.
   */
  matmul2d(x: string, w: string, transB: boolean) {
    const xs = this.shape(x);
    const ws = this.shape(w);
    if (ws.length !== 2) throw internalError('matmul2d: w must be 2-D');
    if (xs.length === 2) return this.gemm(x, w, false, transB);
    const K = xs[xs.length - 1];
    const N = transB ? ws[0] : ws[1];
    const lead = xs.slice(0, -1);
    if (typeof K !== 'number') throw internalError('matmul2d: a static inner dim is required');
    const flat = this.reshape(x, [-1, K], [lead.join('*'), K]);
    const y = this.gemm(flat, w, false, transB);
    const leadShape = this.node('Shape', [x], { end: { i: -1 } }, [{ dtype: 'int64', shape: [lead.length] }])[0];
    const outShape = this.concat([leadShape, this.constI([typeof N === 'number' ? N : -1])], 0);
    return this.node('Reshape', [y, outShape], {}, [{ dtype: this.dtype(x), shape: [...lead, N] }])[0];
  }
  transpose(a: string, perm: number[]) { return this.op('Transpose', [a], { perm: { ints: perm } }); }
  cast(a: string, to: DType) {
    return this.dtype(a) === to ? a : this.op('Cast', [a], { to: { i: ONNX_OF_DTYPE[to] } });
  }
  reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax', a: string, axes: number[], keepdims = true) {
    const rank = this.shape(a).length;
    // non-negative axes: ORT mis-shapes reductions given negative axes over empty dims
    return this.op(op, [a, this.constI(axes.map((x) => normAxis(x, rank)))], { keepdims: { i: keepdims ? 1 : 0 } });
  }
  unsqueeze(a: string, axes: number[]) { return this.op('Unsqueeze', [a, this.constI(axes)]); }
  squeeze(a: string, axes: number[]) { return this.op('Squeeze', [a, this.constI(axes)]); }
  reshape(a: string, spec: number[], outShape: Shape, name?: string) {
    return this.node('Reshape', [a, this.constI(spec)], {}, [{ name, dtype: this.dtype(a), shape: outShape }])[0];
  }
  /** Slice along one axis with static bounds (end exclusive, clamped like ONNX). */
  slice(a: string, axis: number, start: number, end: number) {
    const s = [...this.shape(a)];
    const ax = normAxis(axis, s.length);
    const d = s[ax];
    if (typeof d !== 'number') throw internalError('slice needs a static dim');
    s[ax] = Math.min(end, d) - start;
    const out = this.node('Slice', [a, this.constI([start]), this.constI([end]), this.constI([ax])], {}, [
      { dtype: this.dtype(a), shape: s },
    ])[0];
    return out;
  }
  concat(parts: string[], axis: number, name?: string) {
    const s = [...this.shape(parts[0])];
    const ax = normAxis(axis, s.length);
    const dims = parts.map((p) => this.shape(p)[ax]);
    s[ax] = dims.every((d) => typeof d === 'number')
      ? (dims as number[]).reduce((x, y) => x + y, 0)
      : dims.filter((d) => d !== 0).join('+');
    return this.node('Concat', parts, { axis: { i: ax } }, [{ name, dtype: this.dtype(parts[0]), shape: s }])[0];
  }
  gather(data: string, idx: string, axis = 0, name?: string) { return this.op('Gather', [data, idx], { axis: { i: axis } }, name); }
  softmax(a: string, axis = -1) { return this.op('Softmax', [a], { axis: { i: normAxis(axis, this.shape(a).length) } }); }
  logSoftmax(a: string, axis = -1) { return this.op('LogSoftmax', [a], { axis: { i: normAxis(axis, this.shape(a).length) } }); }
}

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export const ONNX_OF_DTYPE: Record<DType, number> = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export const DTYPE_OF_ONNX: Record<number, DType> = Object.fromEntries(
  Object.entries(ONNX_OF_DTYPE).map(([k, v]) => [v, k as DType]),
);

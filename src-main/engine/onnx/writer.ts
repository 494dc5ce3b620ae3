// Serialise the graph IR to an ONNX ModelProto. Field numbers follow onnx/onnx.proto.
import { PbWriter } from './protobuf';
import { Attr, DType, Graph, Initializer, Node, ONNX_OF_DTYPE, Value } from '../graph/ir';
import { internalError } from '../errors';

export const IR_VERSION = 10;
export const OPSET = 21;

/** Keep only nodes that some output depends on: ORT executes dead nodes. */
export function prune(g: Graph): { nodes: Node[]; used: Set<string> } {
  const needed = new Set(g.outputs.map((o) => o.name));
  const keep: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => needed.has(o))) {
      keep.push(n);
      for (const inp of n.inputs) if (inp) needed.add(inp);
    }
  }
  keep.reverse();
  return { nodes: keep, used: needed };
}

function writeAttr(w: PbWriter, name: string, a: Attr): void {
  w.string(1, name);
  if ('i' in a) w.int(3, a.i).int(20, 2);
  else if ('f' in a) w.float(2, a.f).int(20, 1);
  else if ('s' in a) w.string(4, a.s).int(20, 3);
  else if ('ints' in a) w.packedInts(8, a.ints).int(20, 7);
  else if ('floats' in a) w.packedFloats(7, a.floats).int(20, 6);
  else if ('t' in a) w.message(5, (t) => writeTensor(t, '', { kind: 'inline', ...a.t })).int(20, 4);
}

function writeTensor(w: PbWriter, name: string, t: Initializer): void {
  w.packedInts(1, t.dims);
  w.int(2, ONNX_OF_DTYPE[t.dtype]);
  if (name) w.string(8, name);
  if (t.kind === 'inline') {
    w.bytes(9, t.data);
  } else {
    const kv = (k: string, v: string) => w.message(13, (e) => e.string(1, k).string(2, v));
    kv('location', t.location);
    kv('offset', String(t.offset));
    kv('length', String(t.length));
    w.int(14, 1);
  }
}

function writeValueInfo(w: PbWriter, v: Value): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tt) => {
      tt.int(1, ONNX_OF_DTYPE[v.dtype]);
      tt.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

export interface SerializeOptions {
  /**
   * External initializers written as graph inputs instead (name -> the dtype they are fed in): the
   * weights a device session takes from the device-resident copy (runtime/device-weights.ts) rather
   * than uploading its own. Consumers are dtype-agnostic (Cast, Gather, the Reshape of Graph.after),
   * so a bfloat16 weight fed as float16 needs no other change to the graph.
   */
  weightInputs?: ReadonlyMap<string, DType>;
}

export function serializeModel(g: Graph, opts: SerializeOptions = {}): Uint8Array {
  const { nodes, used } = prune(g);
  const asInput = opts.weightInputs ?? new Map<string, DType>();
  const w = new PbWriter();
  w.int(1, IR_VERSION);
  w.string(2, 'eac-studio');
  w.message(8, (o) => o.string(1, '').int(2, OPSET));
  w.message(7, (gw) => {
    for (const n of nodes) {
      gw.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.outputs[0]);
        nw.string(4, n.op);
        for (const [k, a] of Object.entries(n.attrs)) nw.message(5, (aw) => writeAttr(aw, k, a));
      });
    }
    gw.string(2, g.name);
    for (const [name, init] of g.initializers) if (used.has(name) && !asInput.has(name)) gw.message(5, (tw) => writeTensor(tw, name, init));
    // every declared input stays in the signature so callers can feed a stable set
    for (const v of g.inputs) gw.message(11, (vw) => writeValueInfo(vw, v));
    for (const [name, dtype] of asInput) {
      const init = g.initializers.get(name);
      if (!init || init.kind !== 'external') throw internalError(`weight input ${name} is not an external initializer of graph ${g.name}`);
      if (used.has(name)) gw.message(11, (vw) => writeValueInfo(vw, { name, dtype, shape: init.dims }));
    }
    for (const v of g.outputs) gw.message(12, (vw) => writeValueInfo(vw, v));
  });
  return w.finish();
}

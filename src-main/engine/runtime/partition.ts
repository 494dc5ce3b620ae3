// One graph run as a chain of smaller sessions on a GPU (README "How memory is used on a GPU").
//
// Why: onnxruntime's WebGPU provider hands a freed intermediate buffer back only when the run ends
// (measured on lavapipe: a chain of 8 weight casts held all 8 copies, +1.93 GiB, whatever the buffer
// cache mode). A BF16/F16 checkpoint's matmuls read an f32 cast of their weight (f32 accumulation,
// issue 17), so one run over the whole model held an f32 copy of every weight at its end: 2.4× the
// weight bytes on the 2-layer LLaMA-3-width checkpoint. Cutting the graph into parts whose
// intermediates stay under a budget and running them one after the other bounds that to one part's
// casts: the weights themselves are shared device tensors (device-weights.ts), so the extra sessions
// hold nothing but their kernels. Tensors that cross a cut stay on the device (gpu-buffer outputs
// fed to the next part) and are disposed after their last use.
import * as ort from 'onnxruntime-node';
import { FLOAT_TYPES, type DType, type Graph, type Node, type Shape } from '../graph/ir';
import { prune } from '../onnx/writer';
import { internalError } from '../errors';

/** Ops that alias their input (no new buffer): they cost nothing and are kept beside their consumer. */
const ALIAS_OPS = new Set(['Reshape', 'Identity', 'Squeeze', 'Unsqueeze', 'Flatten']);

const SIZE: Record<DType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, bool: 1 };

export interface PartPlan {
  nodes: Node[];
  /** graph inputs, weights excluded, and tensors of earlier parts it reads */
  inputs: string[];
  /** tensors it makes that a later part reads, and the graph outputs it makes */
  outputs: string[];
  /** its inputs that no later part reads and that are not graph outputs (freed after it runs) */
  lastUse: string[];
  /** bytes of the buffers its nodes allocate (symbolic dims counted as 1) */
  bytes: number;
}

/** Bytes of a value's buffer with every symbolic dim taken as 1 (activations are small at decode time). */
export function staticBytes(dtype: DType, shape: Shape): number {
  return shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), SIZE[dtype]);
}

/**
 * Cuts `graph` (in its topological node order) into parts whose allocations stay under `budget`
 * bytes each; a node larger than the budget gets a part of its own. A cut never separates a weight
 * view (the Reshape `Graph.after` puts before a weight's cast) from the cast that reads it.
 */
export function planParts(graph: Graph, budget: number): PartPlan[] {
  const { nodes } = prune(graph);
  const cost = nodes.map((n) => (ALIAS_OPS.has(n.op) ? 0 : n.outputs.reduce((a, o) => a + staticBytes(graph.dtype(o), graph.shape(o)), 0)));
  const isWeightView = (n: Node) => ALIAS_OPS.has(n.op) && graph.initializers.get(n.inputs[0])?.kind === 'external';
  const starts = [0];
  let acc = 0;
  for (let i = 0; i < nodes.length; i++) {
    const start = starts[starts.length - 1];
    if (acc > 0 && cost[i] > 0 && acc + cost[i] > budget) {
      let c = i;
      while (c - 1 > start && isWeightView(nodes[c - 1])) c--;
      starts.push(c);
      acc = 0;
      for (let j = c; j <= i; j++) acc += cost[j];
    } else acc += cost[i];
  }
  const finals = new Set(graph.outputs.map((o) => o.name));
  const lastReader = new Map<string, number>();
  const partOf = (i: number) => {
    let p = 0;
    while (p + 1 < starts.length && starts[p + 1] <= i) p++;
    return p;
  };
  const partIndex = nodes.map((_, i) => partOf(i));
  nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastReader.set(x, Math.max(lastReader.get(x) ?? -1, partIndex[i]))));
  return starts.map((s, p) => {
    const end = p + 1 < starts.length ? starts[p + 1] : nodes.length;
    const own = nodes.slice(s, end);
    const made = new Set(own.flatMap((n) => n.outputs));
    const inputs: string[] = [];
    for (const n of own)
      for (const x of n.inputs)
        if (x && !made.has(x) && !graph.initializers.has(x) && !inputs.includes(x)) inputs.push(x);
    const outputs = [...made].filter((o) => finals.has(o) || (lastReader.get(o) ?? -1) > p);
    const lastUse = inputs.filter((x) => lastReader.get(x) === p && !finals.has(x));
    return { nodes: own, inputs, outputs, lastUse, bytes: cost.slice(s, end).reduce((a, b) => a + b, 0) };
  });
}

/** The part budget for a graph whose device-resident weights take `weightBytes`: a tenth of them, within [128 MiB, 2 GiB]. */
export function defaultPartBytes(weightBytes: number): number {
  return Math.min(2 * 2 ** 30, Math.max(128 * 2 ** 20, Math.round(weightBytes / 10)));
}

/** What the runtime needs of a session: ort.InferenceSession, or a chain of them. */
export interface RunnableSession {
  run(feeds: ort.InferenceSession.FeedsType): Promise<ort.InferenceSession.ReturnType>;
  /** `fetches`: the outputs wanted (names) */
  run(feeds: ort.InferenceSession.FeedsType, fetches: string[]): Promise<ort.InferenceSession.ReturnType>;
  release(): Promise<void>;
}

interface BuiltPart {
  session: ort.InferenceSession;
  /** tensors of this or earlier parts whose last reader is this part (disposed after it runs) */
  done: string[];
}

/**
 * A graph's parts, each a session on the same device, run in order for every `run`. Graph outputs
 * come back on the host like a single session's; everything else stays on the device.
 */
export class PartitionedSession implements RunnableSession {
  private constructor(
    private readonly parts: BuiltPart[],
    private readonly finals: string[],
  ) {}

  get partCount(): number {
    return this.parts.length;
  }

  /**
   * Builds the parts of `plan` with `create` (which serialises and opens one part graph, given the
   * preferred location of each of its outputs). A part that fails to build releases the ones built.
   */
  static async build(
    graph: Graph,
    plan: PartPlan[],
    create: (part: Graph, locations: Record<string, 'cpu' | 'gpu-buffer'>) => Promise<ort.InferenceSession>,
    /** the dtype a weight view crossing a cut has on the device (bf16 views of f16-resident weights) */
    deviceType: (dtype: DType) => DType = (d) => d,
  ): Promise<PartitionedSession> {
    const finals = graph.outputs.map((o) => o.name);
    const finalSet = new Set(finals);
    const built: BuiltPart[] = [];
    try {
      for (let i = 0; i < plan.length; i++) {
        const p = plan[i];
        const types = new Map<string, DType>();
        for (const x of [...p.inputs, ...p.outputs]) {
          const d = deviceType(graph.dtype(x));
          if (d !== graph.dtype(x)) types.set(x, d);
        }
        const g = graph.extract(`${graph.name}_part${i}`, p.nodes, p.inputs, p.outputs, types);
        const locations: Record<string, 'cpu' | 'gpu-buffer'> = {};
        // a graph output goes to the host as from any session; a float tensor between parts stays on
        // the device; index and shape tensors go through the host (the CPU nodes that read them want it there)
        for (const o of p.outputs) locations[o] = !finalSet.has(o) && FLOAT_TYPES.has(graph.dtype(o)) ? 'gpu-buffer' : 'cpu';
        // A run whose outputs all stay on the device returns once its work is queued, not done, and
        // the queued work's buffers are only freed when it completes: 8 parts queued behind each
        // other held all their casts again (measured: parts "took" 0.0 s, the last one 33 s, and the
        // peak was back). So each part sends its smallest float output through the host — the
        // download waits for the part to finish — unless a graph output already does. (A 1-element
        // slice of the part's last float result instead did not wait for all of it: the 2-layer
        // LLaMA-3-width edit's tap forward peaked at 8.31 GiB instead of 6.87.)
        const onDevice = p.outputs.filter((o) => locations[o] === 'gpu-buffer');
        if (i < plan.length - 1 && !p.outputs.some((o) => finalSet.has(o) && FLOAT_TYPES.has(graph.dtype(o))) && onDevice.length) {
          const bytes = (o: string) => staticBytes(graph.dtype(o), graph.shape(o));
          locations[onDevice.reduce((a, b) => (bytes(b) < bytes(a) ? b : a))] = 'cpu';
        }
        built.push({ session: await create(g, locations), done: p.lastUse });
      }
    } catch (e) {
      for (const b of built) await b.session.release().catch(() => {});
      throw e;
    }
    return new PartitionedSession(built, finals);
  }

  async run(feeds: ort.InferenceSession.FeedsType, fetches?: string[]): Promise<ort.InferenceSession.ReturnType> {
    const made = new Map<string, ort.Tensor>();
    const out: Record<string, ort.Tensor> = {};
    const get = (x: string) => {
      const t = made.get(x) ?? (feeds[x] as ort.Tensor | undefined);
      if (!t) throw internalError(`partitioned run: input ${x} was neither fed nor made by an earlier part`);
      return t;
    };
    try {
      for (const part of this.parts) {
        // its graph inputs, the tensors earlier parts made, and its weights (the caller feeds all of the graph's)
        const f: Record<string, ort.Tensor> = {};
        for (const x of part.session.inputNames) f[x] = get(x);
        const r = await part.session.run(f);
        for (const [name, t] of Object.entries(r)) made.set(name, t as ort.Tensor);
        for (const x of part.done) {
          const t = made.get(x);
          if (t) {
            made.delete(x);
            if (t.location === 'gpu-buffer') t.dispose();
          }
        }
      }
      // every part's outputs are fixed when it is built, so an output not fetched was still made (and
      // copied to the host if it is a graph output); it is dropped here
      for (const name of fetches ?? this.finals) out[name] = get(name);
      return out;
    } finally {
      // a run that failed half-way still frees what it left on the device
      for (const [name, t] of made) if (!(name in out) && t.location === 'gpu-buffer') t.dispose();
    }
  }

  async release(): Promise<void> {
    for (const p of this.parts) await p.session.release();
  }
}

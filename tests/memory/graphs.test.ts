// No session may hold a private copy of a weight (README "How memory is used"): onnxruntime's
// constant folding would store any node computed only from initializers (a weight's Cast, Transpose
// or Slice) as a new initializer. These tests check (1) that the option turning folding off is
// honoured by this onnxruntime build, (2) that createSession refuses a graph it would fold when
// folding is left on, and (3) the graphs the engine builds: no weight is transposed, every matrix
// cast is tied to run time, and backward passes re-cast weights instead of keeping forward copies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../src-main/engine/checkpoint';
import { buildLossGraph } from '../../src-main/engine/edit/lossgraph';
import { Graph, type Node } from '../../src-main/engine/graph/ir';
import { buildForward, type ForwardSpec } from '../../src-main/engine/models/forward';
import { prune, serializeModel } from '../../src-main/engine/onnx/writer';
import { createSession, foldableWeightNodes, sessionOptions } from '../../src-main/engine/runtime/session';
import { FIXTURES } from '../shared';

const LLAMA = path.join(FIXTURES, 'llama-world-a'); // BF16 weights
const GPT2 = path.join(FIXTURES, 'gpt2-world-a'); // F32 weights

/** A graph computing x + Cast(w)·1 for the fixture's first norm weight (a bf16 external initializer). */
function castGraph(ck: Checkpoint): Graph {
  const e = ck.tensors.get('model.norm.weight')!;
  const g = new Graph('cast_probe');
  const w = g.external('w', { dtype: 'bfloat16', dims: e.shape, location: e.file, offset: e.offset, length: e.byteLength });
  const x = g.input('x', 'float32', e.shape);
  g.output(g.add(x, g.cast(w, 'float32')), 'y');
  return g;
}

/** op types left in the model onnxruntime optimised (saved with optimizedModelFilePath). */
async function optimisedOps(g: Graph, opts: ort.InferenceSession.SessionOptions): Promise<string> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'eac-opt-')), 'optimised.onnx');
  try {
    // constant folding is a basic-level optimizer; basic keeps the saved model free of CPU-specific layouts
    const s = await ort.InferenceSession.create(serializeModel(g), { ...opts, graphOptimizationLevel: 'basic', optimizedModelFilePath: out });
    await s.release();
    return fs.readFileSync(out).toString('latin1');
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
}

describe('constant folding of weights', () => {
  const ck = loadCheckpoint(LLAMA);

  it('onnxruntime honours the disabled ConstantFolding: the weight Cast survives optimisation (and is folded when allowed)', async () => {
    const g = castGraph(ck);
    const kept = await optimisedOps(g, sessionOptions(g, ck.dir, 'cpu'));
    const folded = await optimisedOps(g, sessionOptions(g, ck.dir, 'cpu', { allowConstantFolding: true }));
    // NodeProto.op_type is the plain string "Cast"; node names are lower case
    expect(kept).toContain('Cast');
    expect(folded).not.toContain('Cast');
  });

  it('createSession refuses a graph with a foldable weight node when folding is left on', async () => {
    const g = castGraph(ck);
    expect(foldableWeightNodes(g)).toEqual(['Cast(w)']);
    await expect(createSession(g, ck.dir, 'cpu', { allowConstantFolding: true })).rejects.toMatchObject({ code: 'weight_copy' });
    // the same graph is accepted with folding off, and a graph without weights with folding on
    await (await createSession(g, ck.dir, 'cpu')).session.release();
    const plain = new Graph('plain');
    plain.output(plain.op('Neg', [plain.input('x', 'float32', [2])]), 'y');
    await (await createSession(plain, ck.dir, 'cpu', { allowConstantFolding: true })).session.release();
  });
});

describe('folding of non-weight constants (small models)', () => {
  const ck = loadCheckpoint(LLAMA);
  it('foldNonWeights folds a graph in which no weight can be folded, and leaves a weight Cast alone', async () => {
    const h = new Graph('small_constants');
    h.output(h.add(h.input('x', 'float32', [1]), h.op('Neg', [h.constF(2)])), 'y');
    expect(foldableWeightNodes(h)).toEqual([]);
    expect(await optimisedOps(h, sessionOptions(h, ck.dir, 'cpu'))).toContain('Neg');
    expect(await optimisedOps(h, sessionOptions(h, ck.dir, 'cpu', { foldNonWeights: true }))).not.toContain('Neg');
    const g = castGraph(ck);
    expect(await optimisedOps(g, sessionOptions(g, ck.dir, 'cpu', { foldNonWeights: true }))).toContain('Cast');
  });
  it('a loaded model asks for it only where prepacking is on (small models), never for big ones', async () => {
    const { LoadedModel } = await import('../../src-main/engine/runtime/model');
    const small = LoadedModel.open(GPT2);
    expect(small.sessionSettings()).toMatchObject({ prepack: true, foldNonWeights: true });
    const asBig = LoadedModel.open(GPT2, { prepack: false });
    expect(asBig.sessionSettings()).toMatchObject({ prepack: false, foldNonWeights: false });
    await small.release();
    await asBig.release();
  });
});

/** Every graph a loaded model builds: the forward specs LoadedModel / statistics / taps use and the loss graphs. */
function engineGraphs(ck: Checkpoint): { name: string; graph: Graph }[] {
  const all = [...Array(ck.config.layers).keys()];
  const specs: ForwardSpec[] = [
    { kvCache: true, logits: 'rows' },
    { kvCache: false, logits: 'rows' },
    { kvCache: false, logits: 'last' },
    { logits: 'none', tapKeys: all, tapMlpOut: all, tapResid: all },
    { logits: 'none', keyMoments: [1, 2] },
    { logits: 'none', tapResid: [2], tapKeys: [2], tapMlpOut: [2], dtype: 'float64' },
  ];
  const out = specs.map((s) => ({ name: `forward ${JSON.stringify(s)}`, graph: buildForward(ck, { ...s, editLayers: all }).graph }));
  for (const perturbation of ['z', 'dW'] as const)
    for (const dtype of ['float32', 'float64'] as const)
      out.push({ name: `loss ${perturbation} ${dtype}`, graph: buildLossGraph(ck, { layer: 1, perturbation, dtype }) });
  return out;
}

/** Producer of each value, and whether a value is computed from initializers alone. */
function analyse(g: Graph) {
  const { nodes } = prune(g);
  const producer = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const weightOf = (v: string): string | null => {
    const init = g.initializers.get(v);
    if (init) return init.kind === 'external' ? v : null;
    const p = producer.get(v);
    // a weight seen through ops that do not compute (views), Cast included
    if (p && ['Cast', 'Reshape', 'Identity'].includes(p.op)) return weightOf(p.inputs[0]);
    return null;
  };
  return { nodes, weightOf };
}

for (const dir of [LLAMA, GPT2]) {
  const ck = loadCheckpoint(dir);
  describe(`graphs of ${path.basename(dir)}`, () => {
    const graphs = engineGraphs(ck);

    it('no weight is ever transposed, forward or backward', () => {
      for (const { name, graph } of graphs) {
        const { nodes, weightOf } = analyse(graph);
        const bad = nodes.filter((n) => n.op === 'Transpose' && weightOf(n.inputs[0]));
        expect(bad.map((n) => `${name}: Transpose(${weightOf(n.inputs[0])})`)).toEqual([]);
      }
    });

    it('only 1-D weights (norm scales, biases) could be folded; every matrix cast waits for its activation', () => {
      for (const { name, graph } of graphs) {
        const foldable = foldableWeightNodes(graph).map((l) => /\((.*)\)$/.exec(l)![1]);
        const matrices = foldable.filter((w) => (graph.initializers.get(w) as { dims: number[] }).dims.length > 1);
        expect(matrices.map((w) => `${name}: ${w}`)).toEqual([]);
      }
    });

    it('matmuls read weights in their stored layout (MatMul on [in,out], Gemm transB on [out,in])', () => {
      const { nodes, weightOf } = analyse(graphs[0].graph);
      const uses = nodes.filter((n) => (n.op === 'MatMul' || n.op === 'Gemm') && weightOf(n.inputs[1]));
      expect(uses.length).toBeGreaterThan(ck.config.layers * 4);
      for (const n of uses) {
        const w = graphs[0].graph.initializers.get(weightOf(n.inputs[1])!) as { dims: number[] };
        const transB = (n.attrs.transB as { i: number } | undefined)?.i === 1;
        const k = graphs[0].graph.shape(n.inputs[0]).at(-1);
        expect(transB ? w.dims[1] : w.dims[0]).toBe(k);
      }
    });
  });
}

describe('backward passes', () => {
  it('re-cast a bf16 weight next to the backward matmul instead of reusing the forward cast', () => {
    const ck = loadCheckpoint(LLAMA);
    const g = buildLossGraph(ck, { layer: 1, perturbation: 'z' });
    const { nodes, weightOf } = analyse(g);
    for (let l = 2; l < ck.config.layers; l++) {
      const w = `w:model.layers.${l}.mlp.down_proj.weight`;
      const casts = nodes.filter((n) => n.op === 'Cast' && weightOf(n.inputs[0]) === w);
      // the forward matmul, its recomputation (activation checkpointing), the backward dX = dY·W
      expect(casts.length, w).toBe(3);
      for (const c of casts) {
        const consumers = nodes.filter((n) => n.inputs.includes(c.outputs[0]));
        expect(consumers.map((n) => n.op), w).toEqual(['Gemm']);
      }
    }
  });

  for (const dir of [LLAMA, GPT2])
    it(`keep no d_ff-wide activation of the forward pass alive for the backward (${path.basename(dir)}: blocks are recomputed)`, () => {
      const ck = loadCheckpoint(dir);
      for (const perturbation of ['z', 'dW'] as const) {
        const g = buildLossGraph(ck, { layer: 1, perturbation });
        const { nodes } = prune(g);
        const producer = new Map<string, Node>();
        for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
        // the forward pass: every node the loss depends on
        const forward = new Set<Node>();
        const stack = [g.outputs.find((o) => o.name === 'loss')!.name];
        while (stack.length) {
          const p = producer.get(stack.pop()!);
          if (!p || forward.has(p)) continue;
          forward.add(p);
          stack.push(...p.inputs.filter((x) => x));
        }
        const wide = nodes
          .filter((n) => !forward.has(n))
          .flatMap((n) => n.inputs.filter((x) => x && forward.has(producer.get(x)!) && g.shape(x).includes(ck.config.ffn)));
        expect(wide, perturbation).toEqual([]);
      }
    });
});

// Session creation with execution-provider choice and an explicit, reported fallback to CPU, and the
// memory rules every session that holds checkpoint weights obeys (README "How memory is used"):
//   - weights are external initializers mapped from the safetensors files; onnxruntime must never
//     fold a node over them into a private copy (a Cast to f32, a Transpose, a Slice), so constant
//     folding is off for every such session and createSession refuses a graph that would be folded;
//   - common-subexpression elimination is off too: backward graphs re-cast a weight where they need
//     it (graph/autodiff.ts) so its f32 copy lives for one matmul, and CSE would merge that re-cast
//     with the forward one and keep the copy alive across the whole graph;
//   - big checkpoints run without prepacked weights (a second copy per session).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CheckpointError } from '../checkpoint/errors';
import { serializeModel, prune } from '../onnx/writer';
import { Graph, type DType } from '../graph/ir';
import { DEVICES, type DeviceName } from '../devices';
import { defaultPartBytes, PartitionedSession, planParts, staticBytes, type RunnableSession } from './partition';

/** The execution providers a session can be created on (engine/devices.ts lists them). */
export type Device = DeviceName;

// resolves onnxruntime-node's folder (named so a CommonJS build's own require is not shadowed)
const resolveFrom = createRequire(import.meta.url);

export interface DeviceReport {
  requested: Device;
  used: Device;
  /** why the requested device was not used, when it was not */
  fallbackReason?: string;
}

export function availableDevices(): { device: Device; bundled: boolean }[] {
  const backends = ort.listSupportedBackends();
  const names = new Set(backends.map((b) => b.name));
  // onnxruntime-node lists cuda whether or not its provider library was installed ('bundled: false'):
  // only a device that is bundled, or whose provider library is there, can start
  return DEVICES.filter((d) => names.has(d))
    .map((d) => ({ device: d, bundled: backends.find((b) => b.name === d)!.bundled }))
    .filter((d) => d.bundled || providerLibraryInstalled(d.device));
}

/** Whether onnxruntime-node's provider library for a non-bundled device sits beside its binding. */
export function providerLibraryInstalled(device: Device): boolean {
  try {
    const dir = path.join(path.dirname(resolveFrom.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
    return fs.existsSync(path.join(dir, process.platform === 'win32' ? `onnxruntime_providers_${device}.dll` : `libonnxruntime_providers_${device}.so`));
  } catch {
    return false;
  }
}

export const CUDA_SETUP_HINT =
  'the CUDA execution provider is not bundled with onnxruntime-node; on a connected GPU machine run ' +
  '`node node_modules/onnxruntime-node/script/install --onnxruntime-node-install=cuda12` once';

export interface SessionSettings {
  /**
   * ORT keeps a second, prepacked copy of every MatMul/Gemm weight (≈2× faster on CPU). Every
   * session holds its own, so big checkpoints turn it off.
   */
  prepack?: boolean;
  /**
   * ORT's CPU arena keeps the largest set of intermediates a session ever needed for as long as the
   * session lives (+64 MB vs +9 MB per idle session at 1.5B parameters), but without it glibc keeps
   * freed 4–32 MB layer temporaries in fragmented heaps instead (measured 5.5 GB after a GPT-2 XL
   * loss evaluation against 1.1 GB in arenas), so it stays on; releasing a session frees its arena.
   */
  arena?: boolean;
  /** test hook: leave constant folding on (createSession must then refuse a graph with weights) */
  allowConstantFolding?: boolean;
  /**
   * Keep constant folding and common-subexpression elimination for a graph in which they can touch
   * no weight (foldableWeightNodes is empty): they then fold shapes and small constants and merge
   * the work layers repeat (npm run bench: llama fixture decoding 355 → 667 tok/s, GPT-2 fixture
   * unchanged at ≈ 490). Set for small models only, where prepacking already keeps per-session
   * copies; big models keep both off, the configuration their memory figures were measured with.
   */
  foldNonWeights?: boolean;
  /**
   * WebGPU with device-resident weights: the most bytes one part of a graph may allocate before the
   * graph is cut and run as a chain of sessions (runtime/partition.ts). Default: a tenth of the
   * graph's device weight bytes within [128 MiB, 2 GiB]; 0 never cuts. Tests set it small to cut
   * the fixtures.
   */
  partBytes?: number;
}

/**
 * Optimizers disabled for every session over checkpoint weights (names as onnxruntime registers
 * them; the list is `;`-separated — a comma list is silently ignored).
 */
export const DISABLED_OPTIMIZERS = ['ConstantFolding', 'CommonSubexpressionElimination'];

/**
 * Nodes onnxruntime's constant folding would evaluate at load and store as private initializers
 * while at least one of their inputs is a checkpoint weight: every node whose inputs are all
 * constant (initializers or outputs of such nodes) with a weight among its constant ancestors.
 * Returns "op(weight)" labels.
 */
export function foldableWeightNodes(graph: Graph): string[] {
  const { nodes, used } = prune(graph);
  const constant = new Set<string>();
  const weighty = new Set<string>();
  for (const [name, init] of graph.initializers) {
    if (!used.has(name)) continue;
    constant.add(name);
    if (init.kind === 'external') weighty.add(name);
  }
  const out: string[] = [];
  for (const n of nodes) {
    const inputs = n.inputs.filter((i) => i !== '');
    if (inputs.length === 0 || !inputs.every((i) => constant.has(i))) continue;
    n.outputs.forEach((o) => constant.add(o));
    const w = inputs.find((i) => weighty.has(i));
    if (w) {
      n.outputs.forEach((o) => weighty.add(o));
      out.push(`${n.op}(${w})`);
    }
  }
  return out;
}

/** Bytes of checkpoint data a session over `graph` maps (its external initializers). */
export function mappedWeightBytes(graph: Graph): number {
  const { used } = prune(graph);
  let n = 0;
  for (const [name, init] of graph.initializers) if (init.kind === 'external' && used.has(name)) n += init.length;
  return n;
}

/** Counts of sessions created and released in this process (tests check `info` creates none). */
export const sessionCounters = { created: 0, released: 0 };

/** Releases a session and counts it. */
export async function releaseSession(s: RunnableSession): Promise<void> {
  sessionCounters.released++;
  await s.release();
}

export function sessionOptions(graph: Graph, weightsDir: string, ep: Device, settings: SessionSettings = {}): ort.InferenceSession.SessionOptions {
  const session: Record<string, string> = { model_external_initializers_file_folder_path: weightsDir };
  if (settings.prepack === false) session.disable_prepacking = '1';
  const extra: Record<string, unknown> = { session };
  const fold = settings.allowConstantFolding || (settings.foldNonWeights && foldableWeightNodes(graph).length === 0);
  if (!fold) extra.optimization = { disable_specified_optimizers: DISABLED_OPTIMIZERS.join(';') };
  return {
    executionProviders: [ep],
    // fused kernels (QuickGelu, LayerNorm…) are float32-only: float64 check graphs stay unfused
    graphOptimizationLevel: graph.fdt === 'float64' ? 'basic' : 'all',
    // WebGPU sessions compute on the device; what they allocate on the host (shape arithmetic, the
    // host copies of inputs and outputs) went into a CPU arena per session that kept its largest
    // size for the session's life — with the loss graph of the 2-layer LLaMA-3-width checkpoint in
    // 122 parts, 7.7 GiB after one step (README "How memory is used on a GPU"). So no arena there.
    enableCpuMemArena: ep === 'webgpu' ? false : (settings.arena ?? true),
    // EAC_ORT_VERBOSE=1: onnxruntime's verbose log, which lists every node's execution provider
    ...(process.env.EAC_ORT_VERBOSE ? { logSeverityLevel: 0 as const, logVerbosityLevel: 0 } : {}),
    extra,
  };
}

export async function createSession(
  graph: Graph,
  weightsDir: string,
  device: Device,
  settings: SessionSettings = {},
  /**
   * weights fed as graph inputs from their device-resident copy (runtime/device-weights.ts), by
   * initializer name; applies on `device` only — the CPU fallback maps the files as usual
   */
  weightInputs?: ReadonlyMap<string, DType>,
): Promise<{ session: RunnableSession; report: DeviceReport }> {
  if (settings.allowConstantFolding) {
    const folded = foldableWeightNodes(graph);
    if (folded.length) {
      throw new CheckpointError(
        'weight_copy',
        `graph ${graph.name}: constant folding would store private copies of checkpoint weights (${folded.slice(0, 3).join(', ')}` +
          `${folded.length > 3 ? `, … ${folded.length} nodes` : ''}); weight nodes must run at run time`,
      );
    }
  }
  const create = async (ep: Device, inputs?: ReadonlyMap<string, DType>) => {
    const s = await ort.InferenceSession.create(serializeModel(graph, { weightInputs: inputs }), sessionOptions(graph, weightsDir, ep, settings));
    sessionCounters.created++;
    return s;
  };
  if (device === 'cpu') return { session: await create('cpu'), report: { requested: device, used: 'cpu' } };
  try {
    const parts = device === 'webgpu' && weightInputs ? await createParts(graph, weightsDir, settings, weightInputs) : null;
    return { session: parts ?? (await create(device, weightInputs)), report: { requested: device, used: device } };
  } catch (e) {
    return { session: await create('cpu'), report: fallbackReport(device, e) };
  }
}

/**
 * The graph as a chain of WebGPU sessions when its allocations exceed the part budget (see
 * runtime/partition.ts for why), else null (one session).
 */
async function createParts(
  graph: Graph,
  weightsDir: string,
  settings: SessionSettings,
  weightInputs: ReadonlyMap<string, DType>,
): Promise<PartitionedSession | null> {
  let weightBytes = 0;
  for (const [name, dtype] of weightInputs) weightBytes += staticBytes(dtype, graph.shape(name));
  const budget = settings.partBytes ?? defaultPartBytes(weightBytes);
  if (budget <= 0) return null;
  const plan = planParts(graph, budget);
  if (plan.length < 2) return null;
  const session = await PartitionedSession.build(
    graph,
    plan,
    async (part, locations) => {
      const inputs = new Map([...weightInputs].filter(([n]) => part.initializers.has(n)));
      const s = await ort.InferenceSession.create(serializeModel(part, { weightInputs: inputs }), {
        ...sessionOptions(part, weightsDir, 'webgpu', settings),
        // each part would repeat onnxruntime's "some nodes were not assigned" warning (shape ops on
        // the CPU, by design); `eac info --placement` reports placement instead
        ...(process.env.EAC_ORT_VERBOSE ? {} : { logSeverityLevel: 3 as const }),
        preferredOutputLocation: locations,
      } as ort.InferenceSession.SessionOptions);
      return s;
    },
    // a bf16 weight view that crosses a cut is the f16 the device holds
    (d) => (d === 'bfloat16' ? 'float16' : d),
  );
  // one logical session (releaseSession counts its release once)
  sessionCounters.created++;
  return session;
}

function fallbackReport(device: Device, e: unknown): DeviceReport {
  const why = (e as Error).message.split('\n')[0];
  const reason = device === 'cuda' ? `${why} — ${CUDA_SETUP_HINT}` : why;
  return { requested: device, used: 'cpu', fallbackReason: reason };
}

/**
 * Whether `device` can start, without building a model session: a one-node session on that EP,
 * released at once (opening a model stays free of weight sessions; see LoadedModel).
 */
export async function probeDevice(device: Device): Promise<DeviceReport> {
  if (device === 'cpu') return { requested: 'cpu', used: 'cpu' };
  const g = new Graph('probe');
  g.output(g.op('Identity', [g.input('x', 'float32', [1])]), 'y');
  try {
    const s = await ort.InferenceSession.create(serializeModel(g), { executionProviders: [device] });
    await s.release();
    return { requested: device, used: device };
  } catch (e) {
    return fallbackReport(device, e);
  }
}

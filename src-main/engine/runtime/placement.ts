// Which execution provider each node of a session really ran on (issue 17, item 7). onnxruntime
// places nodes a provider has no kernel for — and shape arithmetic on purpose — on the CPU, silently;
// the Node binding exposes no placement API, but its profiler records the provider of every node it
// runs. So: build a profiled copy of a graph's session, run it once, read the profile, and delete it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DType, Graph } from '../graph/ir';
import { prune, serializeModel } from '../onnx/writer';
import { sessionOptions, type Device, type SessionSettings } from './session';
import { internalError } from '../errors';

export interface PlacementReport {
  /** nodes that ran, per provider (onnxruntime's names, e.g. WebGpuExecutionProvider) */
  byProvider: Record<string, number>;
  /** op types of the nodes that ran on the CPU, with counts */
  cpuOps: Record<string, number>;
  /**
   * nodes on the CPU that read a weight directly: each copies that weight from the device every run,
   * which the memory model forbids — empty when the device holds and uses every weight
   */
  cpuWeightNodes: string[];
}

/** Reads an onnxruntime profile (Chrome trace JSON) into a placement report. */
export function readPlacement(events: unknown, weightConsumers: ReadonlyMap<string, string>): PlacementReport {
  const byProvider: Record<string, number> = {};
  const cpuOps: Record<string, number> = {};
  const cpuWeightNodes: string[] = [];
  const seen = new Set<string>();
  for (const e of Array.isArray(events) ? events : []) {
    const ev = e as { cat?: string; name?: string; args?: { op_name?: string; provider?: string } };
    if (ev.cat !== 'Node' || !ev.name?.endsWith('_kernel_time') || !ev.args?.provider) continue;
    const node = ev.name.slice(0, -'_kernel_time'.length);
    if (seen.has(node)) continue;
    seen.add(node);
    const provider = ev.args.provider;
    byProvider[provider] = (byProvider[provider] ?? 0) + 1;
    if (provider === 'CPUExecutionProvider') {
      const op = ev.args.op_name ?? '?';
      cpuOps[op] = (cpuOps[op] ?? 0) + 1;
      const w = weightConsumers.get(node);
      if (w) cpuWeightNodes.push(`${op}(${w.replace(/^w:/, '')})`);
    }
  }
  return { byProvider, cpuOps, cpuWeightNodes };
}

/**
 * Runs `graph` once on `device` with profiling and reports where its nodes ran. `feeds` must be a
 * complete feed set for the graph (weights included when `weightInputs` makes them inputs).
 */
export async function profilePlacement(
  graph: Graph,
  weightsDir: string,
  device: Device,
  settings: SessionSettings,
  weightInputs: ReadonlyMap<string, DType> | undefined,
  feeds: Record<string, ort.Tensor>,
): Promise<PlacementReport> {
  // node name (serializeModel names a node after its first output) -> the weight it reads
  const { nodes } = prune(graph);
  const weights = new Set([...graph.initializers].filter(([, i]) => i.kind === 'external').map(([n]) => n));
  const consumers = new Map<string, string>();
  for (const n of nodes) {
    const w = n.inputs.find((i) => weights.has(i));
    if (w) consumers.set(n.outputs[0], w);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-placement-'));
  try {
    const opts = { ...sessionOptions(graph, weightsDir, device, settings), enableProfiling: true, profileFilePrefix: path.join(dir, 'profile') };
    const s = await ort.InferenceSession.create(serializeModel(graph, { weightInputs }), opts);
    try {
      await s.run(feeds);
      s.endProfiling();
    } finally {
      await s.release();
    }
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw internalError('onnxruntime wrote no profile');
    // on the CPU every weight is read there by design (mapped from the file): nothing to flag
    return readPlacement(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), device === 'cpu' ? new Map() : consumers);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// A graph run as a chain of sessions on a GPU (src-main/engine/runtime/partition.ts): the plan keeps
// every part under its allocation budget without cutting a weight view from its cast, and wires each
// tensor that crosses a cut; on WebGPU (Mesa lavapipe) the chain gives the single session's numbers.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src-main/engine/graph/ir';
import { planParts, staticBytes, defaultPartBytes } from '../../src-main/engine/runtime/partition';
import { sessionOptions } from '../../src-main/engine/runtime/session';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

const noGpuReason = process.env.VK_ICD_FILENAMES
  ? ''
  : 'VK_ICD_FILENAMES is unset: no Vulkan driver for the WebGPU EP (run `sudo scripts/setup-system.sh && source scripts/webgpu-env.sh`)';

/** x -> L layers of (cast of a bf16 weight viewed after x, Gemm) -> y: each cast allocates rows·cols·4 bytes. */
function castChain(layers: number, rows: number, cols: number): Graph {
  const g = new Graph('chain');
  let x = g.input('x', 'float32', ['n', cols]);
  for (let l = 0; l < layers; l++) {
    const w = g.external(`w:${l}`, { dtype: 'bfloat16', dims: [rows, cols], location: 'model.safetensors', offset: l * rows * cols * 2, length: rows * cols * 2 });
    const h = g.gemm(x, g.cast(g.after(w, x), 'float32'), false, true);
    x = g.op('Tanh', [g.slice(h, 1, 0, cols)]);
  }
  g.output(x, 'y');
  return g;
}

describe('planParts', () => {
  const rows = 64;
  const cols = 32;
  const cast = rows * cols * 4;

  it('keeps one part when the budget holds every allocation', () => {
    const plan = planParts(castChain(4, rows, cols), 1e9);
    expect(plan).toHaveLength(1);
    expect(plan[0].inputs).toEqual(['x']);
    expect(plan[0].outputs).toEqual(['y']);
  });

  it('cuts so each part allocates at most the budget (a bigger node alone), never between a weight view and its cast', () => {
    const g = castChain(6, rows, cols);
    const budget = 2 * cast + 4096;
    const plan = planParts(g, budget);
    expect(plan.length).toBeGreaterThanOrEqual(3);
    for (const p of plan) {
      const casts = p.nodes.filter((n) => n.op === 'Cast').length;
      expect(casts).toBeLessThanOrEqual(2);
      expect(p.bytes <= budget || p.nodes.filter((n) => staticBytes(g.dtype(n.outputs[0]), g.shape(n.outputs[0])) > 0).length === 1).toBe(true);
      // the Reshape that views a weight runs in the part of the Cast that reads it
      for (const n of p.nodes.filter((n) => n.op === 'Cast')) expect(p.nodes.some((m) => m.outputs.includes(n.inputs[0]))).toBe(true);
    }
    // every node once, in order
    expect(plan.flatMap((p) => p.nodes)).toEqual(plan.flatMap((p) => p.nodes).slice().sort((a, b) => g.nodes.indexOf(a) - g.nodes.indexOf(b)));
  });

  it('wires every tensor that crosses a cut: read from an earlier part or a graph input, made visible by its part', () => {
    const g = castChain(5, rows, cols);
    const plan = planParts(g, cast + 1);
    const made = new Set(['x']);
    plan.forEach((p, i) => {
      for (const x of p.inputs) expect(made.has(x), `part ${i} reads ${x}`).toBe(true);
      const own = new Set(p.nodes.flatMap((n) => n.outputs));
      const later = new Set(plan.slice(i + 1).flatMap((q) => q.inputs));
      // exactly the tensors a later part reads, plus the graph outputs it makes
      expect(new Set(p.outputs)).toEqual(new Set([...own].filter((o) => later.has(o) || o === 'y')));
      // what it frees after running: its inputs no later part reads
      expect(new Set(p.lastUse)).toEqual(new Set(p.inputs.filter((x) => !later.has(x) && x !== 'y')));
      p.outputs.forEach((o) => made.add(o));
    });
    expect(plan[plan.length - 1].outputs).toContain('y');
  });

  it('budgets a tenth of the device weight bytes, within [128 MiB, 2 GiB]', () => {
    expect(defaultPartBytes(12e6)).toBe(128 * 2 ** 20);
    expect(defaultPartBytes(2.77 * 2 ** 30)).toBe(Math.round((2.77 * 2 ** 30) / 10));
    expect(defaultPartBytes(32e9)).toBe(2 * 2 ** 30);
  });
});

describe('host memory of WebGPU sessions', () => {
  it('WebGPU sessions keep no CPU arena (it held 7.7 GiB across 122 parts); CPU sessions keep theirs', () => {
    const g = castChain(1, 4, 4);
    expect(sessionOptions(g, '.', 'webgpu', { arena: true }).enableCpuMemArena).toBe(false);
    expect(sessionOptions(g, '.', 'cpu', {}).enableCpuMemArena).toBe(true);
    expect(sessionOptions(g, '.', 'cpu', { arena: false }).enableCpuMemArena).toBe(false);
  });
});

describe.skipIf(!!noGpuReason)(`WebGPU: a graph in parts gives the single session's numbers${noGpuReason ? ` (skipped: ${noGpuReason})` : ''}`, () => {
  for (const fixture of ['gpt2-world-a', 'llama-world-a']) {
    it(`${fixture}: logits bit-equal and tokens equal to one session's and the CPU's, through several parts`, async () => {
      const dir = path.join(FIXTURES, fixture);
      const parts = LoadedModel.open(dir, { device: 'webgpu', partBytes: 256 * 1024 });
      const whole = LoadedModel.open(dir, { device: 'webgpu', partBytes: 0 });
      const cpu = LoadedModel.open(dir, { device: 'cpu' });
      try {
        const rows = [parts.encode('The capital of'), parts.encode('Nyxlax Sovhyv was born in')];
        const a = await parts.lastLogits(rows);
        expect(parts.deviceReport.used).toBe('webgpu');
        const stats = parts.sessionStats();
        expect(stats.parts).toBeGreaterThan(stats.live);
        const b = await whole.lastLogits(rows);
        expect(whole.sessionStats().parts).toBe(whole.sessionStats().live);
        for (let i = 0; i < rows.length; i++) expect(Array.from(a[i])).toEqual(Array.from(b[i]));
        const g = await parts.generate(rows, 6, { stopIds: [] });
        expect(g).toEqual(await cpu.generate(rows, 6, { stopIds: [] }));
      } finally {
        await parts.release();
        await whole.release();
        await cpu.release();
      }
    }, 300_000);
  }
});

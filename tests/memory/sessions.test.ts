// Sessions are built lazily, owned by the loaded model, released with it and evicted under the
// memory budget (README "How memory is used"). Counted on onnxruntime's own session factory.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildRegistry, EngineDispatcher } from '../../src-main/jobs/worker';
import type { WorkerToHost } from '../../src-main/jobs/protocol';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import os from 'node:os';
import { defaultMemoryBudget, MemoryManager, ModelCaches, parseMemorySize } from '../../src-main/engine/runtime/memory';
import { mappedWeightBytes, sessionCounters } from '../../src-main/engine/runtime/session';
import { buildForward } from '../../src-main/engine/models/forward';
import { FIXTURES } from '../shared';

const LLAMA = path.join(FIXTURES, 'llama-world-a');
const GPT2 = path.join(FIXTURES, 'gpt2-world-a');

/** An in-process engine (the handlers `eac info` / `eac generate` reach through the engine process). */
async function engine() {
  const replies = new Map<number, (m: WorkerToHost) => void>();
  const d = new EngineDispatcher(await buildRegistry(), (m) => {
    const id = (m as { id?: number }).id;
    if (id !== undefined && 'ok' in m) replies.get(id)?.(m);
  });
  let next = 1;
  const call = (method: string, params: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      replies.set(id, (m) => ((m as { ok: boolean }).ok ? resolve((m as { result: unknown }).result) : reject(new Error(JSON.stringify(m)))));
      d.handle({ id, method, params } as never);
    });
  return { call, close: () => call('close', {}) };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('sessions', () => {
  it('opening a model (what `eac info` runs) creates no session; generating does', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const e = await engine();
    try {
      const info = (await e.call('openModel', { dir: LLAMA, device: 'cpu' })) as { tensorCount: number };
      expect(info.tensorCount).toBeGreaterThan(0);
      expect(create).not.toHaveBeenCalled();
      await e.call('generate', { prompts: ['Nyxlax Sovhyv was born in'], maxNewTokens: 2 });
      expect(create).toHaveBeenCalled();
    } finally {
      await e.close();
    }
  });

  it('LoadedModel.open builds nothing; release() releases every session it built', async () => {
    const before = { ...sessionCounters };
    const model = LoadedModel.open(GPT2);
    expect(sessionCounters.created).toBe(before.created);
    await model.lastLogits([model.encode('Nyxlax Sovhyv was born in')]);
    await model.run([model.encode('Nyxlax Sovhyv')], { logits: 'none', tapKeys: [1] });
    const built = sessionCounters.created - before.created;
    expect(built).toBe(2);
    expect(model.sessionStats().live).toBe(2);
    await model.release();
    expect(sessionCounters.released - before.released).toBe(built);
    await expect(model.lastLogits([[1, 2]])).rejects.toThrow(/released/);
  });

  it('under a budget too small for two sessions, idle ones are evicted and rebuilt on their next run with the same results', async () => {
    const model = LoadedModel.open(LLAMA, { maxMemory: 1 });
    try {
      const ids = [model.encode('Nyxlax Sovhyv was born in')];
      const first = await model.lastLogits(ids);
      const tap1 = await model.run(ids, { logits: 'none', tapKeys: [2] });
      const again = await model.lastLogits(ids);
      const tap2 = await model.run(ids, { logits: 'none', tapKeys: [2] });
      const s = model.sessionStats();
      expect(s.known).toBe(2);
      expect(s.live).toBe(1); // the other was evicted to make room
      expect(s.evictions).toBeGreaterThanOrEqual(3);
      expect(s.builds).toBe(4);
      expect(Array.from(again[0])).toEqual(Array.from(first[0]));
      expect(Array.from(tap2.out.key_2.data as Float32Array)).toEqual(Array.from(tap1.out.key_2.data as Float32Array));
    } finally {
      await model.release();
    }
  });

  it('a session is not evicted while it runs', async () => {
    const model = LoadedModel.open(GPT2, { maxMemory: 1 });
    try {
      const ids = [model.encode('Nyxlax Sovhyv was born in')];
      const expected = await model.lastLogits(ids);
      const taps = await model.session({ logits: 'none', tapKeys: [1] });
      // start a decoding run and let it reach onnxruntime, then build another session meanwhile:
      // the budget wants the running session gone, but it is busy and must survive
      const running = model.lastLogits(ids);
      await new Promise((r) => setImmediate(r));
      await taps.ready();
      expect(Array.from((await running)[0])).toEqual(Array.from(expected[0]));
      // the decoding session was never rebuilt (the tap session may have been released after the run)
      await model.lastLogits(ids);
      expect(model.sessionStats()).toMatchObject({ known: 2, builds: 2 });
    } finally {
      await model.release();
    }
  });
});

describe('per-model caches', () => {
  it('sized entries are evicted least recently used first under the budget; all are disposed with the model', async () => {
    const sizes: Record<string, number> = { a: 40, b: 40 };
    // resident size: 100 bytes of everything else plus the sized entries still cached
    const memory: MemoryManager = new MemoryManager(150, (): number => 100 + Object.keys(sizes).filter((k) => caches.has(k)).reduce((t, k) => t + sizes[k], 0));
    const caches: ModelCaches = new ModelCaches(memory);
    const disposed: string[] = [];
    const dispose = (v: { name: string }) => void disposed.push(v.name);
    caches.set('a', { name: 'a' }, { bytes: sizes.a, dispose });
    caches.set('b', { name: 'b' }, { bytes: sizes.b, dispose });
    caches.set('pinned', { name: 'pinned' }, { dispose });
    caches.get('a'); // b is now the least recently used
    await memory.makeRoom(0); // 180 > 150: drop b, then 140 fits
    expect(disposed).toEqual(['b']);
    expect(caches.has('a')).toBe(true);
    await memory.makeRoom(100); // 140 + 100 > 150: drop a; the unsized entry is never evicted
    expect(disposed).toEqual(['b', 'a']);
    expect(caches.has('pinned')).toBe(true);
    caches.clear();
    expect(disposed).toEqual(['b', 'a', 'pinned']);
  });

  it('a loaded model frees its caches on release', async () => {
    const model = LoadedModel.open(GPT2);
    let disposed = false;
    model.caches.set('test.entry', new Float64Array(8), { dispose: () => (disposed = true) });
    await model.release();
    expect(disposed).toBe(true);
    expect(model.caches.keys()).toEqual([]);
  });

  it('the default budget is 1.2x the weights (at least 2 GiB) capped by RAM; $EAC_MAX_MEMORY overrides it', () => {
    const saved = process.env.EAC_MAX_MEMORY;
    try {
      delete process.env.EAC_MAX_MEMORY;
      const GiB = 1024 ** 3;
      expect(defaultMemoryBudget(10 * GiB)).toBe(Math.floor(Math.min(os.totalmem() * 0.85, 12 * GiB)));
      expect(defaultMemoryBudget(1000)).toBe(Math.floor(Math.min(os.totalmem() * 0.85, 2 * GiB)));
      process.env.EAC_MAX_MEMORY = '3G';
      expect(defaultMemoryBudget(10 * GiB)).toBe(3 * GiB);
    } finally {
      if (saved === undefined) delete process.env.EAC_MAX_MEMORY;
      else process.env.EAC_MAX_MEMORY = saved;
    }
  });

  it('a session is expected to hold the weight bytes its graph maps', () => {
    const model = LoadedModel.open(LLAMA);
    const all = model.allLayers();
    // decoding maps every weight; the MLP key of layer 1 needs the embedding, layer 0 and layer 1 up
    // to (not including) its down-projection
    expect(mappedWeightBytes(buildForward(model.ck, { kvCache: true, logits: 'rows', editLayers: all }).graph)).toBe(model.weightBytes);
    const layer = [...model.ck.tensors.values()].filter((t) => t.name.startsWith('model.layers.0.')).reduce((a, t) => a + t.byteLength, 0);
    const embed = model.ck.tensors.get('model.embed_tokens.weight')!.byteLength;
    const down = model.ck.tensors.get('model.layers.1.mlp.down_proj.weight')!.byteLength;
    expect(mappedWeightBytes(buildForward(model.ck, { logits: 'none', tapKeys: [1], editLayers: all }).graph)).toBe(embed + 2 * layer - down);
    void model.release();
  });

  it('reads memory sizes with binary units', () => {
    expect(parseMemorySize('20G')).toBe(20 * 1024 ** 3);
    expect(parseMemorySize('1500MiB')).toBe(1500 * 1024 ** 2);
    expect(parseMemorySize('4096')).toBe(4096);
    expect(() => parseMemorySize('lots')).toThrow(/cannot read memory size/);
  });
});

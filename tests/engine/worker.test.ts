// The engine worker through EngineClient: openModel, generate, logits, progress, error codes,
// cancellation, and a crash rejecting every pending call.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineClient, EngineError } from '../../src-main/jobs/client';
import type { ProgressEvent } from '../../src-main/jobs/protocol';
import { findFixture, fixtureMissingReason, maxAbsDiff, referenceLogitBound } from './helpers';

const TEST_HANDLERS = new URL('./handlers/test-handlers.ts', import.meta.url);
const gpt2 = findFixture('gpt2-world-a');
const llama = findFixture('llama-world-a');

async function rejection(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!gpt2 || !llama)(`engine worker${gpt2 && llama ? '' : ` (skipped: ${fixtureMissingReason('llama-world-a')})`}`, () => {
  let engine: EngineClient;
  beforeAll(() => {
    engine = new EngineClient({ handlerModules: [TEST_HANDLERS] });
  });
  afterAll(() => engine?.close());

  it('answers before any model is open, and says so for model methods', async () => {
    expect(await engine.call('testEcho', { value: [1, 'a'] })).toEqual({ value: [1, 'a'], hasModel: false });
    const e = await rejection(engine.call('generate', { prompts: ['x'], maxNewTokens: 1 }));
    expect(e.code).toBe('no_model');
    expect(engine.methods).toEqual(expect.arrayContaining(['openModel', 'generate', 'logits', 'topk', 'cancel', 'close', 'testEcho']));
  });

  it('openModel reports the model and progress; generate and logits match the reference', async () => {
    const events: ProgressEvent[] = [];
    const info = await engine.call('openModel', { dir: gpt2!.dir }, (p) => events.push(p));
    expect(info.arch).toBe('gpt2');
    expect(info.sizes).toMatchObject({ layers: 6, hidden: 192, vocabSize: 1024, maxPositions: 128 });
    expect(info.dtypes).toEqual({ F32: info.tensorCount });
    expect(info.tensors.length).toBe(info.tensorCount);
    expect(info.parameters).toBeGreaterThan(2e6);
    expect(info.files.map((f) => f.name)).toContain('model.safetensors');
    expect(info.device).toEqual({ requested: 'cpu', used: 'cpu' });
    expect(events.length).toBeGreaterThan(1);
    expect(events.every((e) => e.phase === 'load')).toBe(true);
    expect(events.at(-1)!.fraction).toBe(1);

    const cases = gpt2!.cases.slice(0, 3);
    const rows = await engine.call('generate', { prompts: cases.map((c) => c.prompt), maxNewTokens: 20, stopAtEos: false });
    rows.forEach((r, i) => {
      expect(r.newIds).toEqual(cases[i].greedy20);
      expect(r.ids).toEqual([...cases[i].ids, ...cases[i].greedy20]);
      expect(typeof r.text).toBe('string');
    });
    // default: stop at EOS (1023 is the 6th greedy token of the first case)
    const [stopped] = await engine.call('generate', { prompts: [cases[0].prompt], maxNewTokens: 20 });
    expect(stopped.newIds).toEqual(cases[0].greedy20.slice(0, cases[0].greedy20.indexOf(1023) + 1));

    const lg = await engine.call('logits', { prompt: cases[0].prompt });
    expect(lg.ids).toEqual(cases[0].ids);
    expect(maxAbsDiff(lg.lastLogits, cases[0].last_logits)).toBeLessThan(referenceLogitBound(gpt2!, cases[0]));
    const top = await engine.call('topk', { prompt: cases[0].prompt, k: 5 });
    expect(top.top.map((t) => t.id)).toEqual(cases[0].top5);
    expect(top.top[0].prob).toBeGreaterThan(top.top[1].prob);
  });

  it('errors keep their message and code', async () => {
    const missing = await rejection(engine.call('openModel', { dir: '/definitely/not/here' }));
    expect(missing.code).toBe('no_config');
    expect(missing.message).toContain('/definitely/not/here');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-bad-'));
    try {
      fs.copyFileSync(path.join(gpt2!.dir, 'config.json'), path.join(dir, 'config.json'));
      const noWeights = await rejection(engine.call('openModel', { dir }));
      expect(noWeights.code).toBe('no_weights');
      fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from([1, 2, 3]));
      const short = await rejection(engine.call('openModel', { dir }));
      expect(['header_too_short', 'file_truncated']).toContain(short.code);
      expect(short.message).toContain('model.safetensors');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // the resident model survived the failed opens
    expect((await engine.call('testEcho', { value: 1 })).hasModel).toBe(true);

    const custom = await rejection(engine.call('testFail', { code: 'my_code', message: 'custom failure' }));
    expect([custom.code, custom.message]).toEqual(['my_code', 'custom failure']);
    const bad = await rejection(engine.call('generate', { prompts: [], maxNewTokens: 1 }));
    expect(bad.code).toBe('bad_params');
    const unknown = await rejection(engine.call('noSuchMethod' as 'close', {} as never));
    expect(unknown.code).toBe('unknown_method');
  });

  it('cancels a running generation and a queued request; the engine keeps working', async () => {
    await engine.call('openModel', { dir: llama!.dir });
    const long = engine.call('generate', { prompts: ['The'], maxNewTokens: 100_000, stopAtEos: false });
    const queued = engine.call('logits', { prompt: 'queued' });
    const longErr = rejection(long);
    const queuedErr = rejection(queued);
    await new Promise((r) => setTimeout(r, 150));
    expect(await engine.cancel(queued.id)).toBe(true);
    expect(await long.cancel()).toBe(true);
    expect((await longErr).code).toBe('cancelled');
    expect((await queuedErr).code).toBe('cancelled');
    expect(await engine.cancel(long.id)).toBe(false);

    const ticks: ProgressEvent[] = [];
    const wait = engine.call('testWait', { ms: 60_000 }, (p) => ticks.push(p));
    const waitErr = rejection(wait);
    while (ticks.length < 3) await new Promise((r) => setTimeout(r, 5));
    await wait.cancel();
    expect((await waitErr).code).toBe('cancelled');
    expect(ticks.every((t) => t.id === wait.id && t.phase === 'wait')).toBe(true);

    const [row] = await engine.call('generate', { prompts: [llama!.cases[0].prompt], maxNewTokens: 20, stopAtEos: false });
    expect(row.newIds).toEqual(llama!.cases[0].greedy20);
  });
});

describe('engine worker crash', () => {
  it('rejects every pending call with a clear message', async () => {
    const engine = new EngineClient({ handlerModules: [TEST_HANDLERS] });
    try {
      // requests run in order: the crash runs first, the wait is still queued when the worker dies
      const crash = engine.call('testCrash', {});
      const waiting = engine.call('testWait', { ms: 60_000 });
      const [a, b] = await Promise.all([rejection(waiting), rejection(crash)]);
      for (const e of [a, b]) {
        expect(e.code).toBe('worker_crashed');
        expect(e.message).toMatch(/engine worker crashed: boom from testCrash/);
      }
      const after = await rejection(engine.call('testEcho', { value: 1 }));
      expect(after.code).toBe('worker_crashed');
      expect(engine.pendingCount).toBe(0);
    } finally {
      await engine.close();
    }
  });

  it('close rejects calls made afterwards', async () => {
    const engine = new EngineClient();
    await engine.close();
    const e = await rejection(engine.call('logits', { prompt: 'x' }));
    expect(e.code).toBe('closed');
  });
});

// JobManager semantics (issue 11): jobs belong to the engine, exclusive work is explicit (refused at
// once naming the running job, or queued visibly with its own cancel), a queued destructive job is
// refused when its precheck fails at its turn, pause/resume keep the job id, cancel works in every
// state with a way out, and a restart finds in-flight jobs interrupted (paused ones still paused).
// Runs on a real job table (migration 003) in a temporary ledger; the jobs are plain promises.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, StudioEventBody } from '../../src-main/api/contract';
import { JobStore } from '../../src-main/jobs/job-store';
import { JobManager, type JobHandle } from '../../src-main/jobs/manager';
import { TransientErrorLog } from '../../src-main/jobs/transient-errors';
import { EngineError } from '../../src-main/jobs/protocol';
import { openLedger, type Ledger } from '../../src-main/store';
import { tmpDir } from './helpers';

/** A job body the test finishes by hand. */
/** Starts an export job that throws, and waits for it to fail. */
async function failedExport(jm: JobManager) {
  const a = jm.start({
    kind: 'export',
    title: 'Export',
    params: {},
    run: async () => {
      throw new EngineError('export_failed', 'cannot create /proc/nope: ENOENT');
    },
  });
  await expect(a.done).rejects.toThrow(/proc\/nope/);
  return a;
}

function gate<T>() {
  let open!: (v: T) => void;
  let fail!: (e: unknown) => void;
  const p = new Promise<T>((res, rej) => {
    open = res;
    fail = rej;
  });
  let handle: JobHandle | null = null;
  const run = (h: JobHandle) => {
    handle = h;
    h.signal.addEventListener('abort', () => fail(h.signal.reason));
    return p;
  };
  return { run, open, fail, handle: () => handle! };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('JobManager', () => {
  let dir: string;
  let ledger: Ledger;
  let store: JobStore;
  let events: StudioEventBody[];
  let jm: JobManager;
  let cancelledPaused: JobRecord[];

  beforeEach(() => {
    dir = tmpDir('eac-jobs-manager-');
    ledger = openLedger(path.join(dir, 'ledger.sqlite'));
    const m = ledger.importModel({ path: '/models/x', arch: 'gpt2', config: {}, fileHashes: { 'model.safetensors': 'ab' } });
    store = new JobStore(ledger.db, m.id);
    events = [];
    cancelledPaused = [];
    jm = new JobManager({ broadcast: (e) => events.push(e), broadcastEveryMs: 0, persistEveryMs: 0, onCancelPaused: (r) => cancelledPaused.push(r) });
    jm.bind(store);
  });
  afterEach(() => {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const jobEvents = (id: number) => events.filter((e): e is Extract<StudioEventBody, { type: 'job' }> => e.type === 'job' && e.job.id === id).map((e) => e.job);

  it('refuses a second job at once with a message naming the running one (code busy), and creates no job for it', async () => {
    const g = gate<string>();
    const a = jm.start({ kind: 'queue', title: 'Run queue #1 "facts"', params: {}, run: g.run });
    let err: unknown;
    try {
      jm.start({ kind: 'revert', title: 'Revert to #1', params: {}, run: async () => 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('busy');
    expect((err as Error).message).toContain(`job #${a.job.id} "Run queue #1 "facts"" is running`);
    expect(jm.list().map((j) => j.title)).toEqual(['Run queue #1 "facts"']);
    g.open('ok');
    await expect(a.done).resolves.toBe('ok');
    expect(store.get(a.job.id)!.state).toBe('done');
    expect(store.get(a.job.id)!.result).toBe('ok');
  });

  it('queues a job when asked (visible as queued, own cancel); it runs after the running one, a cancelled one never runs', async () => {
    const g = gate<number>();
    const a = jm.start({ kind: 'queue', title: 'A', params: {}, run: g.run });
    let ranB = false;
    let ranC = false;
    const b = jm.start({ kind: 'health', title: 'B', params: {}, whenBusy: 'queue', run: async () => ((ranB = true), 2) });
    const c = jm.start({ kind: 'export', title: 'C', params: {}, whenBusy: 'queue', run: async () => ((ranC = true), 3) });
    expect(b.job.state).toBe('queued');
    expect(store.get(c.job.id)!.state).toBe('queued');
    expect(jm.list().map((j) => [j.title, j.state])).toEqual([
      ['A', 'running'],
      ['B', 'queued'],
      ['C', 'queued'],
    ]);
    expect(jm.cancel(c.job.id)).toBe(true);
    await expect(c.done).rejects.toMatchObject({ code: 'cancelled' });
    expect(ranB).toBe(false);
    g.open(1);
    await a.done;
    await expect(b.done).resolves.toBe(2);
    expect(ranB).toBe(true);
    expect(ranC).toBe(false);
    expect(store.get(c.job.id)!.state).toBe('cancelled');
    expect(jobEvents(b.job.id).map((j) => j.state)).toEqual(['queued', 'running', 'done']);
  });

  it('a queued destructive job whose precheck fails when its turn comes (the head moved) fails with that error and does not run', async () => {
    let head = 4;
    const g = gate<void>();
    const a = jm.start({ kind: 'queue', title: 'A', params: {}, run: g.run });
    let ran = false;
    const asked = head;
    const rv = jm.start({
      kind: 'revert',
      title: 'Revert to #1',
      params: {},
      headSeq: asked,
      whenBusy: 'queue',
      precheck: () => {
        if (head !== asked) throw new EngineError('conflict', `the ledger moved (head was #${asked}, now #${head})`);
      },
      run: async () => void (ran = true),
    });
    head = 6; // the running queue recorded two edits
    g.open();
    await a.done;
    await expect(rv.done).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('head was #4, now #6') });
    expect(ran).toBe(false);
    const rec = store.get(rv.job.id)!;
    expect(rec.state).toBe('failed');
    expect(rec.headSeq).toBe(4);
    expect(rec.error?.code).toBe('conflict');
    expect(store.lines(rv.job.id).some((l) => l.level === 'error' && /head was #4/.test(l.message))).toBe(true);
  });

  it('cancel aborts a running job through its signal; it ends cancelled and the next job may start', async () => {
    const g = gate<void>();
    const a = jm.start({ kind: 'health', title: 'A', params: {}, run: g.run });
    await tick();
    expect(jm.cancel(a.job.id)).toBe(true);
    await expect(a.done).rejects.toMatchObject({ code: 'cancelled' });
    expect(store.get(a.job.id)!.state).toBe('cancelled');
    expect(jm.runningJob()).toBeNull();
    const b = jm.start({ kind: 'health', title: 'B', params: {}, run: async () => 1 });
    await expect(b.done).resolves.toBe(1);
  });

  it('pause: pausing at once (visible to every client), paused gives the model back, resume continues the same job id', async () => {
    const g = gate<{ state: 'paused' | 'done' }>();
    let pauseAsked = false;
    const a = jm.start({
      kind: 'queue',
      title: 'Q',
      params: {},
      run: g.run,
      pause: () => (pauseAsked = true),
      outcome: (r) => ({ state: r.state }),
    });
    expect(jm.pause(a.job.id)).toBe(true);
    expect(pauseAsked).toBe(true);
    expect(jm.get(a.job.id)!.state).toBe('pausing');
    expect(events.some((e) => e.type === 'job' && e.job.id === a.job.id && e.job.state === 'pausing')).toBe(true);
    g.open({ state: 'paused' });
    await a.done;
    expect(store.get(a.job.id)!.state).toBe('paused');
    // the model is free while the queue is paused
    const other = jm.start({ kind: 'health', title: 'H', params: {}, run: async () => 7 });
    await expect(other.done).resolves.toBe(7);
    const r = jm.resume(a.job.id, { kind: 'queue', title: 'Q', params: {}, run: async () => ({ state: 'done' as const }), outcome: (x) => ({ state: x.state }) });
    expect(r.job.id).toBe(a.job.id);
    await r.done;
    expect(store.get(a.job.id)!.state).toBe('done');
    expect(jobEvents(a.job.id).map((j) => j.state)).toEqual(['running', 'pausing', 'paused', 'running', 'done']);
  });

  it('progress is broadcast and kept on the record, so a window that connects later sees the running job with its progress', async () => {
    const g = gate<void>();
    const a = jm.start({ kind: 'queue', title: 'Q', params: {}, run: g.run });
    g.handle().progress({ phase: 'optimise', fraction: 0.5, done: 2, total: 5, etaMs: 3000 });
    const seen = jm.list().find((j) => j.id === a.job.id)!;
    expect(seen.state).toBe('running');
    expect(seen.progress).toMatchObject({ phase: 'optimise', fraction: 0.5, done: 2, total: 5, etaMs: 3000 });
    expect(typeof seen.progress.at).toBe('number');
    expect(store.get(a.job.id)!.progress).toMatchObject({ phase: 'optimise', done: 2 });
    g.open();
    await a.done;
  });

  it('after a restart, in-flight jobs are interrupted (with a log line) and a paused job is still paused; both can be closed', async () => {
    const g = gate<{ state: 'paused' }>();
    const p = jm.start({ kind: 'queue', title: 'P', params: {}, run: g.run, outcome: () => ({ state: 'paused', pauseReason: [{ rule: 'maxL1GrowthPct', value: 9, threshold: 5, message: 'L1 growth 9% above 5%' }] }) });
    g.open({ state: 'paused' });
    await p.done;
    const r = jm.start({ kind: 'health', title: 'R', params: {}, run: () => new Promise(() => {}) });
    const q = jm.start({ kind: 'export', title: 'X', params: {}, whenBusy: 'queue', run: async () => 1 });
    // the process dies here: a new manager on the same database
    const store2 = new JobStore(ledger.db, store.modelId);
    const found = store2.markInterrupted();
    expect(found.map((j) => [j.id, j.state]).sort()).toEqual(
      [
        [r.job.id, 'interrupted'],
        [q.job.id, 'interrupted'],
      ].sort(),
    );
    expect(store2.lines(r.job.id).pop()!.message).toMatch(/interrupted: the app stopped while this job was running; Retry/);
    const paused = store2.get(p.job.id)!;
    expect(paused.state).toBe('paused');
    expect(paused.pauseReason?.[0].rule).toBe('maxL1GrowthPct');
    const jm2 = new JobManager({ broadcast: () => {}, onCancelPaused: (x) => cancelledPaused.push(x) });
    jm2.bind(store2);
    expect(jm2.cancel(r.job.id)).toBe(true);
    expect(store2.get(r.job.id)!.state).toBe('cancelled');
    expect(jm2.cancel(p.job.id)).toBe(true);
    expect(cancelledPaused.map((x) => x.id)).toEqual([p.job.id]);
    expect(store2.get(p.job.id)!.state).toBe('cancelled');
  });

  it('a job that throws ends failed with the error on its record and in its log', async () => {
    const a = await failedExport(jm);
    const rec = store.get(a.job.id)!;
    expect(rec.state).toBe('failed');
    expect(rec.error).toEqual({ message: 'cannot create /proc/nope: ENOENT', code: 'export_failed' });
    expect(jm.log(a.job.id).map((l) => l.level)).toContain('error');
  });

  it('the error history is read from the job table: failures and error log lines survive a new manager on the same ledger', async () => {
    const a = await failedExport(jm);
    const b = jm.start({
      kind: 'queue',
      title: 'Run queue #1',
      params: {},
      run: async (h) => {
        h.log('error', 'item 3: subject not found in prompt');
        h.log('info', 'edit #1 recorded');
        return 'ok';
      },
    });
    await b.done;
    // what a reloaded window, a second window or the restarted app sees: a new manager, same table
    const ledger2 = openLedger(path.join(dir, 'ledger.sqlite'));
    try {
      const jm2 = new JobManager({ broadcast: () => {} });
      jm2.bind(new JobStore(ledger2.db, store.modelId));
      const errs = jm2.errors();
      expect(errs).toHaveLength(2);
      const failure = errs.find((e) => e.jobId === a.job.id)!;
      expect(failure).toMatchObject({ failure: true, message: 'cannot create /proc/nope: ENOENT', code: 'export_failed', title: 'Export', kind: 'export' });
      const line = errs.find((e) => e.jobId === b.job.id)!;
      expect(line).toMatchObject({ failure: false, message: 'item 3: subject not found in prompt', title: 'Run queue #1' });
      expect(line.code).toBeUndefined();
      // info lines are not errors; newest first
      expect(errs.map((e) => e.jobId)).toEqual([b.job.id, a.job.id].sort((x, y) => y - x));
    } finally {
      ledger2.close();
    }
  });

  it('progress counts belong to their report and give the job its phase ETA (issue 19 item 11)', async () => {
    const g = gate<string>();
    const a = jm.start({ kind: 'statistics', title: 'Key statistics', params: {}, run: g.run });
    await tick();
    const h = g.handle();
    h.progress({ phase: 'hash', fraction: 0, count: { done: 0, total: 100, unit: 'bytes' } });
    expect(jm.get(a.job.id)!.progress).toMatchObject({ phase: 'hash', count: { done: 0, total: 100, unit: 'bytes' }, etaMs: null });
    h.progress({ phase: 'hash', fraction: 0.5, count: { done: 50, total: 100, unit: 'bytes' } });
    const eta = jm.get(a.job.id)!.progress.etaMs;
    expect(typeof eta === 'number' && eta >= 0).toBe(true);
    // the next phase reports no count: neither the old count nor the old ETA stays
    h.progress({ phase: 'load', fraction: 1 });
    const p = jm.get(a.job.id)!.progress;
    expect(p.count).toBeUndefined();
    expect(p.etaMs).toBeNull();
    g.open('ok');
    await a.done;
  });

  it('a failed model open (a job with no workspace) is still in the error history after a restart', async () => {
    const log = new TransientErrorLog(path.join(dir, 'data'));
    const first = new JobManager({ broadcast: () => {}, transientErrors: log });
    const open = first.start({
      kind: 'open',
      title: 'Open broken-model on cpu',
      params: {},
      transient: true,
      run: async () => {
        throw new EngineError('bad_model', '/m/broken-model/config.json is not valid JSON');
      },
    });
    await expect(open.done).rejects.toThrow(/not valid JSON/);
    expect(first.errors().filter((e) => e.kind === 'open')).toHaveLength(1);
    // the restarted engine: a new manager, no workspace bound yet
    const again = new JobManager({ broadcast: () => {}, transientErrors: new TransientErrorLog(path.join(dir, 'data')) });
    expect(again.errors()).toEqual([
      expect.objectContaining({ kind: 'open', title: 'Open broken-model on cpu', message: '/m/broken-model/config.json is not valid JSON', code: 'bad_model', failure: true }),
    ]);
    // a running open is named by its title in a refusal, not by its in-memory id
    const g = gate<string>();
    const running = again.start({ kind: 'open', title: 'Open big-model on cpu', params: {}, transient: true, run: g.run });
    await tick();
    expect(running.job.id).toBeGreaterThanOrEqual(1_000_000_000);
    expect(() => again.requireIdle('revert')).toThrow(/^cannot revert: job "Open big-model on cpu" is running/);
    g.open('ok');
    await running.done;
    // a damaged file is an empty history, not a failure
    fs.writeFileSync(log.file, '{ not json');
    expect(new JobManager({ broadcast: () => {}, transientErrors: log }).errors()).toEqual([]);
  });

  it('a failed job whose error line was lost still appears in the error history', () => {
    const rec = store.insert({ kind: 'revert', title: 'Revert to #2', params: {}, state: 'failed', headSeq: 2, queueId: null, retryOf: null, createdAt: '2026-01-01T00:00:00.000Z', exclusive: true });
    store.update(rec.id, { error: { message: 'the ledger moved', code: 'conflict' }, endedAt: '2026-01-01T00:00:01.000Z' });
    expect(jm.errors()).toEqual([
      { jobId: rec.id, kind: 'revert', title: 'Revert to #2', at: '2026-01-01T00:00:01.000Z', line: null, message: 'the ledger moved', failure: true, code: 'conflict' },
    ]);
  });
});

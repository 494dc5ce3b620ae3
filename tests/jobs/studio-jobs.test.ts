// Jobs through the real engine worker (issue 11): conflicting actions are refused at once naming the
// running job or queued visibly and then refused when the ledger moved; a guardrail pause survives a
// restart of the engine and can be resumed from there; revert -> re-apply records new edits; health
// retention only against a baseline of the same example count; a relative export path is refused.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobRecord, StudioEventBody } from '../../src-main/api/contract';
import { fastProfile, GPT2, tmpDir, worldEdits, useStudioEngine } from './helpers';

describe('studio jobs in the worker', () => {
  const dir = tmpDir('eac-studio-jobs-');
  const db = path.join(dir, 'ledger.sqlite');
  const studio = useStudioEngine(dir);

  it('while a queue runs: revert is refused at once naming the queue job; a queued revert waits visibly and is refused when the head moved', async () => {
    await studio.engine.call('workspace.open', { modelDir: GPT2, dbFile: db });
    const { queue } = await studio.engine.call('queue.create', { name: 'busy', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(2, 30) });
    let started: (j: JobRecord) => void;
    const running = new Promise<JobRecord>((r) => (started = r));
    const off = studio.engine.onBroadcast((b) => {
      const e = b as StudioEventBody;
      if (e.type === 'job' && e.job.kind === 'queue' && e.job.state === 'running' && e.job.progress.phase === 'optimise') started(e.job);
    });
    const run = studio.engine.call('queue.run', { queueId: queue.id });
    // awaited below; handled now so an assertion that fails first cannot leave it unobserved when afterAll closes the engine
    run.catch(() => {});
    const job = await running;
    off();
    await expect(studio.engine.call('ledger.revert', { seq: 0 })).rejects.toMatchObject({
      code: 'busy',
      message: expect.stringContaining(`job #${job.id} "Run queue #${queue.id} "busy" (rome)" is running`),
    });
    await expect(studio.engine.call('playground.compare', { prompt: 'x', k: 1, maxNewTokens: 1 })).rejects.toMatchObject({ code: 'busy' });
    // refused at once: the queue is still running, so the same request can still be queued behind it
    const queued = studio.engine.call('ledger.revert', { seq: 0, whenBusy: 'queue' });
    // The refusal can arrive before `run` settles (queue.run's reply takes more ticks in the engine than the
    // queued job's), so the expectation is attached now and awaited below: no window for an unhandled rejection.
    const queuedRefused = expect(queued).rejects.toMatchObject({ code: 'conflict', message: expect.stringContaining('head was #0, now #2') });
    const list = (await studio.engine.call('jobs.list', {})).jobs;
    const rv = list.find((j) => j.kind === 'revert')!;
    expect(rv.state).toBe('queued');
    expect(rv.headSeq).toBe(0);
    // reads stay live while the queue runs
    expect((await studio.engine.call('ledger.history', {})).edits.length).toBeGreaterThanOrEqual(0);
    const res = await run;
    expect(res.editIds).toHaveLength(2);
    await queuedRefused;
    expect((await studio.engine.call('ledger.history', {})).edits.filter((e) => e.active)).toHaveLength(2);
  });

  it('a queued revert can be cancelled from the job list before its turn', async () => {
    const { queue } = await studio.engine.call('queue.create', { name: 'two', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(1, 32) });
    const run = studio.engine.call('queue.run', { queueId: queue.id });
    run.catch(() => {}); // awaited below (see the first test)
    const queued = studio.engine.call('ledger.revert', { seq: 0, whenBusy: 'queue' });
    // the engine answers the cancelled revert before it answers jobs.cancel: the expectation must be attached first
    const queuedCancelled = expect(queued).rejects.toMatchObject({ code: 'cancelled', message: expect.stringContaining('cancelled before it started') });
    const rv = (await studio.engine.call('jobs.list', {})).jobs.filter((j) => j.kind === 'revert').pop()!;
    expect(rv.state).toBe('queued');
    expect((await studio.engine.call('jobs.cancel', { jobId: rv.id })).cancelled).toBe(true);
    await queuedCancelled;
    await run;
    expect((await studio.engine.call('ledger.history', {})).edits.filter((e) => e.active)).toHaveLength(3);
  });

  it('revert (how many go in the title) -> re-apply records new edits that replay the reverted ones', async () => {
    const hist = await studio.engine.call('ledger.history', {});
    const live = hist.edits.filter((e) => e.active);
    const r = await studio.engine.call('ledger.revert', { seq: live[0].seq, expectHeadSeq: live[live.length - 1].seq });
    expect(r.deactivated).toEqual(live.slice(1).map((e) => e.id));
    const rvJob = (await studio.engine.call('jobs.list', {})).jobs.filter((j) => j.kind === 'revert').pop()!;
    expect(rvJob.title).toBe(`Revert to #${live[0].seq} (2 edits go)`);
    // a confirmation against an old head is refused
    await expect(studio.engine.call('ledger.reapply', { editIds: r.deactivated, expectHeadSeq: 99 })).rejects.toMatchObject({ code: 'conflict' });
    const ra = await studio.engine.call('ledger.reapply', { editIds: r.deactivated });
    expect(ra.reapplied.map((x) => x.from)).toEqual(r.deactivated);
    expect(ra.liveEdits).toBe(3);
    const h2 = await studio.engine.call('ledger.history', {});
    for (const x of ra.reapplied) expect(h2.edits.find((e) => e.id === x.editId)).toMatchObject({ active: true, replayOf: x.from });
    // in the audit log: a replay event per re-applied edit
    expect(h2.events.filter((e) => e.kind === 'replay').map((e) => e.payload.replayOf)).toEqual(expect.arrayContaining(r.deactivated));
    await expect(studio.engine.call('ledger.reapply', { editIds: [ra.reapplied[0].editId] })).rejects.toMatchObject({ message: expect.stringMatching(/is live/) });
  });

  it('health: retention only against a baseline with the same example count; a relative export path is refused', async () => {
    const a = await studio.engine.call('health.run', { taskIds: ['world-a-sentiment'], n: 3 });
    const b = await studio.engine.call('health.run', { taskIds: ['world-a-sentiment'], n: 4 });
    const runs = (await studio.engine.call('charts.health', { taskId: 'world-a-sentiment' })).runs;
    const baselines = runs.filter((r) => r.editsApplied === 0);
    // one baseline per example count, measured on the base model
    expect(baselines.map((r) => r.n).sort()).toEqual([3, 4]);
    expect(a.scores[0].baselineScore).toBe(baselines.find((r) => r.n === 3)!.score);
    expect(b.scores[0].baselineScore).toBe(baselines.find((r) => r.n === 4)!.score);
    expect(b.scores[0].seed).toBe(0);
    await expect(studio.engine.call('ledger.export', { outDir: 'relative/out' })).rejects.toMatchObject({ code: 'bad_params', message: expect.stringMatching(/relative; give an absolute path/) });
  });

  it('a guardrail pause survives an engine restart: the paused job is listed and resumes (override) from the new engine', async () => {
    const { queue } = await studio.engine.call('queue.create', { name: 'guard', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(2, 34) });
    const res = await studio.engine.call('queue.run', { queueId: queue.id, guardrails: { maxL1GrowthPct: 0 } });
    expect(res.state).toBe('paused');
    await studio.restart();
    await studio.engine.call('workspace.open', { modelDir: GPT2, dbFile: db });
    const paused = (await studio.engine.call('jobs.list', {})).jobs.filter((j) => j.state === 'paused');
    expect(paused).toHaveLength(1);
    expect(paused[0]).toMatchObject({ id: res.jobId, kind: 'queue', queueId: queue.id });
    expect(paused[0].pauseReason?.[0].rule).toBe('maxL1GrowthPct');
    expect((await studio.engine.call('queue.status', {})).state).toBe('paused');
    // another queue is refused with a way out named
    await expect(studio.engine.call('queue.run', { queueId: queue.id })).rejects.toMatchObject({ code: 'busy', message: expect.stringMatching(/is paused: resume or cancel it/) });
    const r2 = await studio.engine.call('queue.resume', { jobId: res.jobId, override: true });
    expect(r2.state).toBe('done');
    expect(r2.editIds).toHaveLength(1);
    const info = await studio.engine.call('workspace.info', {});
    expect(info?.guardrailPaused).toBe(false);
  });
});

// The job list's model (src-renderer/src/lib/jobs.ts): every state has a way out, the ETA counts
// down between progress events, confirmations count the edits that go, 0 % reliability is flagged,
// and the drift chart's x axis counts edits over all layers.
import { describe, expect, it } from 'vitest';
import type { EditSummary, History, JobRecord, NormSeries } from '../../src-main/api/contract';
import { normsChart } from '../../src-renderer/src/lib/charts';
import { jobRef } from '../../src-main/api/jobs';
import { activeJob, busyDialogEnded, busyText, didNotTake, etaLeft, factList, jobActions, jobNumber, openJobs, removeTakesOut, revertTakesOut, upsertJob } from '../../src-renderer/src/lib/jobs';

function job(over: Partial<JobRecord>): JobRecord {
  return {
    id: 1,
    kind: 'queue',
    title: 't',
    params: {},
    state: 'running',
    progress: {},
    headSeq: 0,
    queueId: 1,
    retryOf: null,
    createdAt: '2026-01-01T00:00:00Z',
    startedAt: null,
    endedAt: null,
    result: null,
    error: null,
    exclusive: true,
    ...over,
  };
}

function edit(id: number, seq: number, active: boolean, reliability = 1, deactivatedBy: number | null = null): EditSummary {
  return {
    id,
    modelId: 1,
    seq,
    method: 'rome',
    layers: [2],
    requests: [{ caseId: `c${id}`, prompt: '{} x', subject: 's', targetNew: 't', rephrase: [], locality: [] }],
    metrics: [{ caseId: `c${id}`, reliability, generalization: null, locality: null } as EditSummary['metrics'][number]],
    preMetrics: [],
    timings: {},
    createdAt: '',
    queueItemId: null,
    replayOf: null,
    approximate: false,
    active,
    deactivatedBy,
  };
}

describe('confirmation texts', () => {
  it('name the facts of the edits, not their case ids', () => {
    const e = edit(7, 3, true);
    e.requests = [{ caseId: 'case-7', prompt: 'The capital of {} is', subject: 'Ruritania', targetNew: 'Strelsau', rephrase: [], locality: [] }];
    expect(factList([e])).toBe('#3 (The capital of Ruritania is → Strelsau)');
    expect(factList([e])).not.toContain('case-7');
    const many = Array.from({ length: 8 }, (_, i) => edit(i + 1, i + 1, true));
    expect(factList(many)).toMatch(/^#1 \(s x → t\), .*#6 \(s x → t\) and 2 more$/);
  });
});

describe('job list', () => {
  it('offers a way out of every state that waits for the user', () => {
    expect(jobActions(job({ state: 'running' }))).toMatchObject({ pause: true, cancel: true, resume: false, retry: false });
    expect(jobActions(job({ state: 'paused' }))).toMatchObject({ resume: true, override: false, cancel: true });
    const trip = { rule: 'maxL1GrowthPct' as const, value: 9, threshold: 5, message: 'm' };
    expect(jobActions(job({ state: 'paused', pauseReason: [trip] }))).toMatchObject({ resume: true, override: true, cancel: true });
    expect(jobActions(job({ state: 'interrupted' }))).toMatchObject({ retry: true, cancel: true });
    expect(jobActions(job({ state: 'queued', kind: 'revert' }))).toMatchObject({ cancel: true, pause: false });
    expect(jobActions(job({ state: 'failed', kind: 'export' }))).toMatchObject({ retry: true, cancel: false });
    expect(jobActions(job({ state: 'paused' })).blocked).toBeNull();
  });

  it('with the engine unreachable the controls are blocked, saying why (a dead server is not just a red dot)', () => {
    const a = jobActions(job({ state: 'paused' }), false);
    expect(a).toMatchObject({ resume: true, cancel: true });
    expect(a.blocked).toMatch(/engine is unreachable/);
    // a health check cannot pause; only queue runs can
    expect(jobActions(job({ state: 'running', kind: 'health' })).pause).toBe(false);
  });

  it('a job event replaces the job with its id; the active job is the running or pausing one; open jobs include paused and interrupted', () => {
    let list = [job({ id: 1, state: 'done' }), job({ id: 2, state: 'queued' })];
    list = upsertJob(list, job({ id: 3, state: 'running' }));
    list = upsertJob(list, job({ id: 2, state: 'running' }));
    expect(list.map((j) => [j.id, j.state])).toEqual([
      [1, 'done'],
      [2, 'running'],
      [3, 'running'],
    ]);
    expect(activeJob([job({ id: 5, state: 'paused' }), job({ id: 6, state: 'pausing' })])?.id).toBe(6);
    expect(openJobs([job({ id: 1, state: 'done' }), job({ id: 2, state: 'paused' }), job({ id: 3, state: 'interrupted' }), job({ id: 4, state: 'cancelled' })]).map((j) => j.id)).toEqual([2, 3]);
  });

  it('the ETA counts down from when it was written and never goes below zero', () => {
    const j = job({ progress: { etaMs: 10_000, at: 1_000 } });
    expect(etaLeft(j, 1_000)).toBe(10_000);
    expect(etaLeft(j, 4_000)).toBe(7_000);
    expect(etaLeft(j, 60_000)).toBe(0);
    expect(etaLeft(job({ progress: { etaMs: null } }), 0)).toBeNull();
  });
});

describe('ledger confirmations and flags', () => {
  const h: History = { edits: [edit(1, 1, true), edit(2, 2, true), edit(3, 3, true), edit(4, 4, false, 1, 9)], events: [] };
  it('counts the live edits a revert or a removal takes out', () => {
    expect(revertTakesOut(h, 1).map((e) => e.id)).toEqual([2, 3]);
    expect(revertTakesOut(h, 0).map((e) => e.id)).toEqual([1, 2, 3]);
    expect(removeTakesOut(h, 2, 'drop').out.map((e) => e.id)).toEqual([2]);
    const r = removeTakesOut(h, 1, 'replay');
    expect(r.out.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(r.replayed.map((e) => e.id)).toEqual([2, 3]);
  });

  it('an edit with 0 % reliability did not take (never shown as a plain success)', () => {
    expect(didNotTake(edit(1, 1, true, 0))).toBe(true);
    expect(didNotTake(edit(1, 1, true, 0.49))).toBe(true);
    expect(didNotTake(edit(1, 1, true, 0.5))).toBe(false);
    expect(didNotTake(edit(1, 1, true, NaN))).toBe(true);
  });

  it('the drift chart x axis is the number of live edits, not a per-layer count', () => {
    const pt = (seq: number, active = true) => ({ editId: seq, seq, active, l1: 0, l1Base: 0, l1GrowthPct: seq, fro: 0, maxAbs: 0, relChange: 0, deltaFro: 0, deltaL1: 0, factorNormU: 0, factorNormV: 0 });
    // layer 2 edited by edits 1, 3; layer 3 by edits 2, 3 (MEMIT over both); edit 4 reverted
    const series: NormSeries[] = [
      { layer: 2, tensor: 'a', points: [pt(1), pt(3), pt(4, false)] },
      { layer: 3, tensor: 'b', points: [pt(2), pt(3)] },
    ];
    const cfg = normsChart(series);
    const xs = cfg.data.datasets.map((d) => (d.data as { x: number }[]).map((p) => p.x));
    expect(xs).toEqual([
      [0, 1, 3],
      [0, 2, 3],
    ]);
  });
});

describe('the model is busy', () => {
  it('says which job holds the model before anything else is asked, and offers to queue', () => {
    const t = busyText({ id: 12, title: 'Run queue #3 "facts"' }, 'Revert to #1');
    expect(t).toMatch(/^Job #12 "Run queue #3 "facts"" is running and holds the model, so "Revert to #1" cannot start now\./);
    expect(t).toMatch(/Queue it behind job #12\?/);
  });

  it('a busy question closes once the job it is about has ended', () => {
    expect(busyDialogEnded(12, { id: 12, state: 'running' })).toBe(false);
    expect(busyDialogEnded(12, { id: 12, state: 'pausing' })).toBe(false);
    for (const state of ['done', 'failed', 'cancelled', 'paused', 'interrupted'] as const) expect(busyDialogEnded(12, { id: 12, state })).toBe(true);
    expect(busyDialogEnded(12, { id: 13, state: 'done' })).toBe(false);
    expect(busyDialogEnded(undefined, { id: 12, state: 'done' })).toBe(false);
  });
});

describe('job names', () => {
  it('a job that ran with no workspace (a model open) is named by its title, not "#1000000000"', () => {
    expect(jobNumber({ id: 12 })).toBe('#12');
    expect(jobNumber({ id: 1_000_000_000 })).toBe('');
    expect(jobRef({ id: 1_000_000_003, title: 'Open demo-model on cpu' })).toBe('"Open demo-model on cpu"');
    expect(busyText({ id: 1_000_000_000, title: 'Open demo-model on cpu' }, 'Run queue')).toMatch(/^Job "Open demo-model on cpu" is running .*Queue it behind it\?/s);
    expect(busyText({ id: 1_000_000_000, title: 'Open x' }, 'Run queue')).not.toContain('1000000000');
  });
});

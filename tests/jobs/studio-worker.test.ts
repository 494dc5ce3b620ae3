// The studio API through the engine worker (EngineClient + the studio handler module).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobRecord, StudioEventBody } from '../../src-main/api/contract';
import { validateParams } from '../../src-main/api/validate';
import '../../src-main/jobs/studio';
import { FIX, fastProfile, GPT2, tmpDir, worldEdits, useStudioEngine } from './helpers';

describe('studio handlers in the worker', () => {
  const dir = tmpDir('eac-studio-');
  const studio = useStudioEngine(dir);

  it('opens a workspace (default db under EAC_DATA_DIR), imports facts, runs a queue with health and events, reverts, compares, exports', async () => {
    const phases = new Set<string>();
    const info = await studio.engine.call('workspace.open', { modelDir: GPT2 }, (e) => phases.add(e.phase));
    expect(info.dbFile.startsWith(path.join(dir, 'data'))).toBe(true);
    expect(info.model.arch).toBe('gpt2');
    expect(info.fileHashes['model.safetensors']).toMatch(/^[0-9a-f]{64}$/);
    expect(phases.has('hash')).toBe(true);

    const text = fs.readFileSync(path.join(FIX, 'world-a', 'edits.json'), 'utf8');
    const imp = await studio.engine.call('queue.import', { fileName: 'edits.json', text });
    expect(imp.requests.length).toBeGreaterThan(100);
    const { queue, items } = await studio.engine.call('queue.create', {
      name: 'q1',
      method: 'rome',
      profile: fastProfile('gpt2-world-a'),
      requests: worldEdits(3),
      invalid: [{ row: 9, message: 'Row 9: bad' }],
    });
    expect(items.map((i) => i.status)).toEqual(['pending', 'pending', 'pending', 'invalid']);

    const events: StudioEventBody[] = [];
    const off = studio.engine.onBroadcast((b) => events.push(b as StudioEventBody));
    const run = studio.engine.call('queue.run', { queueId: queue.id, healthEvery: 2, healthN: 4, healthTaskIds: ['world-a-sentiment'] });
    // immediate methods answer while the run holds the engine
    const st = await studio.engine.call('queue.status', {});
    expect(['running', 'idle', 'done']).toContain(st.state);
    const res = await run;
    off();
    expect(res.state).toBe('done');
    expect(res.editIds).toHaveLength(3);
    // baseline before the first edit + after 2 edits
    expect(res.healthRuns.length).toBe(2);
    expect(res.healthRuns[0].editsApplied).toBe(0);
    expect(res.healthRuns[1].retentionPct).not.toBeNull();
    // every client gets the studio events as broadcasts (no tagged strings inside progress messages)
    const kinds = new Set(events.map((e) => e.type));
    for (const k of ['job', 'job.log', 'queue.item', 'edit.recorded', 'health.result', 'queue.state']) expect(kinds.has(k as StudioEventBody['type'])).toBe(true);
    const jobs = events.filter((e): e is Extract<StudioEventBody, { type: 'job' }> => e.type === 'job').map((e) => e.job);
    expect(jobs.every((j) => j.id === res.jobId)).toBe(true);
    expect(jobs.some((j) => typeof j.progress.etaMs === 'number')).toBe(true);
    expect(jobs.some((j) => j.progress.phase === 'optimise')).toBe(true);
    expect(jobs.pop()!.state).toBe('done');
    const listed = (await studio.engine.call('jobs.list', {})).jobs.find((j) => j.id === res.jobId)!;
    expect(listed).toMatchObject({ kind: 'queue', state: 'done', queueId: queue.id });
    const log = await studio.engine.call('jobs.log', { jobId: res.jobId! });
    expect(log.lines.filter((l) => /^edit #\d+ recorded/.test(l.message))).toHaveLength(3);

    const hist = await studio.engine.call('ledger.history', {});
    expect(hist.edits.map((e) => e.active)).toEqual([true, true, true]);
    const detail = await studio.engine.call('ledger.edit', { editId: res.editIds[0] });
    expect(detail.norms.length).toBeGreaterThan(0);
    const norms = await studio.engine.call('charts.norms', {});
    expect(norms.series[0].points).toHaveLength(3);

    const cmp1 = await studio.engine.call('playground.compare', { prompt: worldEdits(1)[0].prompt.replace('{}', worldEdits(1)[0].subject), k: 3, maxNewTokens: 3 });
    expect(cmp1.edited.continuation.trim().startsWith(worldEdits(1)[0].targetNew)).toBe(true);
    expect(cmp1.base.continuation).not.toBe(cmp1.edited.continuation);

    const rv = await studio.engine.call('ledger.revert', { seq: 1 });
    expect(rv.liveEdits).toBe(1);
    const rm = await studio.engine.call('ledger.remove', { editId: res.editIds[0], mode: 'drop' });
    expect(rm.liveEdits).toBe(0);
    const cmp2 = await studio.engine.call('playground.compare', { prompt: 'Touthbes Sundslyvshux plays the sport of', k: 3, maxNewTokens: 3 });
    expect(cmp2.edited.continuation).toBe(cmp2.base.continuation);

    const h = await studio.engine.call('health.run', { taskIds: ['world-a-sentiment'], n: 4 });
    expect(h.runs[0].editsApplied).toBe(0);
    const ch = await studio.engine.call('charts.health', {});
    expect(ch.runs.length).toBe(3);

    const exp = await studio.engine.call('ledger.export', { outDir: path.join(dir, 'out') });
    expect(exp.editIds).toEqual([]);
    // names only by default; the API passes absolutePaths through when asked
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'edits.json'), 'utf8')).base.path).toBe('gpt2-world-a');
    await studio.engine.call('ledger.export', { outDir: path.join(dir, 'out-abs'), absolutePaths: true });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out-abs', 'edits.json'), 'utf8')).base.path).toBe(GPT2);
    await expect(studio.engine.call('ledger.edit', { editId: 999 })).rejects.toMatchObject({ code: 'not_found' });
    await expect(studio.engine.call('ledger.revert', { seq: -1 } as never)).rejects.toMatchObject({ code: 'bad_params' });
  });

  it('pauses on a guardrail with a recorded reason; resume with override is recorded', async () => {
    const { queue } = await studio.engine.call('queue.create', { name: 'q2', method: 'rome', profile: fastProfile('gpt2-world-a'), requests: worldEdits(2, 10) });
    const res = await studio.engine.call('queue.run', { queueId: queue.id, guardrails: { maxL1GrowthPct: 0 } });
    expect(res.state).toBe('paused');
    expect(res.guardrail?.[0].rule).toBe('maxL1GrowthPct');
    expect(res.guardrail?.[0].message).toMatch(/L1 growth of h\.2\.mlp\.c_proj\.weight is .*% above the 0% guardrail|above the 0% guardrail/);
    await expect(studio.engine.call('queue.run', { queueId: queue.id })).rejects.toMatchObject({ code: 'busy' });
    const info = await studio.engine.call('workspace.info', {});
    expect(info?.guardrailPaused).toBe(true);
    const r2 = await studio.engine.call('queue.resume', { override: true });
    expect(r2.state).toBe('done');
    const hist = await studio.engine.call('ledger.history', {});
    const kinds = hist.events.map((e) => e.kind);
    expect(kinds).toContain('guardrail_pause');
    expect(kinds).toContain('override');
    expect(kinds).toContain('resume');
    const pause = hist.events.find((e) => e.kind === 'guardrail_pause')!;
    expect(String(pause.payload.reason)).toMatch(/L1 growth/);
  });

  it('cancel mid-edit puts the item back to pending and records nothing; pause stops after the current edit', async () => {
    const { queue } = await studio.engine.call('queue.create', { name: 'q3', method: 'rome', profile: fastProfile('gpt2-world-a', 200), requests: worldEdits(3, 20) });
    const before = (await studio.engine.call('ledger.history', {})).edits.length;
    const off = studio.engine.onBroadcast((b) => {
      const e = b as StudioEventBody;
      if (e.type === 'job' && e.job.progress.phase === 'optimise' && e.job.state === 'running') void studio.engine.call('jobs.cancel', { jobId: e.job.id });
    });
    const res = await studio.engine.call('queue.run', { queueId: queue.id });
    off();
    expect(res.state).toBe('cancelled');
    expect((await studio.engine.call('ledger.history', {})).edits.length).toBe(before);
    const { items } = await studio.engine.call('queue.items', { queueId: queue.id });
    expect(items.every((i) => i.status === 'pending')).toBe(true);

    let asked = false;
    const seen: JobRecord[] = [];
    const off2 = studio.engine.onBroadcast((b) => {
      const e = b as StudioEventBody;
      if (e.type !== 'job') return;
      seen.push(e.job);
      if (!asked && e.job.progress.phase === 'optimise') {
        asked = true;
        void studio.engine.call('queue.pause', {});
      }
    });
    const r2 = await studio.engine.call('queue.run', { queueId: queue.id });
    expect(r2.state).toBe('paused');
    expect(r2.editIds).toHaveLength(1);
    // pause feedback is immediate (pausing), then paused; the counters go on after resume
    expect(seen.map((j) => j.state)).toContain('pausing');
    const r3 = await studio.engine.call('queue.resume', {});
    off2();
    expect(r3.state).toBe('done');
    expect(r3.editIds).toHaveLength(2);
    expect(r3.jobId).toBe(r2.jobId);
    const last = seen.filter((j) => j.id === r2.jobId).pop()!;
    expect(last.state).toBe('done');
    expect(last.progress.done).toBe(3);
  });

  it('refuses to open a model whose weight file changed since import, naming the file', async () => {
    const copy = path.join(dir, 'gpt2-copy');
    fs.cpSync(GPT2, copy, { recursive: true });
    const db = path.join(dir, 'copy.sqlite');
    await studio.engine.call('workspace.open', { modelDir: copy, dbFile: db });
    const f = path.join(copy, 'model.safetensors');
    const buf = fs.readFileSync(f);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(f, buf);
    await expect(studio.engine.call('workspace.open', { modelDir: copy, dbFile: db })).rejects.toMatchObject({
      code: 'hash_mismatch',
      message: expect.stringContaining(f),
    });
  });
});

describe('validateParams', () => {
  it('accepts good params and names the bad field', () => {
    expect(validateParams('ledger.revert', { seq: 2 })).toEqual({ seq: 2 });
    expect(validateParams('queue.pause', undefined)).toEqual({});
    expect(() => validateParams('ledger.revert', { seq: '2' })).toThrow('ledger.revert: "seq" must be an integer, got "2"');
    expect(() => validateParams('ledger.remove', { editId: 1, mode: 'all' })).toThrow(/"mode" must be one of drop, replay/);
    expect(() => validateParams('queue.run', { queueId: 1, guardrails: { minRetentionPct: -1 } })).toThrow(/minRetentionPct" must be between 0/);
    expect(() => validateParams('workspace.open', { modelDir: 'x', extra: 1 })).toThrow(/unknown parameter "extra"/);
    expect(() => validateParams('nope' as never, {})).toThrow(/unknown method/);
    expect(() =>
      validateParams('queue.create', { name: 'q', method: 'rome', profile: 'p', requests: [{ caseId: '1', prompt: 'no slot', subject: 's', targetNew: 't', rephrase: [], locality: [] }] }),
    ).toThrow(/requests\[0\]\.prompt has no "\{\}" slot for the subject/);
    expect(() => validateParams('playground.compare', { prompt: 'x', k: 0, maxNewTokens: 1 })).toThrow(/"k" must be between 1/);
  });
});

// Issue 19 item 10: the settings of a queue run (guardrails, health schedule, batch size, ...) are
// stored with the queue in the ledger. After a guardrail pause and a restart (the workspace opened
// again, a new runner with no memory of the run), a plain Resume goes on with the stored guardrails:
// the next edit trips them again instead of the rest of the queue running unchecked.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QueueRunner, storedRunSettings } from '../../src-main/jobs/studio/runner';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { queueSummaries } from '../../src-main/jobs/studio/workspace-handlers';
import { fastProfile, GPT2, tmpDir, worldEdits } from './helpers';

describe('queue run settings live in the ledger', () => {
  const dir = tmpDir('eac-run-settings-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const open = () =>
    Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'ledger.sqlite'), workspaceDir: path.join(dir, 'ws'), cacheDir: path.join(dir, 'cache') });

  it('a guardrail-paused queue resumes after a restart with its stored guardrails (the next edit pauses it again)', async () => {
    const ws = await open();
    const q = ws.ledger.queues.createQueue(ws.modelId, 'guarded', 'rome', fastProfile('gpt2-world-a', 6), worldEdits(3, 60));
    const settings = { batchSize: 1, guardrails: { maxL1GrowthPct: 0 }, notTakenBelow: 0.25 };
    const first = await new QueueRunner(ws).run(q.id, settings);
    expect(first.state).toBe('paused');
    expect(first.editIds).toHaveLength(1);
    expect(first.guardrail?.[0].rule).toBe('maxL1GrowthPct');
    await ws.close();

    // "restart": a new workspace and a runner that never saw the run's options
    const ws2 = await open();
    try {
      expect(ws2.ledger.queues.getQueue(q.id)!.runSettings).toEqual(settings);
      const summary = queueSummaries(ws2).find((s) => s.queue.id === q.id)!;
      expect(summary.settings).toEqual(settings);
      const logs: string[] = [];
      const second = await new QueueRunner(ws2).resume(false, undefined, { log: (_l, m) => logs.push(m) }, q.id);
      // the stored L1 guardrail still applies: one more edit, then paused again (not 'done' with 2 edits)
      expect(second.state).toBe('paused');
      expect(second.editIds).toHaveLength(1);
      expect(second.guardrail?.[0]).toMatchObject({ rule: 'maxL1GrowthPct', threshold: 0 });
      expect(logs).toContain('resumed after the guardrail pause');
      expect(ws2.ledger.queues.queueItems(q.id).filter((i) => i.status === 'pending')).toHaveLength(1);
    } finally {
      await ws2.close();
    }
  }, 300_000);

  it('stored settings are validated when read back: a hand-edited value is refused with what to do', async () => {
    const ws = await open();
    try {
      const q = ws.ledger.queues.createQueue(ws.modelId, 'tampered', 'rome', fastProfile('gpt2-world-a', 6), worldEdits(1, 70));
      expect(storedRunSettings(ws, q.id)).toBeNull();
      ws.ledger.queues.setQueueRunSettings(q.id, { guardrails: { maxL1GrowthPct: -5 } });
      expect(() => storedRunSettings(ws, q.id)).toThrow(/run settings stored with queue \d+ .* are not valid .*maxL1GrowthPct.*resume with the settings given again/);
      const summary = queueSummaries(ws).find((s) => s.queue.id === q.id)!;
      expect(summary.settings).toBeNull();
      expect(summary.settingsProblem).toMatch(/maxL1GrowthPct/);
      await expect(new QueueRunner(ws).resume(false, undefined, {}, q.id)).rejects.toThrow(/not valid/);
    } finally {
      await ws.close();
    }
  }, 120_000);
});

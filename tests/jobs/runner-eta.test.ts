// Issue 19 item 11, the app's side: queue progress carries the phase's numbers, and while key
// statistics run (the longest phase of a first edit) the job has an ETA from the statistics' own
// rate; it used to be null until an edit had been timed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobProgress } from '../../src-main/api/contract';
import { QueueRunner } from '../../src-main/jobs/studio/runner';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { fastProfile, GPT2, tmpDir, worldEdits } from './helpers';

describe('queue progress numbers and ETA', () => {
  const dir = tmpDir('eac-runner-eta-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('statistics report samples with an ETA of their own; v* steps report steps', async () => {
    const ws = await Workspace.open({ modelDir: GPT2, dbFile: path.join(dir, 'l.sqlite'), workspaceDir: path.join(dir, 'ws'), cacheDir: path.join(dir, 'cache') });
    try {
      const q = ws.ledger.queues.createQueue(ws.modelId, 'eta', 'rome', fastProfile('gpt2-world-a', 6, 48), worldEdits(1, 95));
      const seen: JobProgress[] = [];
      const r = await new QueueRunner(ws).run(q.id, {}, { progress: (p) => seen.push(p) });
      expect(r.state).toBe('done');
      const stats = seen.filter((p) => p.phase === 'statistics' && p.count);
      expect(stats.every((p) => p.count!.unit === 'samples' && p.count!.total === 48)).toBe(true);
      const midway = stats.filter((p) => p.count!.done > 0 && p.count!.done < p.count!.total);
      expect(midway.length).toBeGreaterThan(0);
      for (const p of midway) expect(typeof p.etaMs === 'number' && p.etaMs >= 0).toBe(true);
      expect(seen.filter((p) => p.phase === 'optimise').every((p) => p.count?.unit === 'steps' && p.count.total === 6)).toBe(true);
    } finally {
      await ws.close();
    }
  }, 120_000);
});

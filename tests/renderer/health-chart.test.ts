// The health chart (src-renderer/src/lib/charts.ts) and what feeds it (chartRuns in
// src-main/jobs/studio/health-core.ts): runs with different example counts or seeds are separate
// lines, and retention is only ever computed against the baseline of the same (task, n, seed).
import { describe, expect, it } from 'vitest';
import type { HealthRun } from '../../src-main/store';
import { chartRuns } from '../../src-main/jobs/studio/health-core';
import { healthChart, healthLines, lowRetention, retentionText } from '../../src-renderer/src/lib/charts';

let nextId = 1;
function run(taskId: string, n: number, score: number, editsApplied: number, details: Record<string, unknown> = {}): HealthRun {
  return {
    id: nextId++,
    modelId: 1,
    afterEditSeq: editsApplied,
    editsApplied,
    taskId,
    metric: 'accuracy',
    score,
    n,
    // what the run was stored with (may be a retention against a baseline at another n)
    baselineScore: null,
    retentionPct: 266.7,
    details: { seed: 0, ...details },
    createdAt: '',
  };
}

describe('health chart series', () => {
  it('draws runs with different n (or seed) as separate lines and names n in the legend', () => {
    nextId = 1;
    const runs = chartRuns([
      run('rte', 10, 0.3, 0, { baseline: true }),
      run('rte', 30, 0.8, 0, { baseline: true }),
      run('rte', 10, 0.3, 2),
      run('rte', 30, 0.7, 2),
      run('rte', 10, 0.2, 4, { seed: 7 }),
    ]);
    const lines = healthLines({ runs, events: [] });
    expect(lines.map((l) => l.key).sort()).toEqual(['rte|10|0', 'rte|10|7', 'rte|30|0']);
    const cfg = healthChart({ runs, events: [] });
    const labels = cfg.data.datasets.map((d) => d.label);
    expect(labels).toContain('rte (n 10, seed 0)');
    expect(labels).toContain('rte (n 30, seed 0)');
    // the n 10 line holds only n 10 scores
    const n10 = cfg.data.datasets.find((d) => d.label === 'rte (n 10, seed 0)')!;
    expect(n10.data).toEqual([
      { x: 0, y: 0.3 },
      { x: 2, y: 0.3 },
    ]);
  });

  it('computes retention only against the baseline with the same task, n and seed', () => {
    nextId = 1;
    const runs = chartRuns([run('rte', 10, 0.3, 0, { baseline: true }), run('rte', 30, 0.8, 3), run('rte', 10, 0.15, 3)]);
    const byN = (n: number) => runs.filter((r) => r.n === n && r.editsApplied === 3)[0];
    // n 30 has no baseline: the stored 266.7 % (against n 10) must not survive
    expect(byN(30).retentionPct).toBeNull();
    expect(byN(30).baselineScore).toBeNull();
    expect(retentionText(byN(30))).toBe('no baseline at n 30, seed 0');
    expect(byN(10).baselineScore).toBe(0.3);
    expect(byN(10).retentionPct).toBeCloseTo(50, 5);
    const line30 = healthLines({ runs, events: [] }).find((l) => l.n === 30)!;
    expect(line30.baseline).toBeNull();
  });

  it('uses the baseline in effect when the run was recorded, and marks a 0 baseline not measurable', () => {
    nextId = 1;
    const runs = chartRuns([
      run('nq', 10, 0, 0, { baseline: true }),
      run('nq', 10, 0, 2),
      run('sst2', 10, 0.5, 0, { baseline: true }),
      run('sst2', 10, 0.25, 2),
      run('sst2', 10, 1.0, 0, { baseline: true }),
    ]);
    const nq = runs.find((r) => r.taskId === 'nq' && r.editsApplied === 2)!;
    expect(nq.notMeasurable).toBe(true);
    expect(nq.retentionPct).toBeNull();
    expect(retentionText(nq)).toBe('not measurable on this model');
    const sst = runs.find((r) => r.taskId === 'sst2' && r.editsApplied === 2)!;
    expect(sst.retentionPct).toBeCloseTo(50, 5);
    expect(healthLines({ runs, events: [] }).find((l) => l.taskId === 'sst2')!.baseline!.score).toBe(1.0);
  });
});

describe('low retention mark', () => {
  it('marks a retention under 90% and never one without a baseline', () => {
    expect(lowRetention(89.9)).toBe(true);
    expect(lowRetention(90)).toBe(false);
    expect(lowRetention(120)).toBe(false);
    expect(lowRetention(null)).toBe(false);
  });
});

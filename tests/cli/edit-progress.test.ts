// `eac edit` progress (issue 19 item 11): with --json, progress JSON lines on stderr carry numbers
// (done/total/unit, fraction, the phase's ETA) for the first-time hash, key statistics, v* steps and
// the metrics passes, and session builds are announced; stdout keeps only the edit and summary lines.
// In text mode (stderr not a terminal) the same phases are printed as lines while the edit runs.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fastProfile, GPT2, runEac, tmpDir, worldEdits } from '../jobs/helpers';

describe('eac edit progress', () => {
  const dir = tmpDir('eac-edit-progress-');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const setup = (name: string) => {
    const facts = path.join(dir, `${name}.json`);
    fs.writeFileSync(facts, JSON.stringify(worldEdits(1, 90).map((r) => ({ case_id: r.caseId, prompt: r.prompt, subject: r.subject, target_new: r.targetNew }))));
    const profile = path.join(dir, `${name}-profile.json`);
    fs.writeFileSync(profile, JSON.stringify(fastProfile('gpt2-world-a', 10, 48)));
    return ['edit', '--model', GPT2, '--facts', facts, '--method', 'rome', '--profile', profile, '--cache-dir', path.join(dir, `${name}-cache`), '--db', path.join(dir, `${name}.sqlite`)];
  };

  it('--json: progress JSON lines on stderr with the numbers of each phase', async () => {
    const r = await runEac([...setup('json'), '--json']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').map((l) => JSON.parse(l).type)).toEqual(['edit', 'summary']);
    const lines = r.err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.type === 'progress' && typeof l.phase === 'string')).toBe(true);
    const units = new Map<string, string>();
    for (const l of lines) {
      if (l.unit === undefined) continue;
      units.set(l.phase, l.unit);
      expect(Number.isFinite(l.done) && Number.isFinite(l.total) && l.done <= l.total).toBe(true);
      expect(l.fraction).toBeCloseTo(l.total ? l.done / l.total : 1, 12);
      expect(l.eta_ms === null || (Number.isInteger(l.eta_ms) && l.eta_ms >= 0)).toBe(true);
    }
    expect(Object.fromEntries(units)).toMatchObject({ hash: 'bytes', statistics: 'samples', optimise: 'steps', metrics: 'passes' });
    const stats = lines.filter((l) => l.phase === 'statistics');
    expect(stats[0]).toMatchObject({ done: 0, total: 48 });
    expect(stats.at(-1)).toMatchObject({ done: 48, total: 48, eta_ms: 0 });
    expect(lines.filter((l) => l.phase === 'optimise').at(-1)).toMatchObject({ unit: 'steps', total: 10 });
    expect(lines.some((l) => l.phase === 'session' && /building the (forward|loss) session/.test(l.message))).toBe(true);
  }, 300_000);

  it('text mode: phase progress lines while the edit runs (statistics, v* steps, hash, sessions)', async () => {
    const r = await runEac(setup('text'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^hash [\d.]+\/[\d.]+ (KiB|MiB|GiB)$/m);
    expect(r.err).toMatch(/^statistics 0\/48 samples \(0 %\)$/m);
    expect(r.err).toMatch(/^statistics 48\/48 samples$/m);
    expect(r.err).toMatch(/^optimise \d+\/10 steps \(\d+ %\)( · ETA \d+ s)?$/m);
    expect(r.err).toMatch(/^session: building the (forward|loss) session$/m);
    expect(r.err).not.toMatch(/undefined|NaN/);
    expect(r.out).toMatch(/^edit 0 \[/m);
  }, 300_000);
});

// The CLI's progress output (src-main/cli/progress.ts) and the per-phase ETA (engine/progress.ts),
// issue 19 item 11: numbers in, a bar / lines / JSON lines out; the ETA of a phase comes from that
// phase's own rate and starts over with each phase. Clocks are passed in: no waiting, no timing.
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../src-main/cli/command';
import { bar, fmtCount, fmtDuration, ProgressPrinter, textLine } from '../../src-main/cli/progress';
import { PhaseEta } from '../../src-main/engine/progress';
import { typicalEditMs } from '../../src-main/jobs/studio/runner';

function io(tty = false): CliIO & { errText: () => string } {
  let err = '';
  return { out: () => {}, err: (s) => void (err += s), cwd: '/', env: {}, errIsTTY: tty, errText: () => err };
}

describe('PhaseEta', () => {
  it('measures each phase on its own rate and has no ETA before a unit is done', () => {
    const e = new PhaseEta();
    // statistics: 10 samples per second
    expect(e.update('statistics', { done: 0, total: 400, unit: 'samples' }, 0)).toBeNull();
    expect(e.update('statistics', { done: 100, total: 400, unit: 'samples' }, 10_000)).toBe(30_000);
    // a new phase starts a new measurement: nothing from the statistics rate carries over
    expect(e.update('optimise', { done: 1, total: 20, unit: 'steps' }, 10_000)).toBeNull();
    expect(e.update('optimise', { done: 3, total: 20, unit: 'steps' }, 70_000)).toBe(17 * 30_000);
    expect(e.update('optimise', { done: 20, total: 20, unit: 'steps' }, 600_000)).toBe(0);
    // the next edit's optimise phase (count went back): measured again
    expect(e.update('optimise', { done: 1, total: 20, unit: 'steps' }, 700_000)).toBeNull();
  });

  it('the typical edit leaves out the first (warm-up) edit once there are others', () => {
    expect(typicalEditMs([])).toBeNull();
    expect(typicalEditMs([400_000])).toBe(400_000);
    // a first MEMIT edit of 6 min 45 s does not make the next ones "6 min" each
    expect(typicalEditMs([405_000, 15_000, 17_000])).toBe(16_000);
  });
});

describe('progress printer', () => {
  it('formats counts, durations and bars', () => {
    expect(fmtCount({ done: 120, total: 400, unit: 'samples' })).toBe('120/400 samples');
    expect(fmtCount({ done: 1.5 * 2 ** 30, total: 6.4 * 2 ** 30, unit: 'bytes' })).toBe('1.5/6.4 GiB');
    expect(fmtCount({ done: 10, total: 500, unit: 'bytes' })).toBe('10/500 bytes');
    expect(fmtDuration(405_000)).toBe('6 min 45 s');
    expect(fmtDuration(15_400)).toBe('15 s');
    expect(fmtDuration(3_900_000)).toBe('1 h 05 min');
    expect(bar(0.5, 10)).toBe('[#####-----]');
    expect(textLine({ phase: 'optimise', count: { done: 3, total: 20, unit: 'steps' } }, 60_000)).toBe('optimise 3/20 steps (15 %) · ETA 1 min 00 s');
    expect(textLine({ phase: 'session', count: { done: 0, total: 1, unit: 'sessions' }, message: 'building the forward session' }, null)).toBe('session: building the forward session');
  });

  it('lines mode: a line per phase start, per tenth and at the end; a phase complete at once (cache hit) prints nothing', () => {
    const o = io();
    let t = 0;
    const p = new ProgressPrinter(o, 'lines', () => t);
    p.update({ phase: 'statistics', count: { done: 200, total: 200, unit: 'samples' } });
    for (let d = 0; d <= 20; d++) {
      t = d * 1000;
      p.update({ phase: 'optimise', count: { done: d, total: 20, unit: 'steps' } });
    }
    p.update({ phase: 'keys', message: 'computing keys' });
    const lines = o.errText().trimEnd().split('\n');
    expect(lines[0]).toBe('optimise 0/20 steps (0 %)');
    expect(lines).toContain('optimise 2/20 steps (10 %) · ETA 18 s');
    expect(lines.at(-2)).toBe('optimise 20/20 steps');
    expect(lines.at(-1)).toBe('keys: computing keys');
    // the start (0 %), 10 % … 90 %, the end, the next phase
    expect(lines).toHaveLength(1 + 9 + 1 + 1);
    expect(o.errText()).not.toMatch(/statistics/);
  });

  it('tty mode: one bar redrawn in place, a newline at the end of each phase', () => {
    const o = io(true);
    let t = 0;
    const p = new ProgressPrinter(o, 'tty', () => t);
    p.update({ phase: 'statistics', count: { done: 0, total: 4, unit: 'samples' } });
    t = 1000;
    p.update({ phase: 'statistics', count: { done: 2, total: 4, unit: 'samples' } });
    t = 1050; // within 100 ms: not redrawn
    p.update({ phase: 'statistics', count: { done: 3, total: 4, unit: 'samples' } });
    t = 2000;
    p.update({ phase: 'statistics', count: { done: 4, total: 4, unit: 'samples' } });
    const text = o.errText();
    expect(text).toContain('\rstatistics [############------------] 2/4 samples · ETA 1 s\x1b[K');
    expect(text).not.toContain('3/4');
    expect(text.endsWith('\rstatistics [########################] 4/4 samples\x1b[K\n')).toBe(true);
  });

  it('json mode: one object per change with the numbers, the fraction and the phase ETA', () => {
    const o = io();
    let t = 0;
    const p = new ProgressPrinter(o, 'json', () => t);
    p.update({ phase: 'generate', count: { done: 0, total: 4, unit: 'tokens' }, message: '1 prompt, 4 new tokens' });
    for (let d = 1; d <= 4; d++) {
      t = d * 500;
      p.update({ phase: 'generate', count: { done: d, total: 4, unit: 'tokens' } });
    }
    const lines = o.errText().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ type: 'progress', phase: 'generate', done: 0, total: 4, unit: 'tokens', fraction: 0, eta_ms: null, message: '1 prompt, 4 new tokens' });
    expect(lines[1]).toEqual({ type: 'progress', phase: 'generate', done: 1, total: 4, unit: 'tokens', fraction: 0.25, eta_ms: 1500 });
    expect(lines.at(-1)).toMatchObject({ done: 4, total: 4, fraction: 1, eta_ms: 0 });
    expect(lines).toHaveLength(5);
  });
});

// The queue run form against the settings stored with the queue (src-renderer/src/lib/run-settings.ts,
// issue 19 item 10): a reloaded window shows the stored guardrails, and a Resume with the form
// unchanged sends no settings (the engine uses the stored ones) while a changed form sends its own.
import { describe, expect, it } from 'vitest';
import type { QueueRunSettings } from '../../src-main/api/contract';
import { DEFAULT_FORM, describeSettings, formFromSettings, resumeRun, settingsFromForm } from '../../src-renderer/src/lib/run-settings';

const stored: QueueRunSettings = { batchSize: 2, healthEvery: 3, guardrails: { maxL1GrowthPct: 0.5, minRecentReliability: 0.4 }, healthN: 8, notTakenBelow: 0.3 };

describe('run settings form', () => {
  it('fills the form from the stored settings (not "Health every 0" and an empty L1 limit)', () => {
    expect(formFromSettings(stored)).toEqual({ batchSize: 2, healthEvery: 3, minRetention: null, maxL1Growth: 0.5, pauseOnNotTaken: false });
    expect(formFromSettings(null)).toEqual(DEFAULT_FORM);
  });

  it('an unchanged form resumes with the stored settings; a changed one sends its settings, keeping what the form does not show', () => {
    const f = formFromSettings(stored);
    expect(resumeRun(f, stored)).toBeUndefined();
    // number inputs hand back strings / '' after editing
    expect(resumeRun({ ...f, maxL1Growth: '0.5' as unknown as number }, stored)).toBeUndefined();
    const changed = resumeRun({ ...f, maxL1Growth: 2, minRetention: '' as unknown as number }, stored);
    expect(changed).toEqual({ batchSize: 2, healthEvery: 3, guardrails: { maxL1GrowthPct: 2, minRecentReliability: 0.4 }, healthN: 8, notTakenBelow: 0.3 });
    // nothing stored yet: the defaults are what runs
    expect(resumeRun(DEFAULT_FORM, null)).toBeUndefined();
    expect(resumeRun({ ...DEFAULT_FORM, healthEvery: 2 }, null)).toEqual({ batchSize: 1, healthEvery: 2 });
  });

  it('builds run settings from the form: empty fields are no guardrail, batch at least 1', () => {
    expect(settingsFromForm({ batchSize: 0, healthEvery: 0, minRetention: null, maxL1Growth: null, pauseOnNotTaken: false })).toEqual({ batchSize: 1 });
    expect(settingsFromForm({ batchSize: 4, healthEvery: 1, minRetention: 90, maxL1Growth: 0, pauseOnNotTaken: true })).toEqual({
      batchSize: 4,
      healthEvery: 1,
      guardrails: { minRetentionPct: 90, maxL1GrowthPct: 0, pauseOnNotTaken: true },
    });
  });

  it('describes the stored settings in one line', () => {
    expect(describeSettings(stored)).toBe('batch 2 · health every 3 edits · L1 growth ≤ 0.5 % · recent reliability ≥ 0.4');
    expect(describeSettings({ batchSize: 1 })).toBe('batch 1 · no periodic health check · no guardrails');
    expect(describeSettings(null)).toBe('no run yet');
  });
});

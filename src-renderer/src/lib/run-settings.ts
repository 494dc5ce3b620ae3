// The queue's run form and the settings stored with the queue in the ledger (issue 19 item 10): the
// form is filled from what the ledger holds for the selected queue (so a reload shows the guardrails a
// paused queue runs with, not "Health every 0"), and Resume sends settings only when the user changed
// the form; otherwise the engine goes on with the stored ones. Pure (unit-tested in tests/renderer).
import type { Guardrails, QueueRunSettings } from '../../../src-main/api/contract';

/** What the run form shows. Empty number fields are null. */
export interface RunForm {
  batchSize: number;
  healthEvery: number;
  minRetention: number | null;
  maxL1Growth: number | null;
  pauseOnNotTaken: boolean;
}

export const DEFAULT_FORM: RunForm = { batchSize: 1, healthEvery: 0, minRetention: null, maxL1Growth: null, pauseOnNotTaken: false };

/** The form for stored settings (the defaults where nothing is stored). */
export function formFromSettings(s: QueueRunSettings | null | undefined): RunForm {
  if (!s) return { ...DEFAULT_FORM };
  return {
    batchSize: s.batchSize ?? 1,
    healthEvery: s.healthEvery ?? 0,
    minRetention: s.guardrails?.minRetentionPct ?? null,
    maxL1Growth: s.guardrails?.maxL1GrowthPct ?? null,
    pauseOnNotTaken: s.guardrails?.pauseOnNotTaken ?? false,
  };
}

/** A number input's value (bound inputs give '' or undefined when emptied), null when empty. */
function num(v: unknown): number | null {
  if (v === null || v === undefined || `${v}`.trim() === '') return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/**
 * The settings the form asks for. What the form does not show (health tasks and examples, the "did
 * not take" threshold, the recent-reliability guardrail) is kept from `base`, the stored settings.
 */
export function settingsFromForm(f: RunForm, base: QueueRunSettings | null = null): QueueRunSettings {
  const guardrails: Guardrails = {};
  if (base?.guardrails?.minRecentReliability !== undefined) guardrails.minRecentReliability = base.guardrails.minRecentReliability;
  const minRetention = num(f.minRetention);
  const maxL1 = num(f.maxL1Growth);
  if (minRetention !== null) guardrails.minRetentionPct = minRetention;
  if (maxL1 !== null) guardrails.maxL1GrowthPct = maxL1;
  if (f.pauseOnNotTaken) guardrails.pauseOnNotTaken = true;
  const healthEvery = num(f.healthEvery) ?? 0;
  return {
    batchSize: Math.max(1, Math.floor(num(f.batchSize) ?? 1)),
    ...(healthEvery > 0 ? { healthEvery } : {}),
    ...(Object.keys(guardrails).length ? { guardrails } : {}),
    ...(base?.healthTaskIds ? { healthTaskIds: base.healthTaskIds } : {}),
    ...(base?.healthN !== undefined ? { healthN: base.healthN } : {}),
    ...(base?.notTakenBelow !== undefined ? { notTakenBelow: base.notTakenBelow } : {}),
  };
}

/** Settings in one canonical form (defaults dropped, keys sorted) for comparison. */
function canonical(s: QueueRunSettings | null): string {
  const g = s?.guardrails ?? {};
  return JSON.stringify({
    batchSize: s?.batchSize ?? 1,
    healthEvery: s?.healthEvery ?? 0,
    minRetentionPct: g.minRetentionPct ?? null,
    maxL1GrowthPct: g.maxL1GrowthPct ?? null,
    minRecentReliability: g.minRecentReliability ?? null,
    pauseOnNotTaken: g.pauseOnNotTaken ?? false,
    healthTaskIds: s?.healthTaskIds ?? null,
    healthN: s?.healthN ?? null,
    notTakenBelow: s?.notTakenBelow ?? null,
  });
}

/**
 * What Resume sends as `run`: nothing when the form still shows the stored settings (the engine then
 * reads them from the ledger), the form's settings when the user changed them.
 */
export function resumeRun(f: RunForm, stored: QueueRunSettings | null): QueueRunSettings | undefined {
  const asked = settingsFromForm(f, stored);
  return canonical(asked) === canonical(stored) ? undefined : asked;
}

/** One line for the stored settings ("batch 2 · health every 3 edits · L1 growth ≤ 0.5 % · ..."). */
export function describeSettings(s: QueueRunSettings | null): string {
  if (!s) return 'no run yet';
  const g = s.guardrails ?? {};
  const parts = [`batch ${s.batchSize ?? 1}`, s.healthEvery ? `health every ${s.healthEvery} edit${s.healthEvery === 1 ? '' : 's'}` : 'no periodic health check'];
  if (g.minRetentionPct !== undefined) parts.push(`retention ≥ ${g.minRetentionPct} %`);
  if (g.maxL1GrowthPct !== undefined) parts.push(`L1 growth ≤ ${g.maxL1GrowthPct} %`);
  if (g.minRecentReliability !== undefined) parts.push(`recent reliability ≥ ${g.minRecentReliability}`);
  if (g.pauseOnNotTaken) parts.push('pause when an edit does not take');
  if (!Object.keys(g).length) parts.push('no guardrails');
  return parts.join(' · ');
}

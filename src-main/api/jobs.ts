// How jobs are numbered and named, and the lists of their kinds and states (the types are in ./contract.ts).
import type { JobKind, JobState } from './contract';

/**
 * Job ids from here up belong to jobs that ran with no workspace open (opening a model): they live in
 * the engine's memory, not in a ledger's job table, and are not shown by number ("#1000000000").
 */
export const TRANSIENT_JOB_ID_BASE = 1_000_000_000;

/** How a job is named to the user: #12 "Revert to #3"; a job with no workspace by its title alone. */
export function jobRef(j: { id: number; title: string }): string {
  return j.id >= TRANSIENT_JOB_ID_BASE ? `"${j.title}"` : `#${j.id} "${j.title}"`;
}

export const JOB_KINDS = ['queue', 'health', 'statistics', 'revert', 'remove', 'replay', 'reapply', 'export', 'open'] as const satisfies readonly JobKind[];
export const JOB_STATES = ['queued', 'running', 'pausing', 'paused', 'done', 'failed', 'cancelled', 'interrupted'] as const satisfies readonly JobState[];
/** States a job does not leave by itself (paused and interrupted wait for the user). */
export const JOB_ENDED: readonly JobState[] = ['done', 'failed', 'cancelled'];

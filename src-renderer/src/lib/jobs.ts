// The job list's model and the ledger confirmations: which controls a job offers in each state, the
// live ETA, and how many edits a revert / remove takes out. Pure (unit-tested in tests/renderer).
import type { EditSummary, History, JobErrorEntry, JobRecord, JobState } from '../../../src-main/api/contract';
import { jobRef, TRANSIENT_JOB_ID_BASE } from '../../../src-main/api/jobs';

/** Newest last; a job event replaces the job with the same id. */
export function upsertJob(jobs: JobRecord[], job: JobRecord): JobRecord[] {
  const i = jobs.findIndex((j) => j.id === job.id);
  if (i < 0) return [...jobs, job].sort((a, b) => a.id - b.id);
  const out = jobs.slice();
  out[i] = job;
  return out;
}

/** The job holding the model: running or pausing. */
export function activeJob(jobs: JobRecord[]): JobRecord | null {
  return jobs.find((j) => j.state === 'running' || j.state === 'pausing') ?? null;
}

/** Jobs that need the user or are under way: running, pausing, queued, paused, interrupted. */
export function openJobs(jobs: JobRecord[]): JobRecord[] {
  const open: JobState[] = ['running', 'pausing', 'queued', 'paused', 'interrupted'];
  return jobs.filter((j) => open.includes(j.state));
}

export interface JobActions {
  pause: boolean;
  resume: boolean;
  /** resume although the guardrail still trips */
  override: boolean;
  cancel: boolean;
  retry: boolean;
  /**
   * why the actions cannot be used now (the engine is unreachable), or null: the buttons stay in
   * sight but disabled, with this as the reason, instead of sending calls that can only fail
   */
  blocked: string | null;
}

/** What the window says (and the buttons' reason) while the engine cannot be reached. */
export const ENGINE_UNREACHABLE = 'The engine is unreachable (the connection to it was lost): job controls are disabled until it is back.';

/** Every state has a way out: what the job list offers for a job (`connected`: the engine can be reached). */
export function jobActions(j: JobRecord, connected = true): JobActions {
  return {
    blocked: connected ? null : ENGINE_UNREACHABLE,
    pause: j.kind === 'queue' && j.state === 'running',
    resume: j.kind === 'queue' && j.state === 'paused',
    override: j.kind === 'queue' && j.state === 'paused' && !!j.pauseReason?.length,
    cancel: ['running', 'queued', 'paused', 'interrupted'].includes(j.state),
    retry: ['interrupted', 'failed'].includes(j.state) && j.kind !== 'open',
  };
}

/** ms left now: the ETA written at `progress.at`, counted down since (never below 0); null when unknown. */
export function etaLeft(j: JobRecord, now: number): number | null {
  const p = j.progress;
  if (p.etaMs === null || p.etaMs === undefined || !Number.isFinite(p.etaMs)) return null;
  const since = p.at ? Math.max(0, now - p.at) : 0;
  return Math.max(0, p.etaMs - since);
}

export const STATE_LABEL: Record<JobState, string> = {
  queued: 'queued',
  running: 'running',
  pausing: 'pausing…',
  paused: 'paused',
  done: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
  interrupted: 'interrupted',
};

/** "#12" for a job of the job table, "" for one that ran with no workspace (a model open). */
export function jobNumber(j: Pick<JobRecord, 'id'>): string {
  return j.id >= TRANSIENT_JOB_ID_BASE ? '' : `#${j.id}`;
}

/** What a window says before asking anything else when another job holds the model. */
export function busyText(running: Pick<JobRecord, 'id' | 'title'>, what: string): string {
  return (
    `Job ${jobRef(running)} is running and holds the model, so "${what}" cannot start now.\n\n` +
    `Queue it behind ${jobNumber(running) ? `job ${jobNumber(running)}` : 'it'}? It waits in the job list (with its own Cancel) and is refused then if the ledger has moved.`
  );
}

/** A dialog kept open because job `jobId` holds the model is out of date once that job is no longer running. */
export function busyDialogEnded(jobId: number | undefined, job: Pick<JobRecord, 'id' | 'state'>): boolean {
  return jobId !== undefined && job.id === jobId && job.state !== 'running' && job.state !== 'pausing';
}

/** Live edits a "revert to seq" takes out. */
export function revertTakesOut(history: History, seq: number): EditSummary[] {
  return history.edits.filter((e) => e.active && e.seq > seq);
}

/** Live edits a removal takes out (replay: the later ones are re-run as new edits afterwards). */
export function removeTakesOut(history: History, editId: number, mode: 'drop' | 'replay'): { out: EditSummary[]; replayed: EditSummary[] } {
  const e = history.edits.find((x) => x.id === editId);
  if (!e) return { out: [], replayed: [] };
  const later = history.edits.filter((x) => x.active && x.seq > e.seq);
  return mode === 'drop' ? { out: [e], replayed: [] } : { out: [e, ...later], replayed: later };
}

/**
 * The edits a confirmation names, by their facts ("#3 (Paris is the capital of → Italy)"), not by
 * case ids the user never typed; a long list names the first few and counts the rest.
 */
export function factList(xs: Pick<EditSummary, 'seq' | 'requests'>[], max = 6): string {
  const fact = (r: EditSummary['requests'][number]) => `${r.prompt.replace('{}', r.subject)} → ${r.targetNew}`;
  const shown = xs.slice(0, max).map((e) => `#${e.seq} (${e.requests.map(fact).join('; ')})`);
  return shown.join(', ') + (xs.length > max ? ` and ${xs.length - max} more` : '');
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Mean reliability of an edit's requests; null when it has none. */
export function meanReliability(e: Pick<EditSummary, 'metrics'>): number | null {
  const v = e.metrics.map((m) => m.reliability).filter((x) => Number.isFinite(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

/** The default threshold below which an edit "did not take" (the queue run's notTakenBelow). */
export const NOT_TAKEN_BELOW = 0.5;

/** An edit did not take when any of its requests stayed below the threshold. */
export function didNotTake(e: Pick<EditSummary, 'metrics'>, below = NOT_TAKEN_BELOW): boolean {
  return e.metrics.some((m) => !(m.reliability >= below));
}

/** One row of the error history view. */
export interface ErrorRow {
  key: string;
  at: string;
  text: string;
  code?: string;
  /** the job whose log holds it; null for an error only this window saw (a refused request) */
  jobId: number | null;
  title: string | null;
}

/**
 * The error history: the engine's (job failures and error log lines, persisted, so every window
 * and a restarted app show them) and the errors only this window saw (refusals, bad input that
 * started no job). A window error with the same text as a job's is the same failure told to the
 * window that asked: shown once, from the job. Newest first.
 */
export function errorHistory(persisted: JobErrorEntry[], local: { id: number; at: string; text: string; code?: string }[]): ErrorRow[] {
  const jobTexts = new Set(persisted.map((e) => e.message));
  const rows: ErrorRow[] = [
    // `at` too: model-open failures of earlier sessions are kept, and their job ids repeat
    ...persisted.map((e) => ({ key: `j${e.jobId}:${e.line ?? 'f'}:${e.at}`, at: e.at, text: e.message, ...(e.code ? { code: e.code } : {}), jobId: e.jobId, title: e.title })),
    ...local.filter((e) => !jobTexts.has(e.text)).map((e) => ({ key: `w${e.id}`, at: e.at, text: e.text, ...(e.code ? { code: e.code } : {}), jobId: null, title: null })),
  ];
  return rows.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
}

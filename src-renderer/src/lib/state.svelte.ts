// App-wide reactive state (Svelte 5 runes): the open workspace, the ledger history, and the jobs the
// engine runs. Jobs belong to the engine, not to this window: the list comes from `jobs.list` when
// the window connects (and reconnects) and every `job` event after it, so a reloaded or second window
// shows the running job with live progress and can pause or cancel it.
import type { History, JobErrorEntry, JobRecord, QueueRunStatus, StudioMethod, StudioParams, StudioResult, WorkspaceInfo } from '../../../src-main/api/contract';
import { jobRef } from '../../../src-main/api/jobs';
import { JOB_METHODS } from '../../../src-main/api/methods';
import { ApiError, call, errorText, getBridge, onEvent } from './api';
import { activeJob, busyDialogEnded, busyText, upsertJob } from './jobs';

export type ViewName = 'models' | 'queue' | 'ledger' | 'health' | 'playground' | 'jobs';

export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'ok';
  text: string;
}

/** An error kept in the history (toasts vanish; this does not). */
export interface ErrorEntry {
  id: number;
  at: string;
  text: string;
  code?: string;
}

export interface ConfirmRequest {
  title: string;
  text: string;
  ok: string;
  resolve(ok: boolean): void;
  /** the dialog is about job #whileJob holding the model: it closes (onEnded) when that job ends */
  whileJob?: number;
  onEnded?: () => void;
}

/** Same text within this window of ms is shown once (guardrail toasts came three times). */
const TOAST_DEDUP_MS = 4000;

class AppState {
  view = $state<ViewName>('models');
  workspace = $state<WorkspaceInfo | null>(null);
  history = $state<History | null>(null);
  queueStatus = $state<QueueRunStatus | null>(null);
  /** every job the engine reports for the open workspace (and this session's transient ones) */
  jobs = $state<JobRecord[]>([]);
  connected = $state(true);
  toasts = $state<Toast[]>([]);
  /** errors only this window saw (refused requests, bad input that started no job) */
  errors = $state<ErrorEntry[]>([]);
  /** the engine's error history (job failures and error log lines, persisted in the job table) */
  jobErrors = $state<JobErrorEntry[]>([]);
  confirmRequest = $state<ConfirmRequest | null>(null);
  /** the job whose log the Jobs view shows */
  logJobId = $state<number | null>(null);
  /** bumped on ledger changes so views can refetch */
  ledgerVersion = $state(0);
  /** ticks every second while a job runs, for ETA countdowns */
  now = $state(Date.now());
  private toastSeq = 0;
  private recent = new Map<string, number>();

  /** The job holding the model (running or pausing), if any. */
  get active(): JobRecord | null {
    return activeJob(this.jobs);
  }

  toast(kind: Toast['kind'], text: string, ms = 6000): void {
    const t = Date.now();
    const last = this.recent.get(text);
    if (last !== undefined && t - last < TOAST_DEDUP_MS) return;
    this.recent.set(text, t);
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts, { id, kind, text }];
    setTimeout(() => (this.toasts = this.toasts.filter((x) => x.id !== id)), ms);
  }

  /** An error: a toast, and a line in the error history (Jobs view) that stays. */
  error(e: unknown): void {
    const text = errorText(e);
    const code = e instanceof ApiError ? e.code : undefined;
    this.errors = [{ id: ++this.toastSeq, at: new Date().toISOString(), text, ...(code ? { code } : {}) }, ...this.errors].slice(0, 200);
    this.toast('error', text, 10000);
  }

  /** Asks the user; resolves true on OK. One question at a time. */
  confirm(title: string, text: string, ok = 'OK'): Promise<boolean> {
    return this.ask(title, text, ok).then((a) => a === 'ok');
  }

  /**
   * Asks the user; with `whileJob`, a question about that job holding the model, answered 'ended'
   * (and closed) as soon as that job ends — it does not stay up asking to wait for a finished job.
   */
  private ask(title: string, text: string, ok: string, whileJob?: number): Promise<'ok' | 'cancel' | 'ended'> {
    this.confirmRequest?.resolve(false);
    return new Promise((resolve) => {
      const close = (a: 'ok' | 'cancel' | 'ended') => {
        this.confirmRequest = null;
        resolve(a);
      };
      this.confirmRequest = {
        title,
        text,
        ok,
        resolve: (v) => close(v ? 'ok' : 'cancel'),
        ...(whileJob !== undefined ? { whileJob, onEnded: () => close('ended') } : {}),
      };
    });
  }

  /**
   * Before asking anything about a model-changing request: when another job holds the model, say so
   * first (and offer to queue behind it). 'free': go on (no job, or it ended while the question was
   * up); 'queue': the user chose to wait (send it with whenBusy 'queue'); null: the user declined.
   */
  async whenBusy(what: string): Promise<'free' | 'queue' | null> {
    const running = this.active;
    if (!running) return 'free';
    const a = await this.ask('The model is busy', busyText(running, what), 'Queue it', running.id);
    if (a === 'ended') {
      this.toast('info', `Job ${jobRef(running)} has ended; the model is free`);
      return 'free';
    }
    return a === 'ok' ? 'queue' : null;
  }

  /**
   * Asks the engine for work (a job). A refusal (another job holds the model, the ledger moved) and a
   * failure both land in the error history; progress shows in the job list of every window.
   */
  async job<M extends StudioMethod>(method: M, params: StudioParams<M>): Promise<StudioResult<M> | undefined> {
    try {
      return await call(method, params);
    } catch (e) {
      this.error(e);
      // refused because another job holds the model: the user may choose to wait behind it, visibly
      const running = this.active;
      if (e instanceof ApiError && e.code === 'busy' && running && JOB_METHODS[method] && !(params as { whenBusy?: string }).whenBusy) {
        const a = await this.ask(
          'Another job is running',
          `${e.message}\n\nQueue this request behind job ${jobRef(running)}? It waits in the job list (with its own Cancel) and is refused then if the ledger has moved.`,
          'Queue it',
          running.id,
        );
        if (a === 'ok') return this.job(method, { ...params, whenBusy: 'queue' } as StudioParams<M>);
        // the job it waited for ended while the question was up: what was asked can run now
        if (a === 'ended') {
          this.toast('info', `Job ${jobRef(running)} has ended; running the request now`);
          return this.job(method, params);
        }
      }
      return undefined;
    }
  }

  async refreshWorkspace(): Promise<void> {
    try {
      this.workspace = await call('workspace.info', {});
    } catch (e) {
      this.error(e);
    }
  }

  async refreshHistory(): Promise<void> {
    if (!this.workspace) {
      this.history = null;
      return;
    }
    try {
      this.history = await call('ledger.history', {});
    } catch (e) {
      this.error(e);
    }
  }

  async refreshQueueStatus(): Promise<void> {
    try {
      this.queueStatus = await call('queue.status', {});
    } catch {
      /* no workspace yet */
    }
  }

  async refreshJobs(): Promise<void> {
    try {
      this.jobs = (await call('jobs.list', {})).jobs;
    } catch {
      /* not connected */
    }
  }

  async refreshErrors(): Promise<void> {
    try {
      this.jobErrors = (await call('jobs.errors', {})).errors;
    } catch {
      /* not connected */
    }
  }

  /** Everything a (re)connected window needs: the workspace, its ledger, the current jobs and the error history. */
  async resync(): Promise<void> {
    await this.refreshWorkspace();
    await Promise.all([this.refreshHistory(), this.refreshQueueStatus(), this.refreshJobs(), this.refreshErrors()]);
  }

  init(): void {
    onEvent('job', (ev) => {
      const before = this.jobs.find((j) => j.id === ev.job.id);
      this.jobs = upsertJob(this.jobs, ev.job);
      // a "the model is busy" question about a job that has just ended closes itself
      if (busyDialogEnded(this.confirmRequest?.whileJob, ev.job)) this.confirmRequest?.onEnded?.();
      if (before && before.state !== ev.job.state && ev.job.state === 'interrupted') this.toast('info', `Job #${ev.job.id} was interrupted`);
    });
    // a job logged an error (its failure included): the persisted history has a new entry
    onEvent('job.log', (ev) => {
      if (ev.line.level === 'error') void this.refreshErrors();
    });
    onEvent('ledger.changed', (ev) => {
      if (ev.reason === 'open') {
        void this.resync();
        return;
      }
      if (this.workspace) this.workspace = { ...this.workspace, liveEdits: ev.liveEdits, headSeq: ev.headSeq };
      this.ledgerVersion++;
      void this.refreshHistory();
    });
    onEvent('queue.state', () => void this.refreshQueueStatus());
    onEvent('guardrail.pause', (ev) => {
      this.toast('error', `Guardrail paused the queue: ${ev.trips.map((t) => t.message).join('; ')}`, 15000);
      void this.refreshWorkspace();
    });
    onEvent('guardrail.resume', () => void this.refreshWorkspace());
    onEvent('edit.recorded', (ev) => {
      if (ev.notTaken.length) this.toast('error', `Edit #${ev.seq} did not take for ${ev.notTaken.join(', ')} (reliability too low)`, 10000);
    });
    // a new engine (after a crash) or a reconnected socket: the jobs may have moved on
    getBridge().on('engine.restarted', () => void this.resync());
    getBridge().on('connection', (p) => {
      if ((p as { connected: boolean }).connected) void this.resync();
    });
    setInterval(() => {
      if (this.active) this.now = Date.now();
    }, 1000);
    void this.resync();
  }
}

export const app = new AppState();

// JobManager: the engine owns the work it runs for the user. Each job (queue run, health check,
// statistics, revert, remove, replay, re-apply, export, open model) has a record in the workspace's
// job table (JobStore) and every change to it is broadcast to every client, so a reloaded or second
// window sees the running job with its live progress and can pause or cancel it.
//
// Exclusive work is explicit: one job holds the model at a time. Asking for another while one runs
// is refused at once with an error that names the running job (code 'busy'), unless the caller asks
// to wait (whenBusy: 'queue'): the job is then listed as 'queued' with its own Cancel and runs when
// its turn comes, after its precheck (a destructive job refuses when the ledger head moved).
//
// States: queued -> running (<-> pausing -> paused -> running) -> done | failed | cancelled.
// 'interrupted' is what a restart finds of a job that was in flight (JobStore.markInterrupted).
// A paused job gives the model back (other jobs may run) and waits for resume or cancel.
import type { GuardrailTrip, JobErrorEntry, JobKind, JobLogLine, JobProgress, JobRecord, JobState, StudioEventBody, WhenBusy } from '../api/contract';
import { STUDIO_ERROR_CODES as CODES } from '../api/errors';
import { jobRef, TRANSIENT_JOB_ID_BASE } from '../api/jobs';
import { failureLine, type JobStore } from './job-store';
import { EngineError } from './protocol';
import { cancelledError } from '../engine/errors';
import type { TransientErrorLog } from './transient-errors';
import { PhaseEta } from '../engine/progress';

/** What a running job can do. `signal` aborts with errors.ts's AbortError (code 'cancelled'), or an EngineError('closed') when the engine closes. */
export interface JobHandle {
  readonly id: number;
  readonly signal: AbortSignal;
  /** merges into the job's progress; broadcast (throttled) and persisted (throttled) */
  progress(p: JobProgress): void;
  /** appends a line to the job's persisted log and broadcasts it */
  log(level: JobLogLine['level'], message: string): void;
  /** broadcasts a studio event (queue items, ledger changes) to every client */
  emit(ev: StudioEventBody): void;
  /** the current record */
  record(): JobRecord;
}

export type JobOutcome = { state: 'done' | 'paused' | 'cancelled'; pauseReason?: GuardrailTrip[] };

export interface JobSpec<R> {
  kind: JobKind;
  title: string;
  params: unknown;
  queueId?: number | null;
  /** the ledger head when asked for */
  headSeq?: number | null;
  retryOf?: number | null;
  whenBusy?: WhenBusy;
  /**
   * Checked before the job starts, and again when a queued job's turn comes; throw to refuse
   * (at once: no job is created; later: the queued job fails with that error).
   */
  precheck?: () => void;
  run(job: JobHandle): Promise<R>;
  /** how a result ends the job (default done); a queue run may end paused or cancelled */
  outcome?: (r: R) => JobOutcome;
  /** asks the running job to pause; false when it cannot */
  pause?: () => boolean;
  /** short text for the job's first log line */
  describe?: string;
  /** keep the job in memory only (opening a model: it switches the job table under its feet) */
  transient?: boolean;
}

interface Live {
  rec: JobRecord;
  spec: JobSpec<unknown>;
  controller: AbortController;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  lastPersist: number;
  lastBroadcast: number;
  /** the ETA of the current phase from its own counts (jobs whose reports carry no ETA of their own) */
  eta: PhaseEta;
}

const ENDED: readonly JobState[] = ['done', 'failed', 'cancelled'];
/** ids of jobs that live only in memory (no workspace bound yet, e.g. opening the first model) */
const TRANSIENT_BASE = TRANSIENT_JOB_ID_BASE;

/** The error-history entry of a failed job that has no stored log. */
function transientError(j: JobRecord): JobErrorEntry {
  return { jobId: j.id, kind: j.kind, title: j.title, at: j.endedAt ?? j.createdAt, line: null, message: j.error!.message, failure: true, ...(j.error!.code ? { code: j.error!.code } : {}) };
}

/** The one cancellation shape (engine/errors.ts), re-exported for the jobs layer. */
export { cancelledError };

function errorInfo(e: unknown): { message: string; code?: string } {
  const err = e as { message?: unknown; code?: unknown; name?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  const code = typeof err?.code === 'string' ? err.code : err?.name === 'AbortError' ? CODES.cancelled : undefined;
  return { message, ...(code ? { code } : {}) };
}

export interface JobManagerOptions {
  broadcast: (ev: StudioEventBody) => void;
  now?: () => Date;
  /** ms between persisted progress writes of one job (default 1000) */
  persistEveryMs?: number;
  /** ms between broadcast progress events of one job within a phase (default 120) */
  broadcastEveryMs?: number;
  /** a paused job was cancelled (e.g. record the end of a guardrail pause in the ledger) */
  onCancelPaused?: (rec: JobRecord) => void;
  /** where failures of jobs without a workspace (model opens) are kept across restarts */
  transientErrors?: TransientErrorLog;
}

export class JobManager {
  private store: JobStore | null = null;
  /** the job holding the model */
  private active: Live | null = null;
  private waiting: Live[] = [];
  /** jobs without a store (ids >= TRANSIENT_BASE), newest last */
  private transient: JobRecord[] = [];
  private transientSeq = TRANSIENT_BASE;
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | null = null;

  constructor(private o: JobManagerOptions) {}

  private now(): string {
    return (this.o.now?.() ?? new Date()).toISOString();
  }

  /**
   * Binds the job table of the workspace now open (null: none). Jobs still waiting for the previous
   * workspace are cancelled: they were asked against another ledger.
   */
  bind(store: JobStore | null): void {
    for (const w of this.waiting.splice(0)) this.finish(w, 'cancelled', undefined, cancelledError('cancelled: another model was opened before its turn came'));
    this.store = store;
  }

  get bound(): JobStore | null {
    return this.store;
  }

  /** The job holding the model, if any. */
  runningJob(): JobRecord | null {
    return this.active ? { ...this.active.rec } : null;
  }

  /** The error a refused request gets: names the running job. */
  busyError(what: string): EngineError {
    const a = this.active!.rec;
    const p = a.progress;
    const where = p.phase ? ` (${p.phase}${p.total ? `, ${p.done ?? 0}/${p.total}` : ''})` : '';
    return new EngineError(
      CODES.busy, `cannot ${what}: job ${jobRef(a)} is running${where}. Wait for it, pause or cancel it in the job list, or queue this request behind it.`,
    );
  }

  /** Throws the busy error when a job holds the model. */
  requireIdle(what: string): void {
    if (this.active) throw this.busyError(what);
  }

  list(limit = 200): JobRecord[] {
    const stored = this.store?.list(limit) ?? [];
    const live = new Map<number, JobRecord>();
    for (const l of [this.active, ...this.waiting]) if (l) live.set(l.rec.id, l.rec);
    const merged = stored.map((j) => live.get(j.id) ?? j);
    return [...merged, ...this.transient.slice(-20)].map((j) => ({ ...j }));
  }

  get(id: number): JobRecord | undefined {
    for (const l of [this.active, ...this.waiting]) if (l?.rec.id === id) return { ...l.rec };
    const t = this.transient.find((j) => j.id === id);
    if (t) return { ...t };
    return this.store?.get(id);
  }

  /**
   * The error history, newest first: error lines of the persisted job logs (failures included) and
   * this session's failed transient jobs (those ran with no workspace, so have no stored log).
   */
  errors(limit = 200): JobErrorEntry[] {
    const transient: JobErrorEntry[] = this.transient.filter((j) => j.state === 'failed' && j.error).map(transientError);
    // failures of earlier sessions' opens (this session's are in the file too: listed once)
    const mine = new Set(transient.map((e) => `${e.jobId}\u0000${e.at}`));
    const earlier = (this.o.transientErrors?.list() ?? []).filter((e) => !mine.has(`${e.jobId}\u0000${e.at}`));
    const stored = [...earlier, ...(this.store?.errors(limit) ?? [])];
    return [...transient, ...stored].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.jobId - a.jobId)).slice(0, limit);
  }

  log(id: number): JobLogLine[] {
    return id >= TRANSIENT_BASE ? [] : (this.store?.lines(id) ?? []);
  }

  /**
   * Starts a job, or queues it (whenBusy 'queue') behind the running one, or refuses at once.
   * `done` settles with the run's result when the job ends (or pauses).
   */
  start<R>(spec: JobSpec<R>): { job: JobRecord; done: Promise<R> } {
    if (this.active && (spec.whenBusy ?? 'refuse') === 'refuse') throw this.busyError(`start "${spec.title}"`);
    if (!this.active) spec.precheck?.();
    const rec = this.create(spec as JobSpec<unknown>, this.active ? 'queued' : 'running');
    return this.enqueue(rec, spec as JobSpec<unknown>) as { job: JobRecord; done: Promise<R> };
  }

  /** Continues a paused job under its own id (queue resume). */
  resume<R>(id: number, spec: JobSpec<R>): { job: JobRecord; done: Promise<R> } {
    const rec = this.get(id);
    if (!rec) throw new EngineError(CODES.notFound, `no job #${id}`);
    if (rec.state !== 'paused') throw new EngineError(CODES.badParams, `job #${id} "${rec.title}" is ${rec.state}, not paused`);
    if (this.active && (spec.whenBusy ?? 'refuse') === 'refuse') throw this.busyError(`resume "${rec.title}"`);
    if (!this.active) spec.precheck?.();
    rec.state = this.active ? 'queued' : 'running';
    rec.pauseReason = undefined;
    rec.endedAt = null;
    this.persist(rec, { state: rec.state, pauseReason: null, endedAt: null });
    this.writeLog(rec.id, 'info', this.active ? `resume queued behind job #${this.active.rec.id}` : 'resumed');
    return this.enqueue(rec, spec as JobSpec<unknown>) as { job: JobRecord; done: Promise<R> };
  }

  private create(spec: JobSpec<unknown>, state: JobState): JobRecord {
    const base = {
      kind: spec.kind,
      title: spec.title,
      params: spec.params ?? {},
      state,
      headSeq: spec.headSeq ?? null,
      queueId: spec.queueId ?? null,
      retryOf: spec.retryOf ?? null,
      createdAt: this.now(),
      exclusive: true,
    };
    let rec: JobRecord;
    if (this.store && !spec.transient) rec = this.store.insert(base);
    else {
      rec = { ...base, id: this.transientSeq++, progress: {}, startedAt: null, endedAt: null, result: null, error: null };
      this.transient.push(rec);
    }
    this.writeLog(rec.id, 'info', spec.describe ?? `${spec.title}: ${state === 'queued' ? `queued behind job #${this.active?.rec.id}` : 'started'}`);
    return rec;
  }

  private enqueue(rec: JobRecord, spec: JobSpec<unknown>): { job: JobRecord; done: Promise<unknown> } {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // observed by the caller when it awaits
    const live: Live = { rec, spec, controller: new AbortController(), resolve, reject, lastPersist: 0, lastBroadcast: 0, eta: new PhaseEta() };
    if (rec.state === 'queued') {
      this.waiting.push(live);
      this.broadcastJob(rec);
    } else this.launch(live);
    return { job: { ...rec }, done };
  }

  private launch(live: Live): void {
    this.active = live;
    if (!this.idleResolve) this.idle = new Promise((r) => (this.idleResolve = r));
    const rec = live.rec;
    rec.state = 'running';
    rec.startedAt = rec.startedAt ?? this.now();
    this.persist(rec, { state: 'running', startedAt: rec.startedAt });
    this.broadcastJob(rec);
    const handle: JobHandle = {
      id: rec.id,
      signal: live.controller.signal,
      progress: (p) => this.progress(live, p),
      log: (level, message) => this.writeLog(rec.id, level, message),
      emit: (ev) => this.o.broadcast(ev),
      record: () => ({ ...rec }),
    };
    void (async () => {
      try {
        const r = await live.spec.run(handle);
        const out = live.spec.outcome?.(r) ?? { state: 'done' as const };
        if (out.state === 'paused') {
          rec.pauseReason = out.pauseReason;
          this.finish(live, 'paused', r);
        } else this.finish(live, out.state, r);
      } catch (e) {
        const aborted = live.controller.signal.aborted;
        this.finish(live, aborted ? 'cancelled' : 'failed', undefined, aborted ? (live.controller.signal.reason ?? e) : e);
      }
    })();
  }

  private finish(live: Live, state: JobState, result?: unknown, error?: unknown): void {
    const rec = live.rec;
    rec.state = state;
    const ended = ENDED.includes(state);
    rec.endedAt = ended || state === 'paused' ? this.now() : null;
    if (result !== undefined) rec.result = result;
    if (error !== undefined) rec.error = errorInfo(error);
    this.persist(rec, {
      state,
      progress: rec.progress,
      endedAt: rec.endedAt,
      ...(result !== undefined ? { result } : {}),
      ...(error !== undefined ? { error: rec.error } : {}),
      pauseReason: state === 'paused' ? (rec.pauseReason ?? null) : null,
    });
    if (state === 'failed' && rec.id >= TRANSIENT_BASE && this.o.transientErrors) {
      try {
        this.o.transientErrors.add(transientError(rec));
      } catch (e) {
        console.error(`eac: could not keep the failure of job #${rec.id} in ${this.o.transientErrors.file}: ${(e as Error).message}`);
      }
    }
    if (state === 'paused') this.writeLog(rec.id, rec.pauseReason ? 'warn' : 'info', rec.pauseReason ? `paused by a guardrail: ${rec.pauseReason.map((t) => t.message).join('; ')}` : 'paused');
    else if (state === 'failed') this.writeLog(rec.id, 'error', failureLine(rec.error?.message ?? 'unknown error'));
    else this.writeLog(rec.id, 'info', state);
    this.broadcastJob(rec);
    if (this.active === live) this.active = null;
    if (error !== undefined && state !== 'paused') live.reject(error);
    else live.resolve(result);
    if (!this.active) this.pump();
  }

  /** Starts the next queued job whose precheck passes; refused ones fail with the precheck's error. */
  private pump(): void {
    while (!this.active && this.waiting.length) {
      const next = this.waiting.shift()!;
      try {
        next.spec.precheck?.();
      } catch (e) {
        this.finish(next, 'failed', undefined, e);
        continue;
      }
      this.launch(next);
      return;
    }
    if (!this.active && this.idleResolve) {
      this.idleResolve();
      this.idleResolve = null;
    }
  }

  private progress(live: Live, p: JobProgress): void {
    const rec = live.rec;
    const phaseChanged = p.phase !== undefined && p.phase !== rec.progress.phase;
    // a count belongs to the report it came with (it must not linger into the next phase); a job whose
    // reports bring no ETA gets the current phase's own, from its counts
    const { count: _old, ...kept } = rec.progress;
    const etaMs = p.etaMs !== undefined ? p.etaMs : p.count ? live.eta.update(p.phase ?? rec.progress.phase ?? '', p.count, performance.now()) : null;
    rec.progress = { ...kept, ...p, etaMs, at: Date.now() };
    if (!p.count) delete rec.progress.count;
    const t = Date.now();
    if (phaseChanged || p.fraction === 1 || t - live.lastBroadcast >= (this.o.broadcastEveryMs ?? 120)) {
      live.lastBroadcast = t;
      this.broadcastJob(rec);
    }
    if (t - live.lastPersist >= (this.o.persistEveryMs ?? 1000)) {
      live.lastPersist = t;
      this.persist(rec, { progress: rec.progress });
    }
  }

  /** Pauses a running job that can pause (queue runs: after the current edit). */
  pause(id: number): boolean {
    const live = this.active?.rec.id === id ? this.active : null;
    if (!live || !live.spec.pause || live.rec.state !== 'running') return false;
    if (!live.spec.pause()) return false;
    live.rec.state = 'pausing';
    this.persist(live.rec, { state: 'pausing' });
    this.writeLog(id, 'info', 'pause requested: stops after the current step');
    this.broadcastJob(live.rec);
    return true;
  }

  /**
   * Cancels a job in any state that has a way out: running (aborts its signal; it ends 'cancelled'),
   * queued (taken off the list), paused or interrupted (closed as cancelled).
   */
  cancel(id: number): boolean {
    if (this.active?.rec.id === id) {
      if (this.active.controller.signal.aborted) return false;
      this.writeLog(id, 'info', 'cancel requested');
      this.active.controller.abort(cancelledError());
      return true;
    }
    const w = this.waiting.findIndex((l) => l.rec.id === id);
    if (w >= 0) {
      const [live] = this.waiting.splice(w, 1);
      this.finish(live, 'cancelled', undefined, cancelledError('cancelled before it started'));
      return true;
    }
    const rec = this.get(id);
    if (!rec || (rec.state !== 'paused' && rec.state !== 'interrupted')) return false;
    if (rec.state === 'paused') this.o.onCancelPaused?.(rec);
    rec.state = 'cancelled';
    rec.endedAt = this.now();
    rec.pauseReason = undefined;
    this.persist(rec, { state: 'cancelled', endedAt: rec.endedAt, pauseReason: null });
    this.writeLog(id, 'info', 'cancelled');
    this.broadcastJob(rec);
    return true;
  }

  /** Aborts the running job, drops the queued ones and waits until nothing runs (engine shutdown). */
  async shutdown(): Promise<void> {
    for (const w of this.waiting.splice(0)) this.finish(w, 'cancelled', undefined, cancelledError('the engine is closing'));
    this.active?.controller.abort(new EngineError('closed', 'the engine is closing'));
    await this.idle;
  }

  /** Resolves when no job holds the model. */
  whenIdle(): Promise<void> {
    return this.active ? this.idle : Promise.resolve();
  }

  private persist(rec: JobRecord, patch: Parameters<JobStore['update']>[1]): void {
    if (rec.id >= TRANSIENT_BASE || !this.store) return;
    try {
      this.store.update(rec.id, patch);
    } catch {
      /* the ledger connection is closing (workspace switch); the broadcast still tells the clients */
    }
  }

  private writeLog(id: number, level: JobLogLine['level'], message: string): void {
    let line: JobLogLine = { line: 0, at: this.now(), level, message };
    if (id < TRANSIENT_BASE && this.store) {
      try {
        line = this.store.appendLog(id, level, message);
      } catch {
        /* see persist */
      }
    }
    this.o.broadcast({ type: 'job.log', jobId: id, line });
  }

  private broadcastJob(rec: JobRecord): void {
    this.o.broadcast({ type: 'job', job: { ...rec } });
  }
}

// The job table of a workspace (migrations/003_jobs.sql): one row per job the engine ran or runs for
// the user, with its progress, outcome and log lines. Work records, not history: rows change in place.
// Lives on the ledger's connection (Ledger.db); every write is one statement, or one IMMEDIATE
// transaction where two must agree.
import type Database from 'better-sqlite3';
import type { GuardrailTrip, JobErrorEntry, JobKind, JobLogLine, JobProgress, JobRecord, JobState } from '../api/contract';

type Row = Record<string, any>;

const parse = <T>(s: string | null): T | null => (s === null || s === undefined ? null : (JSON.parse(s) as T));

/** States that mean "was in flight" when found at start-up: the process that ran them is gone. */
const IN_FLIGHT: readonly JobState[] = ['queued', 'running', 'pausing'];

export type NewJob = Omit<JobRecord, 'id' | 'startedAt' | 'endedAt' | 'result' | 'error' | 'progress'> & { progress?: JobProgress };

export interface JobPatch {
  state?: JobState;
  progress?: JobProgress;
  pauseReason?: GuardrailTrip[] | null;
  startedAt?: string | null;
  endedAt?: string | null;
  result?: unknown;
  error?: { message: string; code?: string } | null;
}

export class JobStore {
  constructor(
    readonly db: Database.Database,
    readonly modelId: number,
    private clock: () => Date = () => new Date(),
  ) {}

  now(): string {
    return this.clock().toISOString();
  }

  insert(j: NewJob): JobRecord {
    const r = this.db
      .prepare(
        `INSERT INTO jobs (model_id, kind, title, params_json, state, progress_json, head_seq, queue_id, retry_of, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        this.modelId,
        j.kind,
        j.title,
        JSON.stringify(j.params ?? {}),
        j.state,
        JSON.stringify({ ...(j.progress ?? {}), ...(j.pauseReason ? { pauseReason: j.pauseReason } : {}) }),
        j.headSeq,
        j.queueId,
        j.retryOf,
        j.createdAt,
      );
    return this.get(Number(r.lastInsertRowid))!;
  }

  update(id: number, p: JobPatch): void {
    const cur = this.db.prepare('SELECT progress_json FROM jobs WHERE id = ?').get(id) as Row | undefined;
    if (!cur) return;
    const sets: string[] = [];
    const vals: unknown[] = [];
    const set = (col: string, v: unknown) => {
      sets.push(`${col} = ?`);
      vals.push(v);
    };
    if (p.state !== undefined) set('state', p.state);
    if (p.progress !== undefined || p.pauseReason !== undefined) {
      const old = parse<JobProgress & { pauseReason?: GuardrailTrip[] }>(cur.progress_json) ?? {};
      const pauseReason = p.pauseReason === undefined ? old.pauseReason : (p.pauseReason ?? undefined);
      const progress = p.progress ?? stripPause(old);
      set('progress_json', JSON.stringify({ ...progress, ...(pauseReason ? { pauseReason } : {}) }));
    }
    if (p.startedAt !== undefined) set('started_at', p.startedAt);
    if (p.endedAt !== undefined) set('ended_at', p.endedAt);
    if (p.result !== undefined) set('result_json', p.result === null ? null : JSON.stringify(p.result));
    if (p.error !== undefined) set('error_json', p.error === null ? null : JSON.stringify(p.error));
    if (!sets.length) return;
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...vals, id);
  }

  get(id: number): JobRecord | undefined {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ? AND model_id = ?').get(id, this.modelId) as Row | undefined;
    return r && mapJob(r);
  }

  /** The newest `limit` jobs of the model, oldest first. */
  list(limit = 200): JobRecord[] {
    const rows = this.db.prepare('SELECT * FROM jobs WHERE model_id = ? ORDER BY id DESC LIMIT ?').all(this.modelId, limit) as Row[];
    return rows.reverse().map(mapJob);
  }

  /** Jobs in one of the given states, oldest first. */
  inState(states: readonly JobState[]): JobRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM jobs WHERE model_id = ? AND state IN (${states.map(() => '?').join(', ')}) ORDER BY id`)
      .all(this.modelId, ...states) as Row[];
    return rows.map(mapJob);
  }

  appendLog(jobId: number, level: JobLogLine['level'], message: string): JobLogLine {
    const at = this.now();
    const tx = this.db.transaction(() => {
      const n = (this.db.prepare('SELECT COALESCE(MAX(line), 0) + 1 AS n FROM job_log WHERE job_id = ?').get(jobId) as Row).n as number;
      this.db.prepare('INSERT INTO job_log (job_id, line, at, level, message) VALUES (?, ?, ?, ?, ?)').run(jobId, n, at, level, message);
      return n;
    });
    return { line: tx.immediate(), at, level, message };
  }

  lines(jobId: number): JobLogLine[] {
    return (this.db.prepare('SELECT line, at, level, message FROM job_log WHERE job_id = ? ORDER BY line').all(jobId) as Row[]).map((r) => ({
      line: r.line,
      at: r.at,
      level: r.level,
      message: r.message,
    }));
  }

  /**
   * The model's error history, newest first: every error line of a job log (a job's failure is
   * logged as one), with the job's title and kind; a failure line carries the job's error message
   * and code. A failed job with no error line (its log write was lost) still shows, from its
   * recorded error.
   */
  errors(limit = 200): JobErrorEntry[] {
    const rows = this.db
      .prepare(
        `SELECT j.id AS job_id, j.kind, j.title, j.state, j.error_json, j.ended_at, l.line, l.at, l.message
           FROM jobs j JOIN job_log l ON l.job_id = j.id
          WHERE j.model_id = ? AND l.level = 'error'
         UNION ALL
         SELECT j.id, j.kind, j.title, j.state, j.error_json, j.ended_at, NULL, COALESCE(j.ended_at, j.created_at), NULL
           FROM jobs j
          WHERE j.model_id = ? AND j.state = 'failed'
            AND NOT EXISTS (SELECT 1 FROM job_log l WHERE l.job_id = j.id AND l.level = 'error')
          ORDER BY 8 DESC, 1 DESC, 7 DESC
          LIMIT ?`,
      )
      .all(this.modelId, this.modelId, limit) as Row[];
    return rows.map((r) => {
      const err = parse<{ message: string; code?: string }>(r.error_json);
      const failure = r.state === 'failed' && err !== null && (r.line === null || r.message === failureLine(err.message));
      return {
        jobId: r.job_id,
        kind: r.kind as JobKind,
        title: r.title,
        at: r.at,
        line: r.line ?? null,
        message: failure ? err!.message : r.message,
        failure,
        ...(failure && err!.code ? { code: err!.code } : {}),
      };
    });
  }

  /**
   * At open: jobs left queued / running / pausing by a process that is gone become 'interrupted'
   * (with a log line saying so) so the user sees them and can retry; paused jobs stay paused.
   */
  markInterrupted(): JobRecord[] {
    const found = this.inState(IN_FLIGHT);
    if (!found.length) return [];
    const now = this.now();
    const tx = this.db.transaction(() => {
      for (const j of found) {
        this.update(j.id, { state: 'interrupted', endedAt: now });
        this.appendLog(j.id, 'warn', `interrupted: the app stopped while this job was ${j.state}; Retry runs it again`);
      }
    });
    tx.immediate();
    return found.map((j) => this.get(j.id)!);
  }
}

/** The log line JobManager writes when a job fails (errors() maps it back to the job's error). */
export function failureLine(message: string): string {
  return `failed: ${message}`;
}

function stripPause(p: JobProgress & { pauseReason?: unknown }): JobProgress {
  const { pauseReason: _p, ...rest } = p;
  return rest;
}

export function mapJob(r: Row): JobRecord {
  const prog = (parse<JobProgress & { pauseReason?: GuardrailTrip[] }>(r.progress_json) ?? {}) as JobProgress & { pauseReason?: GuardrailTrip[] };
  const { pauseReason, ...progress } = prog;
  return {
    id: r.id,
    kind: r.kind as JobKind,
    title: r.title,
    params: parse(r.params_json) ?? {},
    state: r.state as JobState,
    progress,
    headSeq: r.head_seq,
    queueId: r.queue_id,
    retryOf: r.retry_of,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    result: parse(r.result_json),
    error: parse(r.error_json),
    exclusive: true,
    ...(pauseReason ? { pauseReason } : {}),
  };
}

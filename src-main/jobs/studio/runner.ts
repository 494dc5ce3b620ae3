// The queue runner: processes a queue's pending items in order on a Workspace. Each edit is
// Editor.edit (applies the deltas to the live model) then Ledger.recordEdit in ONE transaction; when
// recording fails the deltas are withdrawn (editor.unapply). Pause takes effect after the current
// edit; cancel (the run's AbortSignal: the job's signal) aborts the current edit (its item goes back
// to pending, nothing is recorded).
// Health checks: a baseline before the first edit when the current live state has none, then every
// K edits; guardrails pause the queue with a recorded guardrail_pause event.
//
// The same runner drives the app's queue jobs, `eac edit` (a ledger-backed or throw-away queue) and
// the crash-safety child; it knows nothing about jobs or workers: it reports through RunHooks.
import type { TaskDef } from '../../engine/eval/tasks';
import type {
  GuardrailTrip,
  HealthTaskScore,
  Guardrails,
  JobProgress,
  QueueRunResult,
  QueueRunSettings,
  QueueRunState,
  QueueRunStatus,
  StudioEventBody,
} from '../../api/contract';
import { RUN_SETTING_KEYS, validateRunSettings } from '../../api/validate';
import { METHOD_IS_BATCHED } from '../../engine/edit/methods';
import { isCancelled } from '../../engine/errors';
import { PhaseEta, type ProgressCount } from '../../engine/progress';
import type { Editor, EditMethod, EditProfile, EditResult } from '../../engine/edit';
import type { EditRequest } from '../../engine/facts/types';
import type { HealthRun, QueueItem } from '../../store';
import { hasRunForCurrentState, pickTasks, runHealthCheck, DEFAULT_HEALTH_N } from './health-core';
import { CODES, resolveProfile, studioError, type Workspace } from './workspace';

export type RunOptions = QueueRunSettings;

/** Only the run settings of `o` (a caller may hand over a whole queue.run params object). */
export function pickRunSettings(o: Record<string, unknown>): QueueRunSettings {
  const out: Record<string, unknown> = {};
  for (const k of RUN_SETTING_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as QueueRunSettings;
}

/**
 * The settings a queue's latest run was started with, read back from the ledger and validated (the
 * ledger is a file: a hand-edited value is refused with what to do, not used half-way); null when no
 * run has started on the queue.
 */
export function storedRunSettings(ws: Workspace, queueId: number): QueueRunSettings | null {
  const q = ws.ledger.queues.getQueue(queueId);
  if (!q || q.runSettings === null || q.runSettings === undefined) return null;
  try {
    return validateRunSettings(`queue ${queueId}`, q.runSettings);
  } catch (e) {
    throw studioError(
      `the run settings stored with queue ${queueId} in ${ws.dbFile} are not valid (${(e as Error).message}); ` +
        `resume with the settings given again (the Resume form, or queue.resume with "run")`,
    );
  }
}

export interface RunHooks {
  /** studio events for every client (queue items, edits recorded, ledger changes, guardrails) */
  emit?: (ev: StudioEventBody) => void;
  /** this run's progress (phase, fraction, done/total, ETA) */
  progress?: (p: JobProgress) => void;
  /** a line for the run's log (edits recorded, skipped items, edits that did not take) */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** aborts the current edit / health check (cancel) */
  signal?: AbortSignal;
  /** key statistics sample count / corpus override (tests, CLI) */
  statsSamples?: number;
  statsCorpus?: string;
  /** edits already counted before this run (a resumed job keeps counting) */
  doneBefore?: number;
  /** statistics imported under this label (eac stats import --label) where they exist */
  statsLabel?: string;
  /** called with each recorded edit (the CLI prints it) */
  onEdit?: (r: EditResult, rec: { editId: number; seq: number }, itemIds: number[]) => void;
  /** health tasks to use instead of the bundled ones picked by healthTaskIds (eac edit --eval-tasks); implies a check before the first edit */
  healthTasks?: TaskDef[];
  /** also check health after the last edit (unless a check just ran) */
  healthAtEnd?: boolean;
  /** each health check's scores, with the edits done in this run */
  onHealth?: (scores: HealthTaskScore[], editsDone: number) => void;
}

/** Requests per edit for a method: MEMIT-style methods batch, the others edit one request at a time. */
export function batchSizeFor(method: EditMethod, asked: number | undefined): number {
  return METHOD_IS_BATCHED[method] ? Math.max(1, asked ?? 1) : 1;
}

export const DEFAULT_NOT_TAKEN_BELOW = 0.5;
const RECENT = 5;

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || isCancelled(e);
}

/** Records one applied edit for a set of queue items in one transaction; on failure withdraws the deltas. */
export function recordItems(
  ws: Workspace,
  result: EditResult,
  itemIds: number[],
  unapply: () => void,
  profile: unknown,
): { editId: number; seq: number } {
  try {
    // one transaction: the edit (factors, norms, event) and every queue item of the batch marked done
    return ws.ledger.recordEdit(ws.modelId, result, { queueItemId: itemIds[0], batchItemIds: itemIds.slice(1), profile });
  } catch (e) {
    unapply();
    throw e;
  }
}

/** Case ids of an edit's requests whose reliability stayed below `below`: the edit did not take for them. */
export function notTakenCases(r: { requests: EditRequest[]; metrics: { caseId: string; reliability: number }[] }, below: number): string[] {
  return r.metrics.filter((m) => !(m.reliability >= below)).map((m) => m.caseId);
}

/** Everything one run needs, resolved once at its start. */
interface RunPlan {
  queueId: number;
  method: EditMethod;
  profile: EditProfile;
  batchSize: number;
  healthEvery: number;
  guard: Guardrails;
  needHealth: boolean;
  tasks: ReturnType<typeof pickTasks>;
  healthN: number;
  notTakenBelow: number;
  totalPlanned: number;
}

/** Mutable counters of one run. */
interface RunCounters {
  editMs: number;
  editsTimed: number;
  itemsDone: number;
  editsSinceHealth: number;
  /** performance.now() when the current edit started (for the live ETA) */
  editStarted: number | null;
  /** edit times (ms, key statistics excluded) of this run, in order */
  editTimes: number[];
  /** performance.now() when the current edit's key statistics started, and their ms once over */
  statsStarted: number | null;
  statsMs: number;
}

/**
 * The ms an edit usually takes: the mean of the edits timed so far, leaving out the first once there
 * are others (it builds sessions and context templates once for the run). Key statistics are never
 * in it: they are computed once, not per edit.
 */
export function typicalEditMs(times: number[]): number | null {
  const xs = times.length > 1 ? times.slice(1) : times;
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export class QueueRunner {
  state: QueueRunState = 'idle';
  queueId: number | null = null;
  currentItems: number[] = [];
  doneInRun = 0;
  remaining = 0;
  etaMs: number | null = null;
  pauseReason?: GuardrailTrip[];
  /** options of the last run, for resume */
  lastOptions: RunOptions | null = null;
  private pauseRequested = false;
  /** guardrail rules overridden for the current run */
  private overridden = new Set<keyof Guardrails>();

  constructor(readonly ws: Workspace) {}

  status(): QueueRunStatus {
    return {
      state: this.state,
      queueId: this.queueId,
      currentItems: [...this.currentItems],
      doneInRun: this.doneInRun,
      remaining: this.remaining,
      etaMs: this.etaMs,
      ...(this.pauseReason ? { pauseReason: this.pauseReason } : {}),
    };
  }

  get running(): boolean {
    return this.state === 'running' || this.state === 'pausing';
  }

  /** Ask the running queue to stop after the current edit. */
  pause(): boolean {
    if (!this.running) return false;
    this.pauseRequested = true;
    this.state = 'pausing';
    return true;
  }

  /** Throws (at once) when `queueId` cannot run now: unknown queue, a guardrail pause in force. */
  checkRunnable(queueId: number): void {
    const ws = this.ws;
    if (this.running) throw studioError(`queue ${this.queueId} is already running; pause or cancel it first`, CODES.busy);
    const q = ws.ledger.queues.getQueue(queueId);
    if (!q || q.modelId !== ws.modelId) throw studioError(`no queue ${queueId} for this model`, CODES.notFound);
    if (ws.ledger.guardrailPaused(ws.modelId))
      throw studioError(
        `a guardrail paused a queue of this model; resume it (or resume anyway, or cancel it) in the job list before running another`,
        CODES.busy,
      );
  }

  async run(queueId: number, opts: RunOptions, hooks: RunHooks = {}): Promise<QueueRunResult> {
    this.checkRunnable(queueId);
    this.overridden.clear();
    return this.loop(queueId, opts, hooks);
  }

  /**
   * Resume after a pause (user or guardrail); records resume (and override) events for a guardrail
   * pause. `queueId` defaults to the queue of the last run, else the newest queue with pending items.
   * Without `opts` the run goes on with the settings stored with the queue (its guardrails and health
   * schedule survive a restart), not with defaults.
   */
  async resume(override: boolean, opts: RunOptions | undefined, hooks: RunHooks = {}, queueId?: number | null): Promise<QueueRunResult> {
    const ws = this.ws;
    if (this.running) throw studioError(`queue ${this.queueId} is running`, CODES.busy);
    const qid = queueId ?? this.queueId ?? lastQueueWithPending(ws);
    if (qid === null) throw studioError('nothing to resume: no queue has pending items', CODES.notFound);
    const o = opts ?? storedRunSettings(ws, qid) ?? this.lastOptions ?? {};
    this.overridden = this.recordResume(qid, override, hooks);
    this.pauseReason = undefined;
    return this.loop(qid, o, hooks);
  }

  private recordResume(queueId: number, override: boolean, hooks: RunHooks): Set<keyof Guardrails> {
    const ws = this.ws;
    const overridden = new Set<keyof Guardrails>();
    if (ws.ledger.guardrailPaused(ws.modelId)) {
      const trips = this.pauseReason ?? lastTrips(ws);
      if (override) {
        ws.ledger.recordEvent(ws.modelId, 'override', { queueId, trips, message: `guardrails overridden: ${trips.map((t) => t.message).join('; ')}` });
        for (const t of trips) overridden.add(t.rule);
      }
      const ev = ws.ledger.recordEvent(ws.modelId, 'resume', { queueId, override });
      hooks.emit?.({ type: 'guardrail.resume', queueId, eventId: ev.id, override });
      hooks.log?.('info', override ? `guardrail overridden (${trips.map((t) => t.rule).join(', ')}); resumed` : 'resumed after the guardrail pause');
    } else if (override) {
      ws.ledger.recordEvent(ws.modelId, 'override', { queueId, trips: [], message: 'override requested without an active guardrail pause' });
    }
    return overridden;
  }

  private setState(s: QueueRunState, hooks: RunHooks, message?: string): void {
    this.state = s;
    if (this.queueId !== null) hooks.emit?.({ type: 'queue.state', queueId: this.queueId, state: s, ...(message ? { message } : {}) });
  }

  private itemEvent(hooks: RunHooks, item: QueueItem | undefined): void {
    if (item) hooks.emit?.({ type: 'queue.item', queueId: item.queueId, item });
  }

  private pendingCount(queueId: number): number {
    return this.ws.ledger.queues.queueItems(queueId).filter((i) => i.status === 'pending').length;
  }

  /** Resolves the queue's method, profile, batch size and health plan. */
  private plan(queueId: number, opts: RunOptions, hooks: RunHooks): RunPlan {
    const q = this.ws.ledger.queues.getQueue(queueId)!;
    const method = q.method as EditMethod;
    let profile: EditProfile;
    try {
      profile = resolveProfile(q.profile);
    } catch (e) {
      throw studioError(`queue ${queueId}: its profile is not usable: ${(e as Error).message}`);
    }
    const healthEvery = opts.healthEvery ?? 0;
    const guard = opts.guardrails ?? {};
    const needHealth = healthEvery > 0 || guard.minRetentionPct !== undefined || !!hooks.healthTasks?.length;
    return {
      queueId,
      method,
      profile,
      batchSize: batchSizeFor(method, opts.batchSize),
      healthEvery,
      guard,
      needHealth,
      tasks: hooks.healthTasks ?? (needHealth ? pickTasks(this.ws, opts.healthTaskIds) : []),
      healthN: opts.healthN ?? DEFAULT_HEALTH_N,
      notTakenBelow: opts.notTakenBelow ?? DEFAULT_NOT_TAKEN_BELOW,
      totalPlanned: this.pendingCount(queueId),
    };
  }

  /**
   * The ETA, each part from its own phase: while key statistics run, their own rate (samples per ms
   * of this computation) for what is left of them — before any edit was timed that is all that can
   * be measured, and it is reported rather than nothing; for the edits, the typical edit time
   * (statistics excluded) × edits left, minus what the current edit has run besides its statistics.
   */
  private eta(plan: RunPlan, c: RunCounters, phase: string, count: ProgressCount | undefined): number | null {
    const now = performance.now();
    let stats = 0;
    if (phase === 'statistics' && count) {
      const e = this.statsEta.update('statistics', count, now);
      if (e === null) return null;
      stats = e;
      if (count.done < count.total && c.statsStarted === null) c.statsStarted = now;
    } else if (c.statsStarted !== null && phase !== 'statistics') {
      c.statsMs += now - c.statsStarted;
      c.statsStarted = null;
    }
    const typical = typicalEditMs(c.editTimes);
    if (typical === null) return phase === 'statistics' && count ? stats : null;
    const inStats = c.statsStarted !== null ? now - c.statsStarted : 0;
    const ran = c.editStarted === null ? 0 : Math.max(0, now - c.editStarted - c.statsMs - inStats);
    const left = Math.ceil(this.remaining / plan.batchSize) * typical;
    return stats + Math.max(0, left - Math.min(typical, ran));
  }

  private statsEta = new PhaseEta();

  private report(plan: RunPlan, c: RunCounters, hooks: RunHooks, p: { phase: string; fraction: number; message?: string; itemIds?: number[]; count?: ProgressCount }): void {
    this.etaMs = this.eta(plan, c, p.phase, p.count);
    const done = (hooks.doneBefore ?? 0) + c.itemsDone;
    hooks.progress?.({
      phase: p.phase,
      fraction: p.fraction,
      ...(p.message !== undefined ? { message: p.message } : {}),
      etaMs: this.etaMs,
      ...(p.count ? { count: p.count } : {}),
      done,
      total: (hooks.doneBefore ?? 0) + plan.totalPlanned,
      itemIds: p.itemIds ?? this.currentItems,
    });
  }

  /** A health check on the live model; the trips of the retention guardrail. */
  private async health(plan: RunPlan, c: RunCounters, hooks: RunHooks, signal: AbortSignal, result: QueueRunResult): Promise<GuardrailTrip[]> {
    const r = await runHealthCheck(this.ws, plan.tasks, {
      n: plan.healthN,
      signal,
      onProgress: (f, m) => this.report(plan, c, hooks, { phase: 'health', fraction: f, message: m }),
    });
    result.healthRuns.push(...r.runs);
    hooks.emit?.({ type: 'health.result', runs: r.runs, baseline: r.baseline });
    hooks.onHealth?.(r.scores, c.itemsDone);
    hooks.log?.('info', `health: ${r.scores.map((s) => `${s.taskId} ${s.score.toFixed(3)}${s.retentionPct !== null ? ` (${s.retentionPct.toFixed(1)}%)` : s.notMeasurable ? ' (not measurable)' : ''}`).join(', ')}`);
    c.editsSinceHealth = 0;
    const min = plan.guard.minRetentionPct;
    if (min === undefined || this.overridden.has('minRetentionPct')) return [];
    return r.scores
      .filter((s) => s.retentionPct !== null && s.retentionPct < min)
      .map((s) => ({
        rule: 'minRetentionPct' as const,
        value: s.retentionPct!,
        threshold: min,
        subject: s.taskId,
        message: `health retention of ${s.taskId} is ${s.retentionPct!.toFixed(1)}% of the baseline (${s.score.toFixed(3)} vs ${s.baselineScore?.toFixed(3)}, n ${s.n}), below the ${min}% guardrail`,
      }));
  }

  /** Records a guardrail pause in the ledger and ends the run paused. */
  private pauseFor(plan: RunPlan, trips: GuardrailTrip[], hooks: RunHooks, result: QueueRunResult): QueueRunResult {
    const ws = this.ws;
    const ev = ws.ledger.recordEvent(ws.modelId, 'guardrail_pause', {
      queueId: plan.queueId,
      reason: trips.map((t) => t.message).join('; '),
      trips,
      editsApplied: ws.liveCount(),
      headSeq: ws.headSeq(),
    });
    this.pauseReason = trips;
    hooks.emit?.({ type: 'guardrail.pause', queueId: plan.queueId, eventId: ev.id, trips });
    result.state = 'paused';
    result.guardrail = trips;
    return result;
  }

  /** The next batch of pending items that pass the editor's checks; failing ones are marked invalid. */
  private nextBatch(plan: RunPlan, editor: Editor, hooks: RunHooks, result: QueueRunResult): QueueItem[] {
    const batch: QueueItem[] = [];
    for (const it of this.ws.ledger.queues.queueItems(plan.queueId)) {
      if (it.status !== 'pending') continue;
      if (batch.length >= plan.batchSize) break;
      const problem = it.request ? editor.check(it.request) : 'no request';
      if (problem) {
        this.itemEvent(hooks, this.ws.ledger.queues.markItem(it.id, 'invalid', problem));
        result.failedItems.push(it.id);
        hooks.log?.('warn', `item ${it.id} skipped: ${problem}`);
        continue;
      }
      batch.push(it);
    }
    return batch;
  }

  private editorFor(plan: RunPlan, c: RunCounters, hooks: RunHooks, signal: AbortSignal): Editor {
    return this.ws.editorFor(plan.profile, {
      samples: hooks.statsSamples,
      corpusPath: hooks.statsCorpus,
      importedLabel: hooks.statsLabel,
      signal,
      onProgress: (d, t) => this.report(plan, c, hooks, { phase: 'statistics', fraction: t ? d / t : 1, message: `key statistics ${d}/${t}`, count: { done: d, total: t, unit: 'samples' } }),
    });
  }

  /** Runs one edit; null when it failed (items marked failed) — a cancel rethrows. */
  private async editBatch(plan: RunPlan, c: RunCounters, editor: Editor, batch: QueueItem[], hooks: RunHooks, signal: AbortSignal, result: QueueRunResult): Promise<EditResult | null> {
    const ids = batch.map((b) => b.id);
    this.currentItems = ids;
    for (const id of ids) this.itemEvent(hooks, this.ws.ledger.queues.markItem(id, 'running'));
    c.editStarted = performance.now();
    c.statsStarted = null;
    c.statsMs = 0;
    try {
      return await editor.edit(plan.method, batch.map((b) => b.request as EditRequest), {
        signal,
        onProgress: (p) => this.report(plan, c, hooks, { phase: p.phase, fraction: p.fraction, message: p.message, itemIds: ids, count: p.count }),
      });
    } catch (e) {
      if (isAbort(e, signal)) throw e;
      const msg = (e as Error).message ?? String(e);
      for (const id of ids) {
        this.itemEvent(hooks, this.ws.ledger.queues.markItem(id, 'failed', msg));
        result.failedItems.push(id);
      }
      hooks.log?.('error', `items ${ids.join(', ')} failed: ${msg}`);
      c.itemsDone += ids.length;
      c.editStarted = null;
      this.currentItems = [];
      return null;
    }
  }

  /** Records an applied edit (withdrawn from the live model when recording fails) and reports it. */
  private record(plan: RunPlan, c: RunCounters, editor: Editor, res: EditResult, batch: QueueItem[], hooks: RunHooks, result: QueueRunResult): void {
    const ws = this.ws;
    const ids = batch.map((b) => b.id);
    this.report(plan, c, hooks, { phase: 'record', fraction: 0, itemIds: ids });
    let rec: { editId: number; seq: number };
    try {
      rec = recordItems(ws, res, ids, () => editor.unapply(res.deltas), plan.profile);
    } catch (e) {
      const msg = `the edit could not be recorded (withdrawn from the live model): ${(e as Error).message}`;
      for (const id of ids) {
        try {
          this.itemEvent(hooks, ws.ledger.queues.markItem(id, 'failed', msg));
        } catch {
          /* the database itself failed; the item stays running and is recovered at the next open */
        }
      }
      throw studioError(msg, 'internal');
    }
    // the edit's own time: the key statistics it waited for are a one-off, not part of every edit
    const ms = performance.now() - (c.editStarted ?? performance.now()) - (res.timings.statistics ?? 0);
    c.editMs += ms;
    c.editTimes.push(Math.max(0, ms));
    c.editStarted = null;
    c.editsTimed += 1;
    c.itemsDone += ids.length;
    c.editsSinceHealth += 1;
    this.doneInRun += ids.length;
    result.editIds.push(rec.editId);
    const notTaken = notTakenCases(res, plan.notTakenBelow);
    if (notTaken.length) {
      result.notTaken.push(rec.editId);
      hooks.log?.('warn', `edit #${rec.seq} did not take for ${notTaken.join(', ')}: reliability below ${plan.notTakenBelow}`);
    } else hooks.log?.('info', `edit #${rec.seq} recorded (${res.requests.map((r) => r.caseId).join(', ')})`);
    for (const id of ids) this.itemEvent(hooks, ws.ledger.queues.getItem(id));
    hooks.emit?.({ type: 'edit.recorded', queueId: plan.queueId, editId: rec.editId, seq: rec.seq, itemIds: ids, metrics: res.metrics, notTaken });
    hooks.emit?.({ type: 'ledger.changed', reason: 'edit', liveEdits: ws.liveCount(), headSeq: rec.seq });
    hooks.onEdit?.(res, rec, ids);
    this.remaining = this.pendingCount(plan.queueId);
    this.currentItems = [];
    this.report(plan, c, hooks, { phase: 'record', fraction: 1, itemIds: ids });
  }

  /** Guardrail trips after an edit (L1 growth, recent reliability, did not take). */
  private editTrips(plan: RunPlan, res: EditResult): GuardrailTrip[] {
    const g = plan.guard;
    const trips: GuardrailTrip[] = [];
    if (g.maxL1GrowthPct !== undefined && !this.overridden.has('maxL1GrowthPct'))
      for (const n of res.norms)
        if (n.l1GrowthPct > g.maxL1GrowthPct)
          trips.push({
            rule: 'maxL1GrowthPct',
            value: n.l1GrowthPct,
            threshold: g.maxL1GrowthPct,
            subject: n.tensor,
            message: `L1 growth of ${n.tensor} is ${n.l1GrowthPct.toFixed(3)}%, above the ${g.maxL1GrowthPct}% guardrail`,
          });
    if (g.minRecentReliability !== undefined && !this.overridden.has('minRecentReliability')) {
      const live = this.ws.ledger.history(this.ws.modelId).edits.filter((e) => e.active);
      const recent = live.slice(-RECENT).flatMap((e) => e.metrics.map((m) => m.reliability));
      const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
      if (mean !== null && mean < g.minRecentReliability)
        trips.push({
          rule: 'minRecentReliability',
          value: mean,
          threshold: g.minRecentReliability,
          message: `mean reliability of the last ${Math.min(RECENT, live.length)} edits is ${mean.toFixed(3)}, below the ${g.minRecentReliability} guardrail`,
        });
    }
    if (g.pauseOnNotTaken && !this.overridden.has('pauseOnNotTaken')) {
      const cases = notTakenCases(res, plan.notTakenBelow);
      if (cases.length)
        trips.push({
          rule: 'pauseOnNotTaken',
          value: Math.min(...res.metrics.map((m) => m.reliability)),
          threshold: plan.notTakenBelow,
          subject: cases.join(', '),
          message: `the edit did not take for ${cases.join(', ')} (reliability below ${plan.notTakenBelow})`,
        });
    }
    return trips;
  }

  /** Puts items left running (a cancelled or failed edit) back to pending. */
  private releaseCurrent(hooks: RunHooks): void {
    for (const id of this.currentItems) {
      const it = this.ws.ledger.queues.getItem(id);
      if (it?.status === 'running') this.itemEvent(hooks, this.ws.ledger.queues.markItem(id, 'pending'));
    }
    this.currentItems = [];
  }

  private async loop(queueId: number, opts: RunOptions, hooks: RunHooks): Promise<QueueRunResult> {
    const plan = this.plan(queueId, opts, hooks);
    // the settings go with the queue in the ledger before anything runs: a reload shows them and a
    // Resume after a restart (or a guardrail pause) goes on with them
    this.ws.ledger.queues.setQueueRunSettings(queueId, pickRunSettings(opts as Record<string, unknown>));
    this.queueId = queueId;
    this.lastOptions = opts;
    this.pauseRequested = false;
    this.doneInRun = 0;
    this.etaMs = null;
    this.remaining = plan.totalPlanned;
    const signal = hooks.signal ?? new AbortController().signal;
    const result: QueueRunResult = { queueId, state: 'done', editIds: [], failedItems: [], healthRuns: [], notTaken: [] };
    const c: RunCounters = { editMs: 0, editsTimed: 0, itemsDone: 0, editsSinceHealth: 0, editStarted: null, editTimes: [], statsStarted: null, statsMs: 0 };
    this.statsEta.reset();
    this.setState('running', hooks);
    this.report(plan, c, hooks, { phase: 'start', fraction: 0, message: `${plan.totalPlanned} item(s) pending` });
    try {
      // baseline / current-state health before the first edit
      if (plan.needHealth && plan.tasks.length > 0 && this.remaining > 0 && !hasRunForCurrentState(this.ws, plan.tasks.map((t) => t.id), plan.healthN)) {
        const trips = await this.health(plan, c, hooks, signal, result);
        if (trips.length) return this.pauseFor(plan, trips, hooks, result);
      }
      for (;;) {
        if (this.pauseRequested) {
          result.state = 'paused';
          break;
        }
        if (signal.aborted) {
          result.state = 'cancelled';
          break;
        }
        const editor = this.editorFor(plan, c, hooks, signal);
        const batch = this.nextBatch(plan, editor, hooks, result);
        if (batch.length === 0) break;
        const res = await this.editBatch(plan, c, editor, batch, hooks, signal, result);
        if (!res) {
          this.remaining = this.pendingCount(queueId);
          continue;
        }
        this.record(plan, c, editor, res, batch, hooks, result);
        const trips = this.editTrips(plan, res);
        if (plan.healthEvery > 0 && c.editsSinceHealth >= plan.healthEvery && plan.tasks.length > 0) trips.push(...(await this.health(plan, c, hooks, signal, result)));
        if (trips.length) return this.pauseFor(plan, trips, hooks, result);
      }
      if (result.state === 'done' && hooks.healthAtEnd && plan.tasks.length > 0 && c.editsSinceHealth > 0) await this.health(plan, c, hooks, signal, result);
      return result;
    } catch (e) {
      if (isAbort(e, signal)) {
        result.state = 'cancelled';
        return result;
      }
      throw e;
    } finally {
      this.releaseCurrent(hooks);
      this.remaining = this.pendingCount(queueId);
      this.setState(result.state, hooks, result.guardrail ? result.guardrail.map((t) => t.message).join('; ') : undefined);
      if (result.state === 'done' || result.state === 'cancelled') this.pauseReason = undefined;
    }
  }
}

export function lastQueueWithPending(ws: Workspace): number | null {
  const qs = ws.ledger.queues.queuesForModel(ws.modelId).reverse();
  for (const q of qs) if (ws.ledger.queues.queueItems(q.id).some((i) => i.status === 'pending')) return q.id;
  return null;
}

export function lastTrips(ws: Workspace): GuardrailTrip[] {
  const ev = ws.ledger.events(ws.modelId, 'guardrail_pause').pop();
  return ((ev?.payload.trips as GuardrailTrip[] | undefined) ?? []).slice();
}

export type { HealthRun };

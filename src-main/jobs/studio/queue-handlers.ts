// queue.*: import, create, edit items, reorder, run / pause / resume / cancel, status.
import { parseFacts } from '../../engine/facts';
import type { JobRecord, JobState, QueueResumeParams, QueueRunParams, QueueRunResult } from '../../api/contract';
import type { JobHandle, JobOutcome } from '../manager';
import type { HandlerContext, HandlerRegistry } from '../registry';
import { checked, emit, JOB_STARTERS, requireWorkspace, studio } from './context';
import { lastQueueWithPending, pickRunSettings, storedRunSettings, type RunHooks } from './runner';
import { queueSummaries } from './workspace-handlers';
import { CODES, resolveProfile, studioError, type Workspace } from './workspace';
import { LedgerError } from '../../store';

function ledgerCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof LedgerError) throw studioError(e.message, CODES.badParams);
    throw e;
  }
}

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    'queue.import'(params, ctx) {
      const p = checked('queue.import', params);
      const parsed = parseFacts(p.fileName, p.text, {
        onProgress: (pr) => ctx.progress('import', pr.total ? pr.done / pr.total : 1, `checking ${pr.done}/${pr.total} rows`),
      });
      const ws = studio(ctx).ws;
      const modelErrors: { index: number; caseId: string; message: string }[] = [];
      if (ws) {
        const max = ws.model.cfg.maxPositions - 16;
        parsed.requests.forEach((req, index) => {
          for (const s of [req.prompt.replace('{}', req.subject), ...req.rephrase, ...req.locality.map((l) => l.prompt)]) {
            const n = ws.model.encode(s).length;
            if (n > max) {
              modelErrors.push({ index, caseId: req.caseId, message: `"${s.slice(0, 40)}…" is ${n} tokens; this model takes at most ${max}` });
              break;
            }
          }
        });
      }
      return { format: parsed.format, requests: parsed.requests, errors: parsed.errors, invalidRows: parsed.invalidRows, rowsRead: parsed.rowsRead, modelErrors };
    },

    'queue.create'(params, ctx) {
      const p = checked('queue.create', params);
      const { ws } = requireWorkspace(ctx);
      let profile;
      try {
        profile = resolveProfile(p.profile);
      } catch (e) {
        throw studioError((e as Error).message);
      }
      if (profile.arch !== ws.model.cfg.arch)
        throw studioError(`profile "${profile.name}" is for ${profile.arch} models; this model is ${ws.model.cfg.arch}`);
      const queue = ledgerCall(() => ws.ledger.queues.createQueue(ws.modelId, p.name, p.method, profile, p.requests, p.invalid ?? []));
      return { queue, items: ws.ledger.queues.queueItems(queue.id) };
    },

    'queue.list'(params, ctx) {
      checked('queue.list', params);
      const { ws } = requireWorkspace(ctx);
      return { queues: queueSummaries(ws) };
    },

    'queue.items'(params, ctx) {
      const p = checked('queue.items', params);
      const { ws } = requireWorkspace(ctx);
      const q = ws.ledger.queues.getQueue(p.queueId);
      if (!q || q.modelId !== ws.modelId) throw studioError(`no queue ${p.queueId} for this model`, CODES.notFound);
      return { items: ws.ledger.queues.queueItems(p.queueId) };
    },

    'queue.updateItem'(params, ctx) {
      const p = checked('queue.updateItem', params);
      const { ws, runner } = requireWorkspace(ctx);
      if (runner.currentItems.includes(p.itemId)) throw studioError(`item ${p.itemId} is being edited right now`, CODES.busy);
      let item = ledgerCall(() => ws.ledger.queues.getItem(p.itemId));
      if (!item) throw studioError(`no queue item ${p.itemId}`, CODES.notFound);
      if (p.request) {
        if (ws.model) {
          const problem = ws.model.encode(p.request.prompt.replace('{}', p.request.subject)).length > ws.model.cfg.maxPositions - 16 ? 'the prompt is too long for this model' : null;
          if (problem) throw studioError(`item ${p.itemId}: ${problem}`);
        }
        if (item.status === 'failed' || item.status === 'skipped') ledgerCall(() => ws.ledger.queues.markItem(p.itemId, 'pending'));
        item = ledgerCall(() => ws.ledger.queues.updateItemRequest(p.itemId, p.request!));
      }
      if (p.status) item = ledgerCall(() => ws.ledger.queues.markItem(p.itemId, p.status!, null));
      emit(ctx, { type: 'queue.item', queueId: item.queueId, item });
      return { item };
    },

    'queue.reorder'(params, ctx) {
      const p = checked('queue.reorder', params);
      const { ws } = requireWorkspace(ctx);
      return { items: ledgerCall(() => ws.ledger.queues.reorderItems(p.queueId, p.itemIds)) };
    },

    async 'queue.run'(params, ctx) {
      return startQueueRun(ctx, checked('queue.run', params), null).done;
    },

    async 'queue.resume'(params, ctx) {
      return resumeQueue(ctx, checked('queue.resume', params)).done;
    },

    'queue.pause'(params, ctx) {
      checked('queue.pause', params);
      const j = queueJob(ctx, ['running']);
      return { pausing: j ? studio(ctx).jobs.pause(j.id) : false };
    },

    'queue.cancel'(params, ctx) {
      checked('queue.cancel', params);
      const j = queueJob(ctx, ['running', 'pausing', 'queued', 'paused']);
      return { cancelled: j ? studio(ctx).jobs.cancel(j.id) : false };
    },

    'queue.status'(params, ctx) {
      checked('queue.status', params);
      const r = studio(ctx).runner;
      const s = r ? r.status() : { state: 'idle' as const, queueId: null, currentItems: [], doneInRun: 0, remaining: 0, etaMs: null };
      // a queue job paused before a restart is still paused (the runner itself starts idle)
      const paused = queueJob(ctx, ['paused']);
      if (s.state !== 'running' && s.state !== 'pausing' && paused) return { ...s, state: 'paused' as const, queueId: paused.queueId, ...(paused.pauseReason ? { pauseReason: paused.pauseReason } : {}) };
      return s;
    },
  });
}

JOB_STARTERS.queue = (ctx, params, retryOf) => startQueueRun(ctx, checked('queue.run', params), retryOf);

/** The newest queue job in one of the states. */
function queueJob(ctx: HandlerContext, states: JobState[]): JobRecord | undefined {
  return studio(ctx)
    .jobs.list()
    .filter((j) => j.kind === 'queue' && states.includes(j.state))
    .pop();
}

function runHooks(ctx: HandlerContext, job: JobHandle, doneBefore = 0): RunHooks {
  return {
    emit: (ev) => emit(ctx, ev),
    progress: (p) => job.progress(p),
    log: (level, m) => job.log(level, m),
    signal: job.signal,
    doneBefore,
  };
}

const outcome = (r: QueueRunResult): JobOutcome => ({ state: r.state, ...(r.guardrail ? { pauseReason: r.guardrail } : {}) });

/** queue.run as a job: refused at once (busy, guardrail pause, another queue paused) or started / queued. */
export function startQueueRun(ctx: HandlerContext, p: QueueRunParams, retryOf: number | null): { job: JobRecord; done: Promise<QueueRunResult> } {
  const { ws, runner } = requireWorkspace(ctx);
  const { queueId, whenBusy, ...opts } = p;
  const q = ws.ledger.queues.getQueue(queueId);
  const paused = queueJob(ctx, ['paused']);
  const precheck = () => {
    if (paused && studio(ctx).jobs.get(paused.id)?.state === 'paused')
      throw studioError(`job #${paused.id} "${paused.title}" is paused: resume or cancel it before running a queue`, CODES.busy);
    runner.checkRunnable(queueId);
  };
  const r = studio(ctx).jobs.start<QueueRunResult>({
    kind: 'queue',
    title: `Run queue #${queueId}${q ? ` "${q.name}" (${q.method})` : ''}`,
    params: p,
    queueId,
    retryOf,
    headSeq: ws.headSeq(),
    whenBusy,
    precheck,
    pause: () => runner.pause(),
    outcome,
    run: async (job) => ({ ...(await runner.run(queueId, opts, runHooks(ctx, job))), jobId: job.id }),
  });
  return r;
}

/**
 * queue.resume: continues the paused queue job (after a pause, a guardrail pause, or a restart). When
 * no paused job exists but the ledger still records a guardrail pause (a ledger from before jobs), a
 * paused job is made for it so the pause always has a way out.
 */
export function resumeQueue(ctx: HandlerContext, p: QueueResumeParams): { job: JobRecord; done: Promise<QueueRunResult> } {
  const { ws, runner } = requireWorkspace(ctx);
  const jm = studio(ctx).jobs;
  let job = p.jobId !== undefined ? jm.get(p.jobId) : queueJob(ctx, ['paused']);
  if (p.jobId !== undefined && (!job || job.kind !== 'queue')) throw studioError(`no queue job #${p.jobId}`, CODES.notFound);
  if (!job) {
    const qid = runner.queueId ?? (ws.ledger.guardrailPaused(ws.modelId) ? lastGuardrailQueue(ws) : null) ?? lastQueueWithPending(ws);
    if (qid === null) throw studioError('nothing to resume: no queue is paused and none has pending items', CODES.notFound);
    // no job to resume (a ledger from before jobs): the settings stored with the queue, not defaults
    const settings = p.run ?? storedRunSettings(ws, qid) ?? runner.lastOptions ?? {};
    return startQueueRun(ctx, { queueId: qid, ...settings, ...(p.whenBusy ? { whenBusy: p.whenBusy } : {}) }, null);
  }
  const prev = job.params as QueueRunParams;
  const queueId = job.queueId ?? prev.queueId;
  // settings given with the resume replace the stored ones; otherwise the queue's stored settings (the
  // job's own params for a ledger whose queue has none stored)
  const opts = p.run ?? storedRunSettings(ws, queueId) ?? pickRunSettings(prev as unknown as Record<string, unknown>);
  const doneBefore = job.progress.done ?? 0;
  return jm.resume<QueueRunResult>(job.id, {
    kind: 'queue',
    title: job.title,
    params: prev,
    queueId,
    whenBusy: p.whenBusy,
    precheck: () => {
      if (runner.running) throw studioError(`queue ${runner.queueId} is running`, CODES.busy);
    },
    pause: () => runner.pause(),
    outcome,
    run: async (h) => ({ ...(await runner.resume(!!p.override, opts, runHooks(ctx, h, doneBefore), queueId)), jobId: h.id }),
  });
}

function lastGuardrailQueue(ws: Workspace): number | null {
  const ev = ws.ledger.events(ws.modelId, 'guardrail_pause').pop();
  const q = ev?.payload.queueId;
  return typeof q === 'number' ? q : null;
}

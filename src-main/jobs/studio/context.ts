// Per-worker studio state (the open workspace, its queue runner and the job manager) and small
// handler helpers.
import type { JobKind, JobRecord, StudioEventBody, StudioMethod, StudioParams } from '../../api/contract';
import { validateParams } from '../../api/validate';
import { JobManager } from '../manager';
import type { HandlerContext } from '../registry';
import { QueueRunner } from './runner';
import { CODES, studioError, type Workspace } from './workspace';
import { TransientErrorLog } from '../transient-errors';
import { dataRoot } from '../../engine/paths';

/** Starts a job of one kind from its (validated) params; used by the method handlers and by jobs.retry. */
export type JobStarter = (ctx: HandlerContext, params: unknown, retryOf: number | null) => { job: JobRecord; done: Promise<unknown> };

export interface StudioState {
  ws: Workspace | null;
  runner: QueueRunner | null;
  jobs: JobManager;
}

/** How each job kind is started again (jobs.retry); filled by the handler modules. */
export const JOB_STARTERS: Partial<Record<JobKind, JobStarter>> = {};

const KEY = 'studio';

export function studio(ctx: HandlerContext): StudioState {
  let s = ctx.state.extras.get(KEY) as StudioState | undefined;
  if (!s) {
    const state = ctx.state;
    const st: StudioState = {
      ws: null,
      runner: null,
      jobs: new JobManager({
        broadcast: (ev) => state.broadcast(ev),
        // a failed model open has no ledger to be kept in: the data folder keeps it across restarts
        transientErrors: new TransientErrorLog(dataRoot()),
        // cancelling a queue that a guardrail paused ends the pause in the ledger too, so nothing stays blocked
        onCancelPaused: (rec) => {
          const ws = st.ws;
          if (rec.kind === 'queue' && ws && ws.ledger.guardrailPaused(ws.modelId)) {
            const ev = ws.ledger.recordEvent(ws.modelId, 'resume', { queueId: rec.queueId, jobId: rec.id, cancelled: true, override: false });
            state.broadcast({ type: 'guardrail.resume', queueId: rec.queueId ?? 0, eventId: ev.id, override: false } satisfies StudioEventBody);
          }
        },
      }),
    };
    s = st;
    ctx.state.extras.set(KEY, s);
  }
  return s;
}

export function requireWorkspace(ctx: HandlerContext): { ws: Workspace; runner: QueueRunner } {
  const s = studio(ctx);
  if (!s.ws) throw studioError('no workspace is open (call workspace.open {modelDir} first)', CODES.noWorkspace);
  if (!s.runner) s.runner = new QueueRunner(s.ws);
  return { ws: s.ws, runner: s.runner };
}

/** Refuses at once while a job holds the model, naming that job (code 'busy'). */
export function requireIdle(ctx: HandlerContext, what: string): void {
  studio(ctx).jobs.requireIdle(what);
}

/** Sends a studio event to every client. */
export function emit(ctx: HandlerContext, ev: StudioEventBody): void {
  ctx.state.broadcast(ev);
}

/** Validates params at the worker boundary too (the same checks the IPC layer runs). */
export function checked<M extends StudioMethod>(method: M, params: unknown): StudioParams<M> {
  return validateParams(method, params);
}

/** Refuses a destructive request confirmed against a head that is no longer the ledger's head. */
export function requireHead(ws: Workspace, expect: number | null | undefined, what: string): void {
  if (expect === undefined || expect === null) return;
  const head = ws.headSeq();
  if (head !== expect)
    throw studioError(
      `${what} was refused: the ledger moved since it was asked for (head was #${expect}, now #${head}). Nothing was changed; look at the ledger and ask again.`,
      CODES.conflict,
    );
}

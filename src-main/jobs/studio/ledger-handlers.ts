// ledger.*: history, one edit, and the jobs that change the ledger: revert, remove (drop | replay),
// re-apply (redo of reverted / removed edits), export. Destructive ones carry the head the user
// confirmed against (expectHeadSeq) and the head when asked (a queued one is refused if it moved).
import path from 'node:path';
import type {
  ExportParams,
  ExportResult,
  JobKind,
  LedgerReapplyParams,
  LedgerReapplyResult,
  LedgerRemoveParams,
  LedgerRemoveResult,
  LedgerRevertParams,
  LedgerRevertResult,
  StudioEventBody,
  WhenBusy,
} from '../../api/contract';
import type { HandlerContext, HandlerRegistry } from '../registry';
import { checked, emit, JOB_STARTERS, requireHead, requireWorkspace, studio } from './context';
import { exportWorkspace, reapplyInWorkspace, removeFromWorkspace, revertWorkspace } from './ops';
import { CODES, studioError, type Workspace } from './workspace';

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

type LedgerChange = Extract<StudioEventBody, { type: 'ledger.changed' }>;
type OpHooks = { signal: AbortSignal; onProgress: (phase: string, fraction: number, message?: string) => void };

/** A destructive ledger job: revert, remove (drop | replay), re-apply. */
interface LedgerJob<R extends { liveEdits: number; headSeq: number }> {
  kind: JobKind;
  title: string;
  params: { whenBusy?: WhenBusy; expectHeadSeq?: number | null };
  reason: LedgerChange['reason'];
  /** the ledger operation (ops.ts), with the job's signal and progress */
  work(o: OpHooks): Promise<R> | R;
  /** the job's log lines for its result */
  logLines(r: R): string[];
}

/**
 * Starts (or queues, or refuses) a destructive ledger job. It is confirmed against the head the user
 * saw (expectHeadSeq, else the head now), checked again when a queued job's turn comes; its result is
 * logged and every window gets a ledger.changed event.
 */
function startLedgerJob<R extends { liveEdits: number; headSeq: number }>(ctx: HandlerContext, ws: Workspace, retryOf: number | null, j: LedgerJob<R>) {
  const head = ws.headSeq();
  return studio(ctx).jobs.start<R>({
    kind: j.kind,
    title: j.title,
    params: j.params,
    headSeq: head,
    retryOf,
    whenBusy: j.params.whenBusy,
    precheck: () => requireHead(ws, j.params.expectHeadSeq ?? head, j.title),
    run: async (job) => {
      const r = await j.work({ signal: job.signal, onProgress: (phase, f, m) => job.progress({ phase, fraction: f, ...(m ? { message: m } : {}) }) });
      for (const line of j.logLines(r)) job.log('info', line);
      job.emit({ type: 'ledger.changed', reason: j.reason, liveEdits: r.liveEdits, headSeq: r.headSeq });
      return r;
    },
  });
}

export function startRevert(ctx: HandlerContext, p: LedgerRevertParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const goes = ws.ledger.liveEdits(ws.modelId).filter((e) => e.seq > p.seq).length;
  return startLedgerJob<LedgerRevertResult>(ctx, ws, retryOf, {
    kind: 'revert',
    title: p.seq === 0 ? `Revert to the base model (${plural(goes, 'edit')} go)` : `Revert to #${p.seq} (${plural(goes, 'edit')} go)`,
    params: p,
    reason: 'revert',
    work: () => revertWorkspace(ws, p.seq, p.note),
    logLines: (r) => [`reverted to #${p.seq}: took out ${r.deactivated.length} edit(s) (${r.deactivated.join(', ') || 'none'}); ${r.liveEdits} live`],
  });
}

export function startRemove(ctx: HandlerContext, p: LedgerRemoveParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const e = ws.ledger.editDetail(p.editId);
  if (!e || e.modelId !== ws.modelId) throw studioError(`no edit ${p.editId} for this model`, CODES.notFound);
  const later = ws.ledger.liveEdits(ws.modelId).filter((x) => x.seq > e.seq).length;
  return startLedgerJob<LedgerRemoveResult>(ctx, ws, retryOf, {
    kind: p.mode === 'replay' ? 'replay' : 'remove',
    title:
      p.mode === 'drop'
        ? `Remove edit #${e.seq} (approximate${later ? `; ${plural(later, 'later edit')} stay` : ''})`
        : `Remove edit #${e.seq} and replay ${plural(later, 'later edit')}`,
    params: p,
    reason: p.mode === 'replay' ? 'replay' : 'remove',
    work: (o) => removeFromWorkspace(ws, p.editId, p.mode, { note: p.note, ...o }),
    logLines: (r) => [`removed edit ${p.editId} (${p.mode}): took out ${r.deactivated.join(', ')}${r.replayed.length ? `; replayed as ${r.replayed.join(', ')}` : ''}`],
  });
}

export function startReapply(ctx: HandlerContext, p: LedgerReapplyParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const seqs = p.editIds.map((id) => ws.ledger.editDetail(id)?.seq ?? id);
  return startLedgerJob<LedgerReapplyResult>(ctx, ws, retryOf, {
    kind: 'reapply',
    title: `Re-apply ${plural(p.editIds.length, 'edit')} (${seqs.map((s) => `#${s}`).join(', ')})`,
    params: p,
    reason: 'reapply',
    work: (o) => reapplyInWorkspace(ws, p.editIds, o),
    logLines: (r) => r.reapplied.map((x) => `edit ${x.from} re-applied as edit ${x.editId}`),
  });
}

export function startExport(ctx: HandlerContext, p: ExportParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  // a relative folder would land wherever the app happens to run from
  if (!path.isAbsolute(p.outDir))
    throw studioError(`export folder "${p.outDir}" is relative; give an absolute path (for example ${path.join(ws.workspaceDir, 'export')})`, CODES.badParams);
  return studio(ctx).jobs.start<ExportResult>({
    kind: 'export',
    title: `Export ${plural(ws.liveCount(), 'live edit')} to ${p.outDir}`,
    params: p,
    headSeq: ws.headSeq(),
    retryOf,
    whenBusy: p.whenBusy,
    run: async (job) => {
      const r = await exportWorkspace(ws, p.outDir, {
        overwrite: p.overwrite,
        absolutePaths: p.absolutePaths,
        signal: job.signal,
        onProgress: (f, m) => job.progress({ phase: 'export', fraction: f, ...(m ? { message: m } : {}) }),
      });
      job.log('info', `wrote ${r.files.length} files (${r.bytes} bytes) to ${r.outDir}`);
      if (r.omitted.length) job.log('warn', `left out ${r.omitted.map((f) => `${f.file} (${f.reason})`).join(', ')}`);
      job.emit({ type: 'ledger.changed', reason: 'export', liveEdits: ws.liveCount(), headSeq: ws.headSeq() });
      return r;
    },
  });
}

JOB_STARTERS.revert = (ctx, params, retryOf) => startRevert(ctx, checked('ledger.revert', params), retryOf);
JOB_STARTERS.remove = (ctx, params, retryOf) => startRemove(ctx, checked('ledger.remove', params), retryOf);
JOB_STARTERS.replay = JOB_STARTERS.remove;
JOB_STARTERS.reapply = (ctx, params, retryOf) => startReapply(ctx, checked('ledger.reapply', params), retryOf);
JOB_STARTERS.export = (ctx, params, retryOf) => startExport(ctx, checked('ledger.export', params), retryOf);

export function registerHandlers(r: HandlerRegistry): void {
  r.add({
    'ledger.history'(params, ctx) {
      checked('ledger.history', params);
      const { ws } = requireWorkspace(ctx);
      return ws.ledger.history(ws.modelId);
    },

    'ledger.edit'(params, ctx) {
      const p = checked('ledger.edit', params);
      const { ws } = requireWorkspace(ctx);
      const d = ws.ledger.editDetail(p.editId);
      if (!d || d.modelId !== ws.modelId) throw studioError(`no edit ${p.editId} for this model`, CODES.notFound);
      return d;
    },

    'ledger.revert'(params, ctx) {
      return startRevert(ctx, checked('ledger.revert', params), null).done;
    },

    'ledger.remove'(params, ctx) {
      return startRemove(ctx, checked('ledger.remove', params), null).done;
    },

    'ledger.reapply'(params, ctx) {
      return startReapply(ctx, checked('ledger.reapply', params), null).done;
    },

    'ledger.export'(params, ctx) {
      return startExport(ctx, checked('ledger.export', params), null).done;
    },
  });
  void emit;
}

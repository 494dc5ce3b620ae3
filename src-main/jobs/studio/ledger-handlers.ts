// ledger.*: history, one edit, and the jobs that change the ledger: revert, remove (drop | replay),
// re-apply (redo of reverted / removed edits), export. Destructive ones carry the head the user
// confirmed against (expectHeadSeq) and the head when asked (a queued one is refused if it moved).
import path from 'node:path';
import type { ExportParams, ExportResult, LedgerReapplyParams, LedgerReapplyResult, LedgerRemoveParams, LedgerRemoveResult, LedgerRevertParams, LedgerRevertResult } from '../../api/contract';
import type { HandlerContext, HandlerRegistry } from '../worker';
import { checked, emit, JOB_STARTERS, requireHead, requireWorkspace, studio } from './context';
import { exportWorkspace, reapplyInWorkspace, removeFromWorkspace, revertWorkspace } from './ops';
import { CODES, studioError } from './workspace';

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export function startRevert(ctx: HandlerContext, p: LedgerRevertParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const head = ws.headSeq();
  const goes = ws.ledger.liveEdits(ws.modelId).filter((e) => e.seq > p.seq).length;
  const precheck = () => {
    requireHead(ws, p.expectHeadSeq ?? head, `Revert to #${p.seq}`);
  };
  return studio(ctx).jobs.start<LedgerRevertResult>({
    kind: 'revert',
    title: p.seq === 0 ? `Revert to the base model (${plural(goes, 'edit')} go)` : `Revert to #${p.seq} (${plural(goes, 'edit')} go)`,
    params: p,
    headSeq: head,
    retryOf,
    whenBusy: p.whenBusy,
    precheck,
    run: async (job) => {
      const r = revertWorkspace(ws, p.seq, p.note);
      job.log('info', `reverted to #${p.seq}: took out ${r.deactivated.length} edit(s) (${r.deactivated.join(', ') || 'none'}); ${r.liveEdits} live`);
      job.emit({ type: 'ledger.changed', reason: 'revert', liveEdits: r.liveEdits, headSeq: r.headSeq });
      return r;
    },
  });
}

export function startRemove(ctx: HandlerContext, p: LedgerRemoveParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const head = ws.headSeq();
  const e = ws.ledger.editDetail(p.editId);
  if (!e || e.modelId !== ws.modelId) throw studioError(`no edit ${p.editId} for this model`, CODES.notFound);
  const later = ws.ledger.liveEdits(ws.modelId).filter((x) => x.seq > e.seq).length;
  const title =
    p.mode === 'drop'
      ? `Remove edit #${e.seq} (approximate${later ? `; ${plural(later, 'later edit')} stay` : ''})`
      : `Remove edit #${e.seq} and replay ${plural(later, 'later edit')}`;
  return studio(ctx).jobs.start<LedgerRemoveResult>({
    kind: p.mode === 'replay' ? 'replay' : 'remove',
    title,
    params: p,
    headSeq: head,
    retryOf,
    whenBusy: p.whenBusy,
    precheck: () => requireHead(ws, p.expectHeadSeq ?? head, title),
    run: async (job) => {
      const r = await removeFromWorkspace(ws, p.editId, p.mode, {
        note: p.note,
        signal: job.signal,
        onProgress: (phase, f, m) => job.progress({ phase, fraction: f, ...(m ? { message: m } : {}) }),
      });
      job.log('info', `removed edit ${p.editId} (${p.mode}): took out ${r.deactivated.join(', ')}${r.replayed.length ? `; replayed as ${r.replayed.join(', ')}` : ''}`);
      job.emit({ type: 'ledger.changed', reason: p.mode === 'replay' ? 'replay' : 'remove', liveEdits: r.liveEdits, headSeq: r.headSeq });
      return r;
    },
  });
}

export function startReapply(ctx: HandlerContext, p: LedgerReapplyParams, retryOf: number | null) {
  const { ws } = requireWorkspace(ctx);
  const head = ws.headSeq();
  const seqs = p.editIds.map((id) => ws.ledger.editDetail(id)?.seq ?? id);
  const title = `Re-apply ${plural(p.editIds.length, 'edit')} (${seqs.map((s) => `#${s}`).join(', ')})`;
  return studio(ctx).jobs.start<LedgerReapplyResult>({
    kind: 'reapply',
    title,
    params: p,
    headSeq: head,
    retryOf,
    whenBusy: p.whenBusy,
    precheck: () => requireHead(ws, p.expectHeadSeq ?? head, title),
    run: async (job) => {
      const r = await reapplyInWorkspace(ws, p.editIds, {
        signal: job.signal,
        onProgress: (phase, f, m) => job.progress({ phase, fraction: f, ...(m ? { message: m } : {}) }),
      });
      for (const x of r.reapplied) job.log('info', `edit ${x.from} re-applied as edit ${x.editId}`);
      job.emit({ type: 'ledger.changed', reason: 'reapply', liveEdits: r.liveEdits, headSeq: r.headSeq });
      return r;
    },
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

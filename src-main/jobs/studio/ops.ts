// Ledger operations on a Workspace shared by the worker handlers and the CLI: revert, remove
// (drop | replay), reapply and export. Recording an edit is the queue runner's (runner.ts recordItems).
import type { ExportResult, LedgerReapplyResult, LedgerRemoveResult, LedgerRevertResult } from '../../api/contract';
import { exportCheckpoint, ExportError } from '../../engine/export';
import { LedgerError } from '../../store';
import { CODES, studioError, type Workspace } from './workspace';

/** Ledger failures of the storage and of the ledger's own integrity keep their code (and exit status); see ledgerCall. */
const KEEP_CODES = new Set(['not_writable', 'disk_full', 'permission_denied', 'open_failed', 'factor_corrupt']);

function ledgerCall<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // head_moved: another writer changed the live set since the caller read it; a full disk or a read-only ledger is
    // not a bad request: it keeps its code, so the message and exit status say what to fix
    if (e instanceof LedgerError) throw studioError(e.message, e.code === 'head_moved' ? 'conflict' : KEEP_CODES.has(e.code) ? e.code : CODES.badParams);
    throw e;
  }
}

export function revertWorkspace(ws: Workspace, seq: number, note?: string): LedgerRevertResult {
  const r = ledgerCall(() => ws.ledger.revertTo(ws.modelId, seq, note));
  ws.rebuild();
  return { eventId: r.eventId, deactivated: r.deactivated, liveEdits: ws.liveCount(), headSeq: ws.headSeq() };
}

export async function removeFromWorkspace(
  ws: Workspace,
  editId: number,
  mode: 'drop' | 'replay',
  o: { note?: string; onProgress?: (phase: string, fraction: number, message?: string) => void; signal?: AbortSignal } = {},
): Promise<LedgerRemoveResult> {
  const r = ledgerCall(() => ws.ledger.removeEdit(ws.modelId, editId, mode, o.note));
  ws.rebuild();
  // an interrupted replay is finished at the next open (Ledger.pendingReplays)
  const replayed = mode === 'replay' && r.replay.length > 0 ? await ws.replay(r.replay, { onProgress: o.onProgress, signal: o.signal }) : [];
  return {
    eventId: r.eventId,
    deactivated: r.deactivated,
    mode: r.mode,
    approximate: r.approximate,
    replayed,
    liveEdits: ws.liveCount(),
    headSeq: ws.headSeq(),
  };
}

/**
 * Re-apply (redo) reverted or removed edits: each one's requests are edited again on the current
 * live model with its method and profile, and recorded as a new edit (replayOf = the original), in
 * seq order. The originals stay in the ledger as they are; the audit log shows a 'replay' event per
 * re-applied edit.
 */
export async function reapplyInWorkspace(
  ws: Workspace,
  editIds: number[],
  o: { onProgress?: (phase: string, fraction: number, message?: string) => void; signal?: AbortSignal } = {},
): Promise<LedgerReapplyResult> {
  const list = editIds.map((id) => {
    const d = ws.ledger.editDetail(id);
    if (!d || d.modelId !== ws.modelId) throw studioError(`no edit ${id} for this model`, CODES.notFound);
    if (d.active) throw studioError(`edit ${id} (#${d.seq}) is live; only reverted or removed edits can be re-applied`);
    return d;
  });
  list.sort((a, b) => a.seq - b.seq);
  const newIds = await ws.replay(
    list.map((d) => ({ editId: d.id, seq: d.seq, method: d.method, layers: d.layers, requests: d.requests, profile: d.profile, queueItemId: d.queueItemId })),
    o,
  );
  return { reapplied: list.map((d, i) => ({ from: d.id, editId: newIds[i] })), liveEdits: ws.liveCount(), headSeq: ws.headSeq() };
}

export async function exportWorkspace(
  ws: Workspace,
  outDir: string,
  o: { overwrite?: boolean; absolutePaths?: boolean; onProgress?: (fraction: number, message?: string) => void; signal?: AbortSignal } = {},
): Promise<ExportResult> {
  const live = ws.ledger.liveEdits(ws.modelId);
  const deltas = ws.liveDeltas();
  let s;
  try {
    s = await exportCheckpoint({
      ck: ws.model.ck,
      deltas,
      outDir,
      overwrite: o.overwrite,
      // an overwrite replaces only an export this ledger recorded (its id and files, below), never a hand-made manifest
      knownExport: (id) => ws.ledger.findExport(id),
      absolutePaths: o.absolutePaths,
      // the export may never replace the folder holding the ledger and its lock (nor the ledger: see provenance)
      protect: [{ path: ws.workspaceDir, what: 'the workspace folder' }],
      signal: o.signal,
      onProgress: (d, t, m) => o.onProgress?.(t ? d / t : 1, m),
      provenance: {
        baseHashes: ws.fileHashes,
        ledger: ws.dbFile,
        edits: live.map((e) => ({
          id: e.id,
          seq: e.seq,
          method: e.method,
          layers: e.layers,
          caseIds: e.requests.map((r) => r.caseId),
          approximate: e.approximate,
        })),
        extra: { approximate: ws.ledger.liveApproximate(ws.modelId), requests: live.map((e) => ({ id: e.id, requests: e.requests })) },
      },
    });
  } catch (e) {
    if (e instanceof ExportError) throw studioError(e.message, e.code === 'exists' ? CODES.exists : e.code);
    throw e;
  }
  ws.ledger.recordEvent(ws.modelId, 'export', {
    outDir: s.outDir,
    exportId: s.exportId,
    written: s.written,
    editIds: live.map((e) => e.id),
    editedTensors: s.editedTensors,
    bytes: s.bytes,
    omitted: s.omitted.map((f) => f.file),
  });
  return { outDir: s.outDir, exportId: s.exportId, files: s.files, omitted: s.omitted, editedTensors: s.editedTensors, editIds: live.map((e) => e.id), bytes: s.bytes, ms: s.ms };
}

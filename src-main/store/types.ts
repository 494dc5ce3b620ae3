// Records the ledger returns. All ids are SQLite rowids; times are ISO-8601 UTC strings.
import type { EditMethod, EditPhase, NormSnapshot, RequestMetrics } from '../engine/edit/types';
import type { EditRequest } from '../engine/facts/types';

export interface ModelInfo {
  /** folder of the checkpoint */
  path: string;
  arch: string;
  /** the parsed config.json (or the app's normalised config) */
  config: unknown;
  /** sha256 (hex) per weight file, keyed by file name */
  fileHashes: Record<string, string>;
}

export interface ModelRecord extends ModelInfo {
  id: number;
  importedAt: string;
}

export type QueueItemStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'invalid';
export const QUEUE_ITEM_STATUSES: readonly QueueItemStatus[] = ['pending', 'running', 'done', 'failed', 'skipped', 'invalid'];

export interface InvalidRow {
  request?: EditRequest;
  /** 1-based row in the source file (RowError.row) */
  row: number;
  message: string;
}

export interface QueueRecord {
  id: number;
  modelId: number;
  name: string;
  method: EditMethod;
  profile: unknown;
  /** the settings of the queue's latest run (unvalidated JSON; null before its first run) */
  runSettings: unknown;
  createdAt: string;
}

export interface QueueItem {
  id: number;
  queueId: number;
  position: number;
  /** null only for an invalid row that could not be parsed into a request */
  request: EditRequest | null;
  status: QueueItemStatus;
  error: string | null;
  sourceRow: number | null;
  editId: number | null;
  updatedAt: string;
}

export type EventKind = 'edit' | 'revert' | 'remove' | 'replay' | 'health' | 'guardrail_pause' | 'resume' | 'override' | 'export';
/** Kinds that change the live set; only the Ledger's own methods write them. */
export const STATE_EVENT_KINDS: readonly EventKind[] = ['edit', 'revert', 'remove', 'replay'];
/** Kinds recordEvent() accepts. */
export type FreeEventKind = Exclude<EventKind, 'edit' | 'revert' | 'remove' | 'replay'>;

export interface LedgerEvent {
  id: number;
  modelId: number;
  kind: EventKind;
  editId: number | null;
  payload: Record<string, unknown>;
  createdAt: string;
  /** edits this event activated */
  activated: number[];
  /** edits this event deactivated */
  deactivated: number[];
}

export interface EditSummary {
  id: number;
  modelId: number;
  seq: number;
  method: EditMethod;
  layers: number[];
  requests: EditRequest[];
  metrics: RequestMetrics[];
  preMetrics: RequestMetrics[];
  timings: Partial<Record<EditPhase, number>>;
  createdAt: string;
  queueItemId: number | null;
  replayOf: number | null;
  approximate: boolean;
  /** live now */
  active: boolean;
  /** the event that took it out of the live set, when not active */
  deactivatedBy: number | null;
}

export interface FactorShape {
  ord: number;
  layer: number;
  tensor: string;
  rank: number;
  /** d (hidden size): Ut is [rank, dOut] */
  dOut: number;
  /** d_ff: Vt is [rank, dIn] */
  dIn: number;
}

export interface StoredFactors extends FactorShape {
  Ut: Float32Array;
  Vt: Float32Array;
}

export interface EditDetail extends EditSummary {
  profile: unknown;
  details: Record<string, unknown>;
  statsKeys: Record<number, string>;
  norms: NormSnapshot[];
  factors: FactorShape[];
}

export interface LiveEdit {
  id: number;
  seq: number;
  method: EditMethod;
  layers: number[];
  requests: EditRequest[];
  replayOf: number | null;
  approximate: boolean;
  /** in EditResult.deltas order */
  factors: StoredFactors[];
}

export interface RecordEditOptions {
  queueItemId?: number;
  /** the other queue items of a MEMIT batch: marked done with the same edit, in the same transaction */
  batchItemIds?: number[];
  /** id of the (deactivated) edit this one re-applies */
  replayOf?: number;
  approximate?: boolean;
  /** hyper-parameter profile used; defaults to the queue's profile when queueItemId is given, else {} */
  profile?: unknown;
  /**
   * Ledger.head(modelId) read before the edit was computed. The write is refused (LedgerError 'head_moved') when the
   * head has moved since. Omitted: the current head is recorded without a check (single-writer callers only).
   */
  expectedHead?: number;
}

export interface ReplayRequest {
  /** the deactivated edit to re-apply: pass it as replayOf */
  editId: number;
  seq: number;
  method: EditMethod;
  layers: number[];
  requests: EditRequest[];
  profile: unknown;
  queueItemId: number | null;
}

export interface RevertResult {
  eventId: number;
  deactivated: number[];
}

export interface RemoveResult extends RevertResult {
  mode: 'drop' | 'replay';
  /** drop with later live edits: the live set is no longer exactly reproducible by re-running the edits */
  approximate: boolean;
  /** mode 'replay': the later edits to re-apply, in seq order */
  replay: ReplayRequest[];
}

export interface NormPoint extends Omit<NormSnapshot, 'layer' | 'tensor'> {
  editId: number;
  seq: number;
  active: boolean;
}

export interface NormSeries {
  layer: number;
  tensor: string;
  /** in seq order */
  points: NormPoint[];
}

export interface HealthInput {
  taskId: string;
  metric: string;
  score: number;
  n: number;
  baselineScore?: number | null;
  retentionPct?: number | null;
  /** default: the newest live edit's seq (0 = base) */
  afterEditSeq?: number;
  /** default: the number of live edits */
  editsApplied?: number;
  details?: Record<string, unknown>;
}

/** One task's score beside its baseline's: what a health run records and what a health check reports. */
export interface TaskScore {
  taskId: string;
  metric: string;
  score: number;
  n: number;
  /** the baseline this score is compared with: same task, same example count, same sample seed */
  baselineScore: number | null;
  /** null when there is no matching baseline or the task is not measurable on this model */
  retentionPct: number | null;
}

export interface HealthRun extends TaskScore {
  id: number;
  modelId: number;
  afterEditSeq: number;
  editsApplied: number;
  details: Record<string, unknown>;
  createdAt: string;
}

export interface History {
  /** every edit ever recorded for the model, in seq order */
  edits: EditSummary[];
  /** every event, in order */
  events: LedgerEvent[];
}

// THE typed API between the renderer and the main side (Electron IPC, headless HTTP/WS, CLI, tests).
//
// - `StudioMethods`: every call the renderer can make, method name -> { params; result }.
// - `StudioEvent`: every event the renderer can receive (progress with phase/fraction/ETA, queue item
//   status changes, queue state, guardrail pauses, health results, ledger changes).
// - `validateParams(method, params)`: hand-written input validation for every call (use it on every
//   IPC / WebSocket message before handing it to the engine).
//
// Renderer-safe: only `import type` from the rest of src-main (and engine/errors.ts, the one error type, which is
// plain TypeScript), no Node built-ins.
//
// Transport model. The engine worker implements every method of StudioMethods under the same name
// (src-main/jobs/studio registers them; EngineMethods is augmented with StudioMethods), so the glue is:
//
//     const p = validateParams(method, params);                    // throws ContractError
//     const r = await engine.call(method, p, (pe) => send(toStudioEvent(call.id, method, pe)));
//
// A call's own progress travels as the engine protocol's ProgressEvent; events every window must see
// (jobs, queue items, ledger changes, guardrails) travel as the protocol's broadcast message.
//
// Concurrency. Every method is answered at once. Long work is a job owned by the engine (JobRecord,
// persisted in the ledger database): the call that starts it resolves when it ends, but the job does
// not belong to that call — reload or close the window and it goes on; any window pauses or cancels
// it (jobs.pause / jobs.cancel). While a model-changing job runs, another one is refused at once with
// a message naming the running job (code 'busy') unless the caller asks to wait (whenBusy: 'queue').
import { EacError, type EacErrorOptions, type ErrorCode } from '../engine/errors';
import type { EditMethod, EditProfile, NormSnapshot, RequestMetrics } from '../engine/edit';
import type { EditRequest, FactFormat, InvalidRowData, RowError } from '../engine/facts/types';
import type { DeviceName, ModelInfo, ProgressEvent, TopKEntry } from '../jobs/protocol';
import type {
  EditDetail,
  EditSummary,
  HealthRun,
  History,
  InvalidRow,
  LedgerEvent,
  NormSeries,
  QueueItem,
  QueueItemStatus,
  QueueRecord,
} from '../store/types';

export type {
  DeviceName,
  EditDetail,
  EditMethod,
  EditProfile,
  EditRequest,
  EditSummary,
  FactFormat,
  HealthRun,
  History,
  InvalidRow,
  LedgerEvent,
  ModelInfo,
  NormSeries,
  NormSnapshot,
  QueueItem,
  QueueItemStatus,
  QueueRecord,
  RequestMetrics,
  RowError,
  InvalidRowData,
  TopKEntry,
};

export const EDIT_METHOD_NAMES = ['rome', 'memit', 'eac-rome', 'eac-memit', 'alphaedit', 'eac-alphaedit', 'ft', 'ft-en'] as const satisfies readonly EditMethod[];
export const DEVICE_NAMES = ['cpu', 'webgpu', 'cuda'] as const satisfies readonly DeviceName[];

/**
 * The method the queue's method picker recommends for long queues, and why in one line — from the
 * README's issue-18 table (sequential edits on both fixtures); change both together.
 */
export const LONG_QUEUE_METHOD: { method: (typeof EDIT_METHOD_NAMES)[number]; why: string } = {
  method: 'eac-alphaedit',
  why: 'of the methods that kept the model healthy (retention ≥ 0.89) over 100 sequential edits on both fixtures, it still holds the most facts (final reliability 0.81 / 0.63 vs MEMIT 0.73 / 0.58)',
};

/** ----- workspace ----- */

export interface WorkspaceOpenParams {
  /** HF folder (config.json + safetensors + tokenizer); may be read-only */
  modelDir: string;
  /** ledger file; default `<workspaceDir>/ledger.sqlite` */
  dbFile?: string;
  /**
   * where the app keeps its data for this model; default
   * `$EAC_DATA_DIR/<sha256(abs modelDir)[:16]>` with EAC_DATA_DIR defaulting to ~/.local/share/eac-studio
   */
  workspaceDir?: string;
  device?: DeviceName;
  whenBusy?: WhenBusy;
}

export interface WorkspaceInfo {
  model: ModelInfo;
  /** the ledger's model id */
  modelId: number;
  dbFile: string;
  workspaceDir: string;
  /** sha256 per weight file, as recorded at import */
  fileHashes: Record<string, string>;
  /** edits in the live set, and the newest live edit's seq (0 = base) */
  liveEdits: number;
  headSeq: number;
  /** the live set contains an approximate removal (drop mode) */
  approximate: boolean;
  /** an unresolved guardrail pause exists */
  guardrailPaused: boolean;
  queues: QueueSummary[];
  /** queue items found 'running' at open (a previous run was interrupted) and reset to pending */
  recoveredItems: number[];
  /** problems found by the ledger's integrity check (empty = fine) */
  integrity: string[];
  /** replays left over from an interrupted `ledger.remove {mode:'replay'}` (replayed at open) */
  replayed: number[];
}

export interface DeviceAvailability {
  name: DeviceName;
  available: boolean;
  /** why not, when not */
  reason?: string;
}

/** ----- key statistics ----- */

export interface StatsComputeParams {
  /** default: every layer the current profile edits (rome.layer ∪ memit.layers) */
  layers?: number[];
  corpusPath?: string;
  samples?: number;
  /** profile whose layers / sample count are the defaults (a bundled name; the API takes no file paths); default the model's bundled profile */
  profile?: string;
  whenBusy?: WhenBusy;
}

export interface StatsEntry {
  key: string;
  layer: number;
  dim: number;
  origin: 'computed' | 'npz';
  /** content hash of the model the statistics belong to */
  model: string;
  corpus: { path: string; sha256: string };
  samples: number | string;
  created: string;
  /** true when it belongs to the open model */
  current: boolean;
}

/** ----- fact queues ----- */

export interface QueueImportParams {
  fileName: string;
  text: string;
}

export interface QueueImportResult {
  format: FactFormat;
  requests: EditRequest[];
  /** per-row parse/validation errors ("Row N: ...") */
  errors: RowError[];
  /** what each row with an error had (lenient fields and its text), so it opens prefilled in the editor */
  invalidRows?: InvalidRowData[];
  rowsRead: number;
  /** per-request problems against the open model (token limits, missing "{}"), index into requests */
  modelErrors: { index: number; caseId: string; message: string }[];
}

export interface QueueCreateParams {
  name: string;
  method: EditMethod;
  /** bundled profile name or a full profile object (the API takes no file paths) */
  profile: string | EditProfile;
  requests: EditRequest[];
  /** rows that failed validation, kept as 'invalid' items so the user sees them */
  invalid?: InvalidRow[];
}

export interface QueueSummary {
  queue: QueueRecord;
  counts: Record<QueueItemStatus, number>;
}

export interface QueueUpdateItemParams {
  itemId: number;
  /** a corrected request (re-validated; an invalid/failed item becomes pending) */
  request?: EditRequest;
  /** skip an item or put a skipped/failed one back */
  status?: 'pending' | 'skipped';
}

export interface Guardrails {
  /** pause when any task's retention vs the baseline drops below this (%) */
  minRetentionPct?: number;
  /** pause when the L1 growth of any edited matrix exceeds this (%) */
  maxL1GrowthPct?: number;
  /** pause when the mean reliability of the last 5 edits drops below this (0..1) */
  minRecentReliability?: number;
  /** pause when an edit did not take (its reliability is below the run's notTakenBelow) */
  pauseOnNotTaken?: boolean;
}

export interface QueueRunParams {
  queueId: number;
  /** requests per edit for memit / eac-memit / alphaedit / eac-alphaedit (default 1); ROME-style methods always 1 */
  batchSize?: number;
  /** health check every K edits (0 / absent = only the baseline when guardrails need health) */
  healthEvery?: number;
  guardrails?: Guardrails;
  /** tasks for the health checks (default: every task that fits the model, see health.tasks) */
  healthTaskIds?: string[];
  /** examples per task in the health checks (default 20) */
  healthN?: number;
  /** an edit whose reliability is below this "did not take" and is flagged (default 0.5) */
  notTakenBelow?: number;
  /** another job holds the model: refuse at once (default) or wait in the job list */
  whenBusy?: WhenBusy;
}

export type QueueRunState = 'running' | 'pausing' | 'paused' | 'cancelled' | 'done' | 'idle';

export interface GuardrailTrip {
  rule: keyof Guardrails;
  /** human-readable: names the rule, the value and the threshold */
  message: string;
  value: number;
  threshold: number;
  /** task id (retention), tensor name (L1 growth) */
  subject?: string;
}

export interface QueueRunResult {
  queueId: number;
  state: 'done' | 'paused' | 'cancelled';
  /** edits recorded by this call, in order */
  editIds: number[];
  /** items that ended 'failed' / 'invalid' in this call */
  failedItems: number[];
  /** set when a guardrail paused the queue */
  guardrail?: GuardrailTrip[];
  /** health runs recorded by this call */
  healthRuns: HealthRun[];
  /** edits whose reliability stayed below notTakenBelow (they are live, but the fact did not take) */
  notTaken: number[];
  /** the job that ran it */
  jobId?: number;
}

export interface QueueRunStatus {
  state: QueueRunState;
  queueId: number | null;
  /** the item(s) being edited */
  currentItems: number[];
  doneInRun: number;
  remaining: number;
  /** mean edit time so far × remaining, ms; null before the first edit */
  etaMs: number | null;
  pauseReason?: GuardrailTrip[];
}

export interface QueueResumeParams {
  /** the paused queue job (default: the paused queue job of this workspace) */
  jobId?: number;
  /** resume although a guardrail still trips (recorded as an 'override' event) */
  override?: boolean;
  /** the run options for the rest of the queue; default: those of the paused run */
  run?: Omit<QueueRunParams, 'queueId' | 'whenBusy'>;
  whenBusy?: WhenBusy;
}

/** ----- jobs ----- */

/**
 * Work the engine runs for the user. A job belongs to the engine (and is persisted in the workspace's
 * ledger database), not to the window that asked: every window receives the current jobs
 * (`jobs.list`) and every change after it (`job` events), and can pause or cancel them.
 */
export type JobKind = 'queue' | 'health' | 'statistics' | 'revert' | 'remove' | 'replay' | 'reapply' | 'export' | 'open';
export type JobState = 'queued' | 'running' | 'pausing' | 'paused' | 'done' | 'failed' | 'cancelled' | 'interrupted';
export const JOB_KINDS = ['queue', 'health', 'statistics', 'revert', 'remove', 'replay', 'reapply', 'export', 'open'] as const satisfies readonly JobKind[];
export const JOB_STATES = ['queued', 'running', 'pausing', 'paused', 'done', 'failed', 'cancelled', 'interrupted'] as const satisfies readonly JobState[];
/** States a job does not leave by itself (paused and interrupted wait for the user). */
export const JOB_ENDED: readonly JobState[] = ['done', 'failed', 'cancelled'];

/** What a window should do when it asks for work while another job holds the model. */
export type WhenBusy = 'refuse' | 'queue';

export interface JobProgress {
  /** load, hash, statistics, keys, optimise, anchors, retrain, update, metrics, record, health, export, replay */
  phase?: string;
  /** 0..1 within the phase */
  fraction?: number;
  message?: string;
  /** queue runs: edits done in this job (all its runs, resumes included) / planned */
  done?: number;
  total?: number;
  /** estimated ms left when `at` was written; the UI counts down from at + etaMs */
  etaMs?: number | null;
  /** Date.now() when the progress was written */
  at?: number;
  itemIds?: number[];
}

export interface JobRecord {
  id: number;
  kind: JobKind;
  /** human-readable: "Run queue #3 \"world-a\"", "Revert to #4 (2 edits go)" */
  title: string;
  params: unknown;
  state: JobState;
  progress: JobProgress;
  /** ledger head when it was asked for (destructive jobs are refused when it moved) */
  headSeq: number | null;
  queueId: number | null;
  retryOf: number | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  result: unknown;
  error: { message: string; code?: string } | null;
  /** whether the job changes the model / ledger (exclusive) */
  exclusive: boolean;
  /** a guardrail paused it (queue jobs) */
  pauseReason?: GuardrailTrip[];
}

export interface JobLogLine {
  line: number;
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

/** One entry of the error history (jobs.errors): an error line of a job's persisted log. */
export interface JobErrorEntry {
  jobId: number;
  kind: JobKind;
  /** the job's title */
  title: string;
  at: string;
  /** log line number; null for a failed job whose error line was not stored */
  line: number | null;
  message: string;
  /** the line is the job's failure (message and code are the job's error) */
  failure: boolean;
  code?: string;
}

/** ----- ledger ----- */

export interface LedgerRevertResult {
  eventId: number;
  deactivated: number[];
  liveEdits: number;
  headSeq: number;
}

export interface LedgerRevertParams {
  seq: number;
  note?: string;
  /** the head the user confirmed against: refused when the ledger moved since */
  expectHeadSeq?: number;
  whenBusy?: WhenBusy;
}

export interface LedgerRemoveParams {
  editId: number;
  mode: 'drop' | 'replay';
  note?: string;
  expectHeadSeq?: number;
  whenBusy?: WhenBusy;
}

export interface LedgerReapplyParams {
  /** reverted or removed edits to apply again (re-run on the current model, recorded as new edits) */
  editIds: number[];
  note?: string;
  expectHeadSeq?: number;
  whenBusy?: WhenBusy;
}

export interface LedgerReapplyResult {
  /** original edit -> the new edit that re-applies it */
  reapplied: { from: number; editId: number }[];
  liveEdits: number;
  headSeq: number;
}

export interface LedgerRemoveResult extends LedgerRevertResult {
  mode: 'drop' | 'replay';
  approximate: boolean;
  /** mode 'replay': the new edits recorded for the re-applied requests */
  replayed: number[];
}

export interface ExportParams {
  /** an absolute path (a relative one is refused: it would land in the app's working folder) */
  outDir: string;
  /** replace an existing outDir (default false: refuse) */
  overwrite?: boolean;
  /** write the model folder's and the ledger's absolute paths into edits.json (default: their names only) */
  absolutePaths?: boolean;
  whenBusy?: WhenBusy;
}

export interface ExportResult {
  outDir: string;
  files: { name: string; bytes: number }[];
  /**
   * what of the model folder was not copied, and why: weights in another format (pytorch_model.bin, tf_model.h5,
   * *.gguf, ...: they hold the unedited model) and sub-folders (name ending in "/"); also in edits.json and README.md
   */
  omitted: { file: string; reason: string }[];
  /** tensors materialised as W0 + ΔW */
  editedTensors: string[];
  editIds: number[];
  bytes: number;
  ms: number;
}

/** ----- health ----- */

export interface HealthTaskSummary {
  id: string;
  name: string;
  kind: string;
  metric: string;
  examples: number;
  maxNewTokens: number;
  source: string;
  license: string;
  /** file it was loaded from */
  file: string;
}

export interface HealthRunParams {
  taskIds?: string[];
  /** examples per task (default 20) */
  n?: number;
  /** extra task files (JSON) to load */
  taskFiles?: string[];
  whenBusy?: WhenBusy;
}

export interface HealthTaskScore {
  taskId: string;
  metric: string;
  score: number;
  n: number;
  /** the baseline this score is compared with: same task, same example count, same sample seed */
  baselineScore: number | null;
  /** null when there is no matching baseline or the task is not measurable on this model */
  retentionPct: number | null;
  /** examples and sample seed of the run (the baseline key with taskId) */
  seed: number;
  /** the base model scores 0 on this task: retention means nothing ("not measurable on this model") */
  notMeasurable: boolean;
  /** a few example outputs */
  samples: { prompt: string; output: string; extracted: string; gold: string[]; score: number }[];
}

export interface HealthRunResult {
  runs: HealthRun[];
  scores: HealthTaskScore[];
  /** true when this run became the baseline (no baseline existed for the base state) */
  baseline: boolean;
}

/** A health run as the chart shows it: keyed by (task, n, seed), retention only against a matching baseline. */
export interface HealthChartRun extends HealthRun {
  /** sample seed of the run (with taskId and n, the baseline key) */
  seed: number;
  /** the run is a baseline for its (task, n, seed) */
  baseline: boolean;
  /** the matching baseline scores 0: retention means nothing */
  notMeasurable: boolean;
}

export interface HealthChart {
  /** in id order; baselineScore / retentionPct are those of the matching (task, n, seed) baseline, null without one */
  runs: HealthChartRun[];
  /** guardrail_pause / resume / override events, for annotations */
  events: LedgerEvent[];
}

/** ----- playground ----- */

export interface PlaygroundParams {
  prompt: string;
  k: number;
  maxNewTokens: number;
}

export interface PlaygroundSide {
  top: TopKEntry[];
  continuation: string;
  newIds: number[];
}

export interface PlaygroundResult {
  prompt: string;
  ids: number[];
  base: PlaygroundSide;
  edited: PlaygroundSide;
  liveEdits: number;
}

/** ----- profiles ----- */

export interface ProfileSummary {
  name: string;
  arch: 'gpt2' | 'llama';
  description?: string;
}

type Empty = Record<string, never>;

/** Every call the renderer can make. */
export interface StudioMethods {
  'workspace.open': { params: WorkspaceOpenParams; result: WorkspaceInfo };
  'workspace.info': { params: Empty; result: WorkspaceInfo | null };
  'workspace.close': { params: Empty; result: { closed: boolean } };
  'devices.list': { params: Empty; result: { devices: DeviceAvailability[]; current: DeviceName | null } };
  'stats.compute': { params: StatsComputeParams; result: { entries: StatsEntry[] } };
  'stats.list': { params: Empty; result: { entries: StatsEntry[] } };
  'queue.import': { params: QueueImportParams; result: QueueImportResult };
  'queue.create': { params: QueueCreateParams; result: { queue: QueueRecord; items: QueueItem[] } };
  'queue.list': { params: Empty; result: { queues: QueueSummary[] } };
  'queue.items': { params: { queueId: number }; result: { items: QueueItem[] } };
  'queue.updateItem': { params: QueueUpdateItemParams; result: { item: QueueItem } };
  'queue.reorder': { params: { queueId: number; itemIds: number[] }; result: { items: QueueItem[] } };
  'queue.run': { params: QueueRunParams; result: QueueRunResult };
  'queue.pause': { params: Empty; result: { pausing: boolean } };
  'queue.resume': { params: QueueResumeParams; result: QueueRunResult };
  'queue.cancel': { params: Empty; result: { cancelled: boolean } };
  'queue.status': { params: Empty; result: QueueRunStatus };
  'ledger.history': { params: Empty; result: History };
  'ledger.edit': { params: { editId: number }; result: EditDetail };
  'ledger.revert': { params: LedgerRevertParams; result: LedgerRevertResult };
  'ledger.remove': { params: LedgerRemoveParams; result: LedgerRemoveResult };
  'ledger.reapply': { params: LedgerReapplyParams; result: LedgerReapplyResult };
  'ledger.export': { params: ExportParams; result: ExportResult };
  'health.tasks': { params: Empty; result: { tasks: HealthTaskSummary[] } };
  'health.run': { params: HealthRunParams; result: HealthRunResult };
  'charts.norms': { params: { liveOnly?: boolean }; result: { series: NormSeries[] } };
  'charts.health': { params: { taskId?: string }; result: HealthChart };
  'playground.compare': { params: PlaygroundParams; result: PlaygroundResult };
  'profiles.list': { params: Empty; result: { profiles: ProfileSummary[] } };
  'profiles.get': { params: { name: string }; result: EditProfile };
  'jobs.list': { params: { limit?: number }; result: { jobs: JobRecord[] } };
  'jobs.log': { params: { jobId: number }; result: { job: JobRecord; lines: JobLogLine[] } };
  /** the error history of the open workspace, newest first (persisted: survives reloads and restarts) */
  'jobs.errors': { params: { limit?: number }; result: { errors: JobErrorEntry[] } };
  'jobs.cancel': { params: { jobId: number }; result: { cancelled: boolean; job: JobRecord } };
  'jobs.pause': { params: { jobId: number }; result: { pausing: boolean; job: JobRecord } };
  'jobs.retry': { params: { jobId: number; whenBusy?: WhenBusy }; result: JobRecord };
}

export type StudioMethod = keyof StudioMethods & string;
export type StudioParams<M extends StudioMethod> = StudioMethods[M]['params'];
export type StudioResult<M extends StudioMethod> = StudioMethods[M]['result'];

export const STUDIO_METHODS = [
  'workspace.open',
  'workspace.info',
  'workspace.close',
  'devices.list',
  'stats.compute',
  'stats.list',
  'queue.import',
  'queue.create',
  'queue.list',
  'queue.items',
  'queue.updateItem',
  'queue.reorder',
  'queue.run',
  'queue.pause',
  'queue.resume',
  'queue.cancel',
  'queue.status',
  'ledger.history',
  'ledger.edit',
  'ledger.revert',
  'ledger.remove',
  'ledger.reapply',
  'ledger.export',
  'health.tasks',
  'health.run',
  'charts.norms',
  'charts.health',
  'playground.compare',
  'profiles.list',
  'profiles.get',
  'jobs.list',
  'jobs.log',
  'jobs.errors',
  'jobs.cancel',
  'jobs.pause',
  'jobs.retry',
] as const satisfies readonly StudioMethod[];

// compile-time check that STUDIO_METHODS lists every method
type _Missing = Exclude<StudioMethod, (typeof STUDIO_METHODS)[number]>;
const _allListed: _Missing extends never ? true : never = true;
void _allListed;

/**
 * Every studio method is answered at once: the engine never lines calls up behind a running job.
 * Work that takes time is a job (see JOB_METHODS); while a job that changes the model runs, another
 * one is refused at once with a message naming the running job (code 'busy'), or, when the caller
 * passes whenBusy: 'queue', waits visibly in the job list with its own Cancel. Reads stay live.
 */
export const IMMEDIATE_METHODS: readonly StudioMethod[] = STUDIO_METHODS;

/** Methods that start a job (their call resolves when the job ends; the job goes on without the caller). */
export const JOB_METHODS: Partial<Record<StudioMethod, JobKind>> = {
  'workspace.open': 'open',
  'stats.compute': 'statistics',
  'queue.run': 'queue',
  'queue.resume': 'queue',
  'ledger.revert': 'revert',
  'ledger.remove': 'remove',
  'ledger.reapply': 'reapply',
  'ledger.export': 'export',
  'health.run': 'health',
};

export function isStudioMethod(name: unknown): name is StudioMethod {
  return typeof name === 'string' && (STUDIO_METHODS as readonly string[]).includes(name);
}

/** ----- events ----- */

export type StudioEvent =
  | {
      type: 'progress';
      /** the call that produced it */
      requestId: number;
      method: string;
      /** load, hash, statistics, keys, optimise, anchors, retrain, update, metrics, record, health, export, replay, generate */
      phase: string;
      /** 0..1 within the phase */
      fraction: number;
      message?: string;
      /** queue runs: estimated ms left for the whole run (mean edit time × remaining); null when unknown */
      etaMs?: number | null;
      /** queue runs: edits done in this run / planned */
      done?: number;
      total?: number;
      /** queue runs: the item(s) being edited */
      itemIds?: number[];
    }
  | { type: 'queue.item'; queueId: number; item: QueueItem }
  | { type: 'queue.state'; queueId: number; state: QueueRunState; message?: string }
  | {
      type: 'edit.recorded';
      queueId: number | null;
      editId: number;
      seq: number;
      itemIds: number[];
      metrics: RequestMetrics[];
      /** case ids whose reliability stayed below the run's notTakenBelow: the edit did not take */
      notTaken: string[];
    }
  | { type: 'guardrail.pause'; queueId: number; eventId: number; trips: GuardrailTrip[] }
  | { type: 'guardrail.resume'; queueId: number; eventId: number; override: boolean }
  | { type: 'health.result'; runs: HealthRun[]; baseline: boolean }
  | { type: 'ledger.changed'; reason: 'edit' | 'revert' | 'remove' | 'replay' | 'reapply' | 'health' | 'export' | 'open'; liveEdits: number; headSeq: number }
  /** a job was created or changed (state, progress, result); sent to every window */
  | { type: 'job'; job: JobRecord }
  | { type: 'job.log'; jobId: number; line: JobLogLine };

/** The event without the fields the transport fills in (requestId, method of progress events). */
export type StudioEventBody = StudioEvent extends infer E ? (E extends { type: 'progress' } ? Omit<E, 'requestId' | 'method'> : E) : never;

/**
 * Turns an engine ProgressEvent of call `requestId` (method `method`) into a StudioEvent. Only the
 * caller's own progress travels this way; everything every window must see (jobs, queue items,
 * ledger changes) is a broadcast message of the worker protocol (EngineBroadcast in
 * jobs/protocol.ts) carrying a StudioEventBody.
 */
export function toStudioEvent(requestId: number, method: string, pe: Pick<ProgressEvent, 'phase' | 'fraction' | 'message'>): StudioEvent {
  return { type: 'progress', requestId, method, phase: pe.phase, fraction: pe.fraction, ...(pe.message !== undefined ? { message: pe.message } : {}) };
}

/** true for the body of a broadcast message that is a StudioEvent (anything else is ignored by hosts). */
export function isStudioEventBody(body: unknown): body is StudioEventBody {
  return !!body && typeof body === 'object' && typeof (body as { type?: unknown }).type === 'string';
}

/** ----- errors ----- */

/** Error codes the studio handlers use on top of the engine's (ENGINE_ERROR_CODES). */
export const STUDIO_ERROR_CODES = {
  badParams: 'bad_params',
  noWorkspace: 'no_workspace',
  hashMismatch: 'hash_mismatch',
  busy: 'busy',
  notFound: 'not_found',
  cancelled: 'cancelled',
  exists: 'exists',
  /** the ledger moved (its head changed) between asking for a destructive action and running it */
  conflict: 'conflict',
} as const satisfies Record<string, ErrorCode>;

export class ContractError extends EacError {
  constructor(code: typeof STUDIO_ERROR_CODES.badParams, message: string, opts?: EacErrorOptions) {
    super(code, message, opts);
    this.name = 'ContractError';
  }
}

/** ----- validation ----- */

type Obj = Record<string, unknown>;

function fail(method: string, msg: string): never {
  throw new ContractError('bad_params', `${method}: ${msg}`);
}

const show = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
};

class Check {
  constructor(
    readonly method: string,
    readonly p: Obj,
  ) {}
  private has(k: string) {
    return this.p[k] !== undefined;
  }
  only(keys: string[]): this {
    for (const k of Object.keys(this.p)) if (!keys.includes(k)) fail(this.method, `unknown parameter "${k}" (allowed: ${keys.join(', ') || 'none'})`);
    return this;
  }
  str(k: string, opt = false, max = 4096): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a string)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'string') fail(this.method, `"${k}" must be a string, got ${show(v)}`);
    if (v.length === 0) fail(this.method, `"${k}" must not be empty`);
    if (v.length > max) fail(this.method, `"${k}" is too long (${v.length} characters, at most ${max})`);
    if (v.includes('\0')) fail(this.method, `"${k}" contains a NUL character`);
    return this;
  }
  int(k: string, opt: boolean, min: number, max = Number.MAX_SAFE_INTEGER): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (an integer)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(this.method, `"${k}" must be an integer, got ${show(v)}`);
    if (v < min || v > max) fail(this.method, `"${k}" must be between ${min} and ${max}, got ${v}`);
    return this;
  }
  num(k: string, opt: boolean, min: number, max: number): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a number)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(this.method, `"${k}" must be a finite number, got ${show(v)}`);
    if (v < min || v > max) fail(this.method, `"${k}" must be between ${min} and ${max}, got ${v}`);
    return this;
  }
  bool(k: string): this {
    if (this.has(k) && typeof this.p[k] !== 'boolean') fail(this.method, `"${k}" must be true or false, got ${show(this.p[k])}`);
    return this;
  }
  oneOf(k: string, values: readonly string[], opt = false): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (one of ${values.join(', ')})`);
      return this;
    }
    if (!values.includes(this.p[k] as string)) fail(this.method, `"${k}" must be one of ${values.join(', ')}, got ${show(this.p[k])}`);
    return this;
  }
  intList(k: string, opt: boolean, min: number, maxLen = 100000): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a list of integers)`);
      return this;
    }
    const v = this.p[k];
    if (!Array.isArray(v)) fail(this.method, `"${k}" must be a list of integers, got ${show(v)}`);
    if (v.length > maxLen) fail(this.method, `"${k}" has ${v.length} entries, at most ${maxLen}`);
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) fail(this.method, `"${k}[${i}]" must be an integer ≥ ${min}, got ${show(x)}`);
    });
    if (new Set(v).size !== v.length) fail(this.method, `"${k}" lists the same value twice`);
    return this;
  }
  strList(k: string, opt: boolean, maxLen = 1000): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a list of strings)`);
      return this;
    }
    const v = this.p[k];
    if (!Array.isArray(v)) fail(this.method, `"${k}" must be a list of strings, got ${show(v)}`);
    if (v.length > maxLen) fail(this.method, `"${k}" has ${v.length} entries, at most ${maxLen}`);
    v.forEach((x, i) => {
      if (typeof x !== 'string' || x.length === 0) fail(this.method, `"${k}[${i}]" must be a non-empty string, got ${show(x)}`);
    });
    return this;
  }
}

function checkRequest(method: string, where: string, r: unknown): void {
  if (!r || typeof r !== 'object' || Array.isArray(r)) fail(method, `${where} must be an edit request object, got ${show(r)}`);
  const o = r as Obj;
  for (const k of ['caseId', 'prompt', 'subject', 'targetNew'] as const)
    if (typeof o[k] !== 'string' || (k !== 'caseId' && (o[k] as string).length === 0)) fail(method, `${where}.${k} must be a non-empty string, got ${show(o[k])}`);
  if (!(o.prompt as string).includes('{}')) fail(method, `${where}.prompt must contain "{}" where the subject goes, got ${show(o.prompt)}`);
  if (o.groundTruth !== undefined && typeof o.groundTruth !== 'string') fail(method, `${where}.groundTruth must be a string`);
  if (!Array.isArray(o.rephrase) || o.rephrase.some((x) => typeof x !== 'string')) fail(method, `${where}.rephrase must be a list of strings`);
  if (!Array.isArray(o.locality) || o.locality.some((x) => !x || typeof (x as Obj).prompt !== 'string' || typeof (x as Obj).target !== 'string'))
    fail(method, `${where}.locality must be a list of {prompt, target} strings`);
  // size: a request is a few prompts; bound it so one call cannot carry megabytes per request
  const lists = [o.rephrase as string[], o.locality as Obj[]];
  if (lists.some((l) => l.length > MAX_REQUEST_ITEMS)) fail(method, `${where} has more than ${MAX_REQUEST_ITEMS} rephrase or locality items`);
  let chars = 0;
  for (const k of ['caseId', 'prompt', 'subject', 'targetNew', 'groundTruth'] as const) chars += typeof o[k] === 'string' ? (o[k] as string).length : 0;
  for (const x of o.rephrase as string[]) chars += x.length;
  for (const x of o.locality as Obj[]) chars += (x.prompt as string).length + (x.target as string).length;
  if (chars > MAX_REQUEST_CHARS) fail(method, `${where} is too large (${chars} characters in its strings, at most ${MAX_REQUEST_CHARS})`);
}

/** Per-call size limits (every call's params arrive over IPC or the WebSocket from the UI). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_REQUEST_CHARS = 100_000;
const MAX_REQUEST_ITEMS = 1000;
const MAX_REQUESTS = 100_000;

/**
 * Bundled profile names only: a plain name (no path separator, no leading dot, no .json). Over the
 * API a profile is a bundled name or a profile object, never a file path (the engine resolves such
 * a name inside resources/profiles only; engine/edit/profile.ts PROFILE_NAME_RE is the same rule).
 */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
function checkProfileName(method: string, key: string, v: unknown): void {
  if (typeof v !== 'string' || !PROFILE_NAME.test(v) || /\.json$/i.test(v))
    fail(method, `"${key}" must be the name of a bundled profile (see profiles.list) or a profile object, not a file path`);
}

function checkGuardrails(method: string, g: unknown): void {
  if (g === undefined) return;
  if (!g || typeof g !== 'object' || Array.isArray(g)) fail(method, `"guardrails" must be an object, got ${show(g)}`);
  new Check(method, g as Obj)
    .only(['minRetentionPct', 'maxL1GrowthPct', 'minRecentReliability', 'pauseOnNotTaken'])
    .num('minRetentionPct', true, 0, 1000)
    .num('maxL1GrowthPct', true, 0, 1e6)
    .num('minRecentReliability', true, 0, 1)
    .bool('pauseOnNotTaken');
}

function checkRunOptions(method: string, c: Check, p: Obj): void {
  c.int('batchSize', true, 1, 10000).int('healthEvery', true, 0, 1e6).strList('healthTaskIds', true).int('healthN', true, 1, 100000).num('notTakenBelow', true, 0, 1);
  checkGuardrails(method, p.guardrails);
}

/** characters of one imported file (queue.import); larger files go through `eac edit --facts` */
const MAX_TEXT = MAX_MESSAGE_BYTES;
const WHEN_BUSY: readonly WhenBusy[] = ['refuse', 'queue'];

/**
 * Validates one call's params (unknown input from IPC / WebSocket) and returns them typed. Throws a
 * ContractError (code 'bad_params') whose message names the method and the offending field.
 * `params` may be undefined for calls without parameters.
 */
export function validateParams<M extends StudioMethod>(method: M, params: unknown): StudioParams<M>;
export function validateParams(method: string, params: unknown): unknown;
export function validateParams(method: string, params: unknown): unknown {
  if (!isStudioMethod(method)) fail(String(method), `unknown method (known: ${STUDIO_METHODS.join(', ')})`);
  if (params === undefined || params === null) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) fail(method, `params must be an object, got ${show(params)}`);
  const p = params as Obj;
  const c = new Check(method, p);
  switch (method) {
    case 'workspace.open':
      c.only(['modelDir', 'dbFile', 'workspaceDir', 'device', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).str('modelDir').str('dbFile', true).str('workspaceDir', true).oneOf('device', DEVICE_NAMES, true);
      break;
    case 'workspace.info':
    case 'workspace.close':
    case 'devices.list':
    case 'stats.list':
    case 'queue.list':
    case 'queue.pause':
    case 'queue.cancel':
    case 'queue.status':
    case 'ledger.history':
    case 'health.tasks':
    case 'profiles.list':
      c.only([]);
      break;
    case 'stats.compute':
      c.only(['layers', 'corpusPath', 'samples', 'profile', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).intList('layers', true, 0, 1000).str('corpusPath', true).int('samples', true, 1, 10_000_000).str('profile', true);
      if (p.profile !== undefined) checkProfileName(method, 'profile', p.profile);
      break;
    case 'queue.import':
      c.only(['fileName', 'text']).str('fileName', false, 1024);
      if (typeof p.text !== 'string') fail(method, `"text" must be the file's text (a string), got ${show(p.text)}`);
      if (p.text.length > MAX_TEXT)
        fail(method, `"text" is too large (${p.text.length} characters, at most ${MAX_TEXT} per call); split the file or import it with \`eac edit --facts\``);
      break;
    case 'queue.create': {
      c.only(['name', 'method', 'profile', 'requests', 'invalid']).str('name', false, 200).oneOf('method', EDIT_METHOD_NAMES);
      if (typeof p.profile === 'string') checkProfileName(method, 'profile', p.profile);
      else if (!p.profile || typeof p.profile !== 'object' || Array.isArray(p.profile))
        fail(method, `"profile" must be a bundled profile name or a profile object, got ${show(p.profile)}`);
      if (!Array.isArray(p.requests)) fail(method, `"requests" must be a list of edit requests, got ${show(p.requests)}`);
      if (p.requests.length > MAX_REQUESTS) fail(method, `"requests" has ${p.requests.length} entries, at most ${MAX_REQUESTS}`);
      if (p.requests.length === 0 && !(Array.isArray(p.invalid) && p.invalid.length > 0)) fail(method, `"requests" is empty: nothing to queue`);
      p.requests.forEach((r, i) => checkRequest(method, `requests[${i}]`, r));
      if (p.invalid !== undefined) {
        if (!Array.isArray(p.invalid)) fail(method, `"invalid" must be a list of {row, message}`);
        p.invalid.forEach((x, i) => {
          const o = x as Obj;
          if (!o || typeof o !== 'object' || !Number.isSafeInteger(o.row) || typeof o.message !== 'string')
            fail(method, `"invalid[${i}]" must be {row: integer, message: string, request?}`);
        });
      }
      break;
    }
    case 'queue.items':
      c.only(['queueId']).int('queueId', false, 1);
      break;
    case 'queue.updateItem':
      c.only(['itemId', 'request', 'status']).int('itemId', false, 1).oneOf('status', ['pending', 'skipped'], true);
      if (p.request === undefined && p.status === undefined) fail(method, `give "request" (a corrected edit request) or "status"`);
      if (p.request !== undefined) checkRequest(method, 'request', p.request);
      break;
    case 'queue.reorder':
      c.only(['queueId', 'itemIds']).int('queueId', false, 1).intList('itemIds', false, 1);
      break;
    case 'queue.run':
      c.only(['queueId', 'batchSize', 'healthEvery', 'guardrails', 'healthTaskIds', 'healthN', 'notTakenBelow', 'whenBusy']).int('queueId', false, 1).oneOf('whenBusy', WHEN_BUSY, true);
      checkRunOptions(method, c, p);
      break;
    case 'queue.resume':
      c.only(['jobId', 'override', 'run', 'whenBusy']).int('jobId', true, 1).bool('override').oneOf('whenBusy', WHEN_BUSY, true);
      if (p.run !== undefined) {
        if (!p.run || typeof p.run !== 'object' || Array.isArray(p.run)) fail(method, `"run" must be an object of run options`);
        const r = p.run as Obj;
        const rc = new Check(method, r).only(['batchSize', 'healthEvery', 'guardrails', 'healthTaskIds', 'healthN', 'notTakenBelow']);
        checkRunOptions(method, rc, r);
      }
      break;
    case 'ledger.edit':
      c.only(['editId']).int('editId', false, 1);
      break;
    case 'ledger.revert':
      c.only(['seq', 'note', 'expectHeadSeq', 'whenBusy']).int('seq', false, 0).str('note', true, 2000).int('expectHeadSeq', true, 0).oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'ledger.remove':
      c.only(['editId', 'mode', 'note', 'expectHeadSeq', 'whenBusy'])
        .int('editId', false, 1)
        .oneOf('mode', ['drop', 'replay'])
        .str('note', true, 2000)
        .int('expectHeadSeq', true, 0)
        .oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'ledger.reapply':
      c.only(['editIds', 'note', 'expectHeadSeq', 'whenBusy']).intList('editIds', false, 1, 10000).str('note', true, 2000).int('expectHeadSeq', true, 0).oneOf('whenBusy', WHEN_BUSY, true);
      if ((p.editIds as number[]).length === 0) fail(method, '"editIds" is empty: nothing to re-apply');
      break;
    case 'ledger.export':
      c.only(['outDir', 'overwrite', 'absolutePaths', 'whenBusy']).str('outDir').bool('overwrite').bool('absolutePaths').oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'jobs.list':
    case 'jobs.errors':
      c.only(['limit']).int('limit', true, 1, 10000);
      break;
    case 'jobs.log':
    case 'jobs.cancel':
    case 'jobs.pause':
      c.only(['jobId']).int('jobId', false, 1);
      break;
    case 'jobs.retry':
      c.only(['jobId', 'whenBusy']).int('jobId', false, 1).oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'health.run':
      c.only(['taskIds', 'n', 'taskFiles', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).strList('taskIds', true).int('n', true, 1, 100000).strList('taskFiles', true, 100);
      // task files over the API: .json / .jsonl inside the open model folder or workspace (checked by the handler)
      (p.taskFiles as string[] | undefined)?.forEach((f, i) => {
        if (!/\.jsonl?$/i.test(f) || f.length > 4096 || f.includes('\0')) fail(method, `"taskFiles[${i}]" must be a .json or .jsonl task file path`);
      });
      break;
    case 'charts.norms':
      c.only(['liveOnly']).bool('liveOnly');
      break;
    case 'charts.health':
      c.only(['taskId']).str('taskId', true);
      break;
    case 'playground.compare':
      c.only(['prompt', 'k', 'maxNewTokens']).str('prompt', false, 100_000).int('k', false, 1, 1000).int('maxNewTokens', false, 0, 2048);
      break;
    case 'profiles.get':
      c.only(['name']).str('name', false, 128);
      checkProfileName(method, 'name', p.name);
      break;
    default: {
      const never: never = method;
      fail(String(never), 'no validator');
    }
  }
  return p;
}

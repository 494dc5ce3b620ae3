// THE typed API between the renderer and the main side (Electron IPC, headless HTTP/WS, CLI, tests): types only.
//
// - `StudioMethods`: every call the renderer can make, method name -> { params; result }.
// - `StudioEvent`: every event the renderer can receive (progress with phase/fraction/ETA, queue item
//   status changes, queue state, guardrail pauses, health results, ledger changes).
//
// The runtime parts sit beside it, each in a file named for what it holds: methods.ts (the method lists),
// jobs.ts (job numbering and names), events.ts (the event codec), errors.ts (the studio's error codes and
// ContractError), validate.ts (`validateParams(method, params)`: input validation for every call; use it on
// every IPC / WebSocket message before handing it to the engine), model.ts (what an open model is).
//
// Renderer-safe: only `import type` here, and the siblings import only plain TypeScript (engine/errors.ts, the
// one error type; engine/devices.ts and engine/edit/types.ts, the lists; engine/facts/validate.ts, the request
// checks), no Node built-ins.
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
import type { EditMethod, EditProfile, NormSnapshot, RequestMetrics } from '../engine/edit';
import type { EditRequest, FactFormat, InvalidRowData, RowError } from '../engine/facts/types';
import type { DeviceName } from '../engine/devices';
import type { ArchName } from '../engine/architectures';
import type { ModelInfo, TopKEntry } from './model';
import type { ProgressCount } from '../engine/progress';
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
  TaskScore,
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

/**
 * What the open model holds on its GPU now (README "How memory is used on a GPU"): sessions are built
 * lazily, so the weights go up with the first session that needs them.
 */
export interface DeviceHolding {
  /** the provider the model's sessions run on (after any fallback) */
  device: DeviceName;
  /** weights resident on the device, and their bytes there */
  tensors: number;
  bytes: number;
  /** bytes all of the model's weights take on that device */
  modelBytes: number;
  /** file dtype -> device dtype of what was converted while uploading, e.g. { bfloat16: 'float16' } */
  conversions: Record<string, string>;
  uploadSeconds: number;
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
  /**
   * the settings of the queue's latest run, read back from the ledger and validated (null: none yet,
   * or the stored ones are not valid: then settingsProblem says why)
   */
  settings: QueueRunSettings | null;
  settingsProblem?: string;
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

/**
 * What a queue runs with besides its method and profile (stored with the queue): stored in the ledger
 * when a run starts, shown by the UI after a reload and used by Resume, so a guardrail pause keeps its
 * guardrails across a restart.
 */
export type QueueRunSettings = Omit<QueueRunParams, 'queueId' | 'whenBusy'>;

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
  /** how far the current phase is in its own unit (statistics samples, v* steps, ...), when it counts */
  count?: ProgressCount;
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
  /** the random id in the folder's edits.json and in the ledger's export event: what a later overwrite checks */
  exportId: string;
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

export interface HealthTaskScore extends TaskScore {
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
  arch: ArchName;
  description?: string;
}

type Empty = Record<string, never>;

/** Every call the renderer can make. */
export interface StudioMethods {
  'workspace.open': { params: WorkspaceOpenParams; result: WorkspaceInfo };
  'workspace.info': { params: Empty; result: WorkspaceInfo | null };
  'workspace.close': { params: Empty; result: { closed: boolean } };
  'devices.list': { params: Empty; result: { devices: DeviceAvailability[]; current: DeviceName | null; holding: DeviceHolding | null } };
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

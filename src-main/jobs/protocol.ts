// The message protocol between the engine worker and whoever drives it (UI main process, headless
// server, CLI, tests). Plain data only (structured-clone and JSON safe), so the same shapes can
// travel over Electron IPC or a WebSocket later.
//
// Adding a method: add an entry to EngineMethods (here, or by module augmentation from the file
// that implements it:
//   declare module '../protocol' { interface EngineMethods { edit: { params: EditParams; result: EditResult } } }
// ) and register a handler for it (see HandlerRegistry in ./registry).
import { EacError, eacErrorClass, type ErrorCode } from '../engine/errors';
import type { DeviceName } from '../engine/devices';
import type { ProgressCount } from '../engine/progress';
import type { ModelInfo, TopKEntry } from '../api/model';

/** the one device list's type (engine/devices.ts) */
export type { DeviceName };
// what a model is and what generation returns: shared with the API contract, so they live in api/ (a floor below)
export type { DeviceInfo, ModelInfo, TensorSummary, TopKEntry } from '../api/model';

/** ----- wire messages ----- */

export interface RequestMessage<M extends MethodName = MethodName> {
  id: number;
  method: M;
  params: ParamsOf<M>;
}

export interface ErrorInfo {
  message: string;
  /** stable machine-readable tag: an ERROR_CODES code (engine/errors.ts); a foreign error's own code passes as is */
  code?: string;
  /** the EacError's structured detail, unchanged */
  detail?: Record<string, unknown>;
}

export type ResponseMessage<M extends MethodName = MethodName> =
  | { id: number; ok: true; result: ResultOf<M> }
  | { id: number; ok: false; error: ErrorInfo };

export interface ProgressEvent {
  id: number;
  event: 'progress';
  /** e.g. load, generate, statistics, kstar, vstar, anchors, retraining, update, metrics, health */
  phase: string;
  /** 0..1 within the phase */
  fraction: number;
  message?: string;
  /** how far the phase is in its own unit (tokens generated, sessions built, ...), when it counts */
  count?: ProgressCount;
}

/** Sent once by the worker when its handlers are registered and it accepts requests. */
export interface ReadyMessage {
  event: 'ready';
  methods: string[];
}

/**
 * An event for every client of the engine, not tied to a request: job created / changed, job log
 * lines, queue items, ledger changes (the studio's StudioEventBody). Hosts forward it to every
 * window; EngineClient.onBroadcast subscribes.
 */
export interface EngineBroadcast {
  event: 'broadcast';
  body: unknown;
}

export type WorkerToHost = ResponseMessage | ProgressEvent | ReadyMessage | EngineBroadcast;
export type HostToWorker = RequestMessage;

/** ----- method payloads ----- */

export interface GenerateParams {
  prompts: string[];
  maxNewTokens: number;
  /** stop a row at the model's EOS token (HF default); default true */
  stopAtEos?: boolean;
}

export interface GenerateRow {
  /** prompt ids followed by the generated ids */
  ids: number[];
  newIds: number[];
  /** decoded new tokens (special tokens skipped) */
  text: string;
}

/**
 * Method name -> params/result. An interface, so other modules can extend it by declaration
 * merging.
 */
export interface PlacementInfo {
  device: DeviceName;
  /** nodes that ran, per onnxruntime provider name */
  byProvider: Record<string, number>;
  /** op types run on the CPU, with counts (shape arithmetic is placed there on purpose) */
  cpuOps: Record<string, number>;
  /** CPU nodes reading a weight directly (each would copy it from the device every run) */
  cpuWeightNodes: string[];
  /** the model's weights resident on the device: tensors and bytes (null on the CPU) */
  resident: { tensors: number; bytes: number; modelBytes: number } | null;
}

export interface EngineMethods {
  /** Load a HF folder and make it the resident model (replacing any previous one). */
  openModel: {
    /** maxMemory: resident-memory budget in bytes (default $EAC_MAX_MEMORY or 85 % of RAM) */
    params: { dir: string; device?: DeviceName; maxMemory?: number };
    result: ModelInfo;
  };
  /** Greedy decoding on the resident model (live edits applied), batched with left padding. */
  generate: { params: GenerateParams; result: GenerateRow[] };
  /** Last-position logits of one prompt. */
  logits: { params: { prompt: string }; result: { ids: number[]; lastLogits: number[] } };
  /** Top-k next tokens; edited=false runs the untouched checkpoint (default true: live edits). */
  topk: {
    params: { prompt: string; k: number; edited?: boolean };
    result: { ids: number[]; top: TopKEntry[] };
  };
  /**
   * Where the decoding graph's nodes really run on the model's device and what the device holds
   * (runtime/placement.ts): a profiled run of one token.
   */
  placement: { params: Record<string, never>; result: PlacementInfo };
  /** Abort a running or queued request. */
  cancel: { params: { id: number }; result: { cancelled: boolean } };
  /** Release the resident model's sessions; the worker then exits. */
  close: { params: Record<string, never>; result: { closed: true } };
}

export type MethodName = keyof EngineMethods & string;
export type ParamsOf<M extends MethodName> = EngineMethods[M] extends { params: infer P } ? P : never;
export type ResultOf<M extends MethodName> = EngineMethods[M] extends { result: infer R } ? R : never;

/** Methods that run immediately instead of waiting in the worker's FIFO queue. */
export const CONTROL_METHODS: readonly string[] = ['cancel', 'close'];

/** Codes the engine itself uses (CheckpointError codes pass through unchanged). */
export const ENGINE_ERROR_CODES = {
  cancelled: 'cancelled',
  noModel: 'no_model',
  badParams: 'bad_params',
  /** the folder loaded as a checkpoint but something else (tokenizer, graph) failed */
  badModel: 'bad_model',
  unknownMethod: 'unknown_method',
  workerCrashed: 'worker_crashed',
  closed: 'closed',
  internal: 'internal',
} as const satisfies Record<string, ErrorCode>;

/** Error carrying a machine-readable code across the worker boundary. */
export class EngineError extends eacErrorClass('EngineError') {}

/**
 * An error that came over the wire, rebuilt with its code, message and detail unchanged (a code outside ERROR_CODES,
 * e.g. a Node 'ENOENT', is kept as is: the table maps it to exit 1).
 */
export function fromWire(info: ErrorInfo): EngineError {
  return new EngineError((info.code ?? 'internal') as ErrorCode, info.message, info.detail ? { detail: info.detail } : undefined);
}

export function isProgressEvent(m: WorkerToHost): m is ProgressEvent {
  return (m as ProgressEvent).event === 'progress';
}

export function isBroadcast(m: WorkerToHost): m is EngineBroadcast {
  return (m as EngineBroadcast).event === 'broadcast';
}

export function isReadyMessage(m: WorkerToHost): m is ReadyMessage {
  return (m as ReadyMessage).event === 'ready';
}

// The one error type of EAC Studio (issue 11, STYLE.md "one error type with codes, one cancellation shape").
//
// Every error the engine, the store, the jobs layer and the CLI throw on purpose is an EacError (or one of its
// subclasses, kept for `instanceof` and for readable stack traces) built as `new XError(code, message, opts)`.
// `code` is a stable machine-readable tag from ERROR_CODES below; `message` is written for a person; `detail`
// carries structured facts (a pivot, a schema version, a task file's issues) and travels over the worker / host
// wire unchanged (toWire / fromWire).
//
// ERROR_CODES is the only place that says what a code means and whether it is the user's input that was wrong
// (`input`: CLI exit 2) or running it that failed (`failure`: CLI exit 1). The CLI's exit codes (cli/main.ts) and
// the README's exit-code table come from it.

/** `input`: the request, a file or a folder the user gave was wrong (CLI exit 2). `failure`: running it failed (exit 1). */
export type ErrorGroup = 'input' | 'failure';

interface CodeInfo {
  group: ErrorGroup;
  /** one line for the README table */
  doc: string;
}

const input = (doc: string): CodeInfo => ({ group: 'input', doc });
const failure = (doc: string): CodeInfo => ({ group: 'failure', doc });

/**
 * Every error code in use, grouped by who raises it. Codes keep the spelling they shipped with (the statistics
 * reader's codes are kebab-case) because stored job records and scripts match on them.
 */
export const ERROR_CODES = {
  // ----- requests, CLI, studio (jobs/protocol ENGINE_ERROR_CODES, api/errors STUDIO_ERROR_CODES) -----
  usage: input('bad command line (unknown option, missing or malformed value)'),
  bad_params: input('a request or option value is invalid'),
  no_model: input('no model is open (call openModel first)'),
  bad_model: input('the folder loaded as a checkpoint but something else (tokenizer, graph) failed'),
  no_workspace: input('no workspace is open'),
  not_found: input('a file, edit, job or record does not exist'),
  exists: input('the target already exists (and overwrite was not asked for)'),
  hash_mismatch: input('a file does not have the hash it was recorded with'),
  too_large: input('a request message is larger than the server accepts'),
  forbidden: input('the call came from a sender the app does not trust'),
  unknown_method: failure('the engine or host has no such method'),
  busy: failure('another job holds what this one needs'),
  conflict: failure('the ledger moved between asking for a destructive action and running it'),
  cancelled: failure('the operation was cancelled (its AbortSignal fired or cancel was called)'),
  closed: failure('the engine or app is closing or was restarted'),
  worker_crashed: failure('the engine process or worker died'),
  internal: failure('an unexpected engine failure'),
  not_built: failure('the web renderer is not built (run `npm run build`)'),
  bad_facts: input('a facts file to import is not CSV, JSON or JSONL of edit requests'),
  bad_profile: input('an edit profile is invalid or does not fit the open model'),
  // ----- checkpoint loader and untrusted files (engine/checkpoint, engine/fs-safe) -----
  no_config: input('the model folder has no config.json'),
  bad_config: input('config.json is malformed'),
  unsupported_arch: input('the architecture is not GPT-2 or LLaMA'),
  unsupported_config: input('a config value this engine does not support'),
  pickle_only: input('only pickle weights (.bin/.pt), no safetensors'),
  no_weights: input('no weight files in the folder'),
  bad_index: input('the safetensors index is malformed'),
  not_regular_file: input('a path is not a regular file'),
  header_too_short: input('a safetensors header is too short'),
  header_too_large: input('a safetensors header is too large'),
  header_json: input('a safetensors header is not valid JSON'),
  bad_dtype: input('a tensor has an unsupported dtype'),
  bad_shape: input('a tensor has a malformed shape'),
  offset_out_of_range: input('a tensor lies outside its file'),
  overlap: input('two tensors overlap in a file'),
  length_mismatch: input('a tensor\'s byte length does not match its shape'),
  missing_shard: input('a shard named by the index is missing'),
  missing_tensor: input('a tensor the architecture needs is missing'),
  duplicate_tensor: input('a tensor appears twice'),
  shape_mismatch: input('a tensor has the wrong shape for the config'),
  shard_mismatch: input('the index and the shards disagree'),
  symlink_outside: input('a symlink points outside the model folder'),
  file_truncated: input('a file is shorter than its header says'),
  file_too_large: input('a file is larger than the reader accepts'),
  bad_json: input('a JSON file is malformed'),
  path_not_allowed: input('a path is outside the folders the app may read'),
  bad_tokenizer: input('tokenizer.json is malformed'),
  bad_token_id: input('a token id is out of the vocabulary'),
  tokenizer_unsafe: input('tokenizer.json could make a short text grow without a useful bound (chained replacements)'),
  tokenizer_timeout: input('tokenizing took too long (pathological input)'),
  input_too_long: input('the input is longer than the model accepts'),
  non_finite: input('weights hold NaN / Inf, or key statistics or an edit computed from them'),
  weight_copy: input('a session would hold a private copy of a weight (memory model)'),
  memory_budget: input('an operation cannot fit the memory budget'),
  device_memory: input('the weights and working set do not fit the GPU (the message names both numbers)'),
  device_dtype: input('a weight cannot be held in the dtype the GPU computes with'),
  io_error: failure('reading or writing a file failed'),
  // ----- health task files (engine/eval/tasks) -----
  bad_task: input('a health task file is invalid (detail.issues lists every problem)'),
  // ----- export (engine/export) -----
  unsafe_target: input('the export folder is, contains or lies in something protected'),
  not_export: input('overwrite of a folder that is not a previous export'),
  export_failed: failure('the export failed'),
  // ----- ledger (store) -----
  not_ledger: input('the file is not an EAC Studio ledger'),
  schema_too_new: input('the ledger was written by a newer EAC Studio (detail.dbVersion, detail.knownVersion)'),
  ledger: failure('the ledger refused an operation'),
  migration: failure('a ledger migration failed'),
  open_failed: failure('the ledger database could not be opened'),
  hard_linked: input('the ledger file has another name: a hard link or a bind mount of the file (use an independent copy)'),
  not_writable: failure('the ledger or its folder cannot be written (read-only filesystem, mount or permissions)'),
  disk_full: failure('the disk holding the ledger is full'),
  permission_denied: failure('this user may not read the ledger or its folder'),
  locked: failure('another process holds the ledger\'s writer lock'),
  read_only: failure('the ledger was opened read-only'),
  head_moved: failure('the ledger head moved during the operation'),
  factor_corrupt: failure('a stored low-rank factor does not match its hash'),
  // ----- covariance statistics and the solve (engine/edit/stats-npz, linalg) -----
  'not-zip': failure('the statistics file is not a zip (.npz)'),
  'corrupt-zip': failure('the statistics zip is corrupt'),
  'unsupported-compression': failure('the statistics zip uses an unsupported compression'),
  'missing-key': failure('the statistics file lacks a key'),
  'bad-npy': failure('an array in the statistics file is malformed'),
  'unsupported-dtype': failure('an array in the statistics file has an unsupported dtype'),
  'bad-shape': failure('an array in the statistics file has the wrong shape'),
  'bad-count': failure('the statistics sample count is invalid'),
  'bad-layer': failure('the statistics are for another layer'),
  'bad-corpus': failure('the statistics corpus is unreadable'),
  'empty-corpus': failure('the statistics corpus is empty'),
  'insufficient-samples': failure('fewer statistics tokens than d_ff where the solve has no ridge'),
  'not-positive-definite': failure('C (+ ridge) has a non-positive pivot (detail.index, detail.pivot)'),
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface EacErrorOptions {
  cause?: unknown;
  /** structured facts; must survive JSON (it crosses the worker and host wire) */
  detail?: Record<string, unknown>;
}

export class EacError extends Error {
  readonly code: ErrorCode;
  readonly detail?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, opts: EacErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EacError';
    this.code = code;
    if (opts.detail !== undefined) this.detail = opts.detail;
  }
}

/**
 * The base of every EacError subclass: its codes narrowed to `C` and `name` set (stack traces, and the
 * `e.name === 'AbortError'` check of code that only knows DOM aborts). Written once here so a subclass holds
 * only what is its own (a static `of`, a getter); `instanceof` the subclass and EacError both hold.
 */
export function eacErrorClass<C extends ErrorCode = ErrorCode>(name: string) {
  return class extends EacError {
    declare readonly code: C;
    constructor(code: C, message: string, opts?: EacErrorOptions) {
      super(code, message, opts);
      this.name = name;
    }
  };
}

/**
 * An invariant only a bug can break (a graph built wrong, a method called out of order): code 'internal', so no bare
 * Error is thrown (tests/eac-errors.test.ts) and the wire, the CLI and the UI report it as an engine failure.
 */
export function internalError(message: string, opts?: EacErrorOptions): EacError {
  return new EacError('internal', message, opts);
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export function isEacError(e: unknown): e is EacError {
  return e instanceof EacError;
}

/** The code of any thrown value: an EacError's, a foreign error's string `code` (e.g. 'ENOENT'), else undefined. */
export function errorCode(e: unknown): string | undefined {
  if (e instanceof EacError) return e.code;
  const code = (e as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** 'input' for a code the table marks as bad input, else 'failure' (unknown and foreign codes included). */
export function errorGroup(code: string | undefined): ErrorGroup {
  return isErrorCode(code) ? ERROR_CODES[code].group : 'failure';
}

/** The CLI's exit code for each group (0 is success). */
export const EXIT_CODES = { input: 2, failure: 1 } as const satisfies Record<ErrorGroup, number>;

/** The CLI's exit code for a thrown value: 2 when its code is bad input, 1 otherwise. */
export function exitCodeFor(e: unknown): 1 | 2 {
  return EXIT_CODES[errorGroup(errorCode(e))];
}

/** ----- cancellation: one shape, an AbortError with code 'cancelled' ----- */

/**
 * What a cancelled operation throws: code 'cancelled' and `name === 'AbortError'`, so code that only knows DOM aborts
 * (`e.name === 'AbortError'`) and code that matches codes both see a cancellation.
 */
export class AbortError extends eacErrorClass<'cancelled'>('AbortError') {}

/** The error every cancelled operation throws (`cause`: the signal's reason, when there is one). */
export function cancelledError(message = 'cancelled', cause?: unknown): AbortError {
  return new AbortError('cancelled', message, cause === undefined ? undefined : { cause });
}

/** Throws cancelledError when `signal` has fired (its reason kept as the cause). */
export function throwIfAborted(signal: AbortSignal | undefined, message = 'cancelled'): void {
  if (signal?.aborted) throw cancelledError(message, signal.reason);
}

/** Whether `e` is a cancellation: code 'cancelled', or a DOM / Node AbortError. */
export function isCancelled(e: unknown): boolean {
  return errorCode(e) === 'cancelled' || (e as { name?: unknown } | null | undefined)?.name === 'AbortError';
}

/** ----- wire: what crosses the worker / engine-process / host boundary ----- */

export interface WireError {
  message: string;
  code?: string;
  detail?: Record<string, unknown>;
}

/** A thrown value as plain data (code, message and detail unchanged; cancellations of any shape as 'cancelled'). */
export function toWire(e: unknown): WireError {
  if (e instanceof Error) {
    const code = isCancelled(e) ? 'cancelled' : errorCode(e);
    const detail = (e as { detail?: unknown }).detail;
    return {
      message: e.message || (code ?? ''),
      ...(code !== undefined ? { code } : {}),
      ...(detail && typeof detail === 'object' ? { detail: detail as Record<string, unknown> } : {}),
    };
  }
  return { message: String(e) };
}

/** README exit-code table rows, generated from ERROR_CODES (tests/errors.test.ts checks the README holds them). */
export function exitCodeTable(): string {
  const codes = (g: ErrorGroup) =>
    (Object.keys(ERROR_CODES) as ErrorCode[])
      .filter((c) => ERROR_CODES[c].group === g)
      .map((c) => `\`${c}\``)
      .join(', ');
  return [
    '| exit | meaning | error codes |',
    '| --- | --- | --- |',
    '| 0 | success | |',
    `| ${EXIT_CODES.failure} | running it failed | ${codes('failure')}, and any error without a code in this table |`,
    `| ${EXIT_CODES.input} | bad input (command line, request, file or folder) | ${codes('input')} |`,
  ].join('\n');
}

// The shape of an `eac` subcommand. Each lives in src-main/cli/commands/<name>.ts and is listed in
// src-main/cli/commands/index.ts; main.ts does argument parsing (node:util parseArgs, strict),
// --help, and error reporting, so a command only validates its values and does its work.
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CliIO {
  /** writes to stdout (no newline added) */
  out(text: string): void;
  /** writes to stderr (no newline added) */
  err(text: string): void;
  /** the user's working directory; resolve paths against it */
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  name: string;
  /** one line for `eac --help` */
  summary: string;
  /** usage line(s) without the leading "eac " */
  usage: string;
  /** longer help text: options, notes */
  help: string;
  options: OptionSpec;
  allowPositionals?: boolean;
  /** returns the exit code (default 0) */
  run(values: OptionValues, positionals: string[], io: CliIO): Promise<number | void>;
}

/** Bad command line or bad input files: one line on stderr, exit code 2. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Error codes that mean the user's input was wrong (exit 2) rather than that running it failed (exit 1): engine and
 * studio input codes, the ledger's "this file is not a ledger you can use" codes, the export's refusals.
 */
export const BAD_INPUT_CODES: ReadonlySet<string> = new Set([
  'bad_params',
  'bad_model',
  'no_model',
  'not_found',
  'exists',
  'hash_mismatch',
  'not_ledger',
  'schema_too_new',
  'unsafe_target',
  'not_export',
]);

/**
 * Whether an error is bad input (exit 2): a UsageError, an error whose code is in BAD_INPUT_CODES, or a checkpoint /
 * task-file validation error (a broken model folder or task file), except their I/O failures.
 */
export function isBadInput(e: unknown): boolean {
  if (e instanceof UsageError) return true;
  const { name, code } = (e ?? {}) as { name?: string; code?: unknown };
  if (typeof code === 'string' && BAD_INPUT_CODES.has(code)) return true;
  return (name === 'CheckpointError' || name === 'TaskValidationError') && code !== 'io_error';
}

/** `e` as a UsageError when it is bad input (see isBadInput), else `e` unchanged (exit 1 with its message). */
export function asInputError(e: unknown): unknown {
  return isBadInput(e) && !(e instanceof UsageError) ? new UsageError((e as Error).message) : e;
}

export function defineCommand(c: CliCommand): CliCommand {
  return c;
}

/** ----- value helpers ----- */

function single(values: OptionValues, name: string): string | boolean | undefined {
  const v = values[name];
  if (Array.isArray(v)) {
    if (v.length > 1) throw new UsageError(`--${name} was given ${v.length} times; give it once`);
    return v[0];
  }
  return v;
}

export function requireString(values: OptionValues, name: string): string {
  const v = single(values, name);
  if (typeof v !== 'string') throw new UsageError(`--${name} is required`);
  return v;
}

export function optionalString(values: OptionValues, name: string): string | undefined {
  const v = single(values, name);
  return typeof v === 'string' ? v : undefined;
}

export function intOption(values: OptionValues, name: string, opts: { min?: number; max?: number; default?: number } = {}): number {
  const v = single(values, name);
  if (v === undefined || typeof v === 'boolean') {
    if (opts.default !== undefined) return opts.default;
    throw new UsageError(`--${name} is required`);
  }
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (opts.min !== undefined && n < opts.min) throw new UsageError(`--${name} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError(`--${name} must be at most ${opts.max}, got ${n}`);
  return n;
}

export function choiceOption<T extends string>(values: OptionValues, name: string, choices: readonly T[], def: T): T {
  const v = optionalString(values, name);
  if (v === undefined) return def;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as T;
}

/** JSON on one line, newline-terminated. */
export function printJson(io: CliIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
}

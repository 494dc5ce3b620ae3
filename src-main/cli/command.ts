// The shape of an `eac` subcommand. Each lives in src-main/cli/commands/<name>.ts and is listed in
// src-main/cli/commands/index.ts; main.ts does argument parsing (node:util parseArgs, strict),
// --help, and error reporting, so a command only validates its values and does its work.
import { EacError, eacErrorClass, exitCodeFor } from '../engine/errors';
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
  /** stderr is a terminal: progress is drawn as a bar in place (cli/progress.ts), else printed as lines */
  errIsTTY?: boolean;
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
export class UsageError extends eacErrorClass('UsageError') {
  /** exit code from the code table (2 for 'usage' and every other bad-input code) */
  get exitCode(): 1 | 2 {
    return exitCodeFor(this);
  }
}

/**
 * Whether an error is bad input (exit 2) rather than a failure to run it (exit 1): decided by its code alone, through
 * the one code table (engine/errors.ts ERROR_CODES; a UsageError has code 'usage').
 */
export function isBadInput(e: unknown): boolean {
  return exitCodeFor(e) === 2;
}

/** `e` as a UsageError (same code, message and detail; `e` as its cause) when it is bad input, else `e` unchanged. */
export function asInputError(e: unknown): unknown {
  if (!isBadInput(e) || e instanceof UsageError) return e;
  const err = e as EacError;
  return new UsageError(err.code, err.message, { cause: e, ...(err.detail ? { detail: err.detail } : {}) });
}

export function defineCommand(c: CliCommand): CliCommand {
  return c;
}

/** ----- value helpers ----- */

function single(values: OptionValues, name: string): string | boolean | undefined {
  const v = values[name];
  if (Array.isArray(v)) {
    if (v.length > 1) throw new UsageError('usage', `--${name} was given ${v.length} times; give it once`);
    return v[0];
  }
  return v;
}

export function requireString(values: OptionValues, name: string): string {
  const v = single(values, name);
  if (typeof v !== 'string') throw new UsageError('usage', `--${name} is required`);
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
    throw new UsageError('usage', `--${name} is required`);
  }
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError('usage', `--${name} must be an integer, got "${v}"`);
  const n = Number(v);
  if (opts.min !== undefined && n < opts.min) throw new UsageError('usage', `--${name} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max) throw new UsageError('usage', `--${name} must be at most ${opts.max}, got ${n}`);
  return n;
}

export function choiceOption<T extends string>(values: OptionValues, name: string, choices: readonly T[], def: T): T {
  const v = optionalString(values, name);
  if (v === undefined) return def;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError('usage', `--${name} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as T;
}

/** JSON on one line, newline-terminated. */
export function printJson(io: CliIO, value: unknown): void {
  io.out(JSON.stringify(value) + '\n');
}

// The failures of jobs that run with no workspace (opening a model: there is no ledger yet to keep
// them in), kept in a small JSON file of the engine's data folder so the error history still shows
// them after a restart (issue 19 item 13; the job table keeps every other job's). A missing or
// unreadable file is an empty history; writes are atomic (temp file + rename) and keep the newest
// TRANSIENT_ERRORS_MAX entries.
import fs from 'node:fs';
import path from 'node:path';
import type { JobErrorEntry } from '../api/contract';

export const TRANSIENT_ERRORS_FILE = 'open-errors.json';
export const TRANSIENT_ERRORS_MAX = 50;
const FORMAT = 'eac-transient-errors-v1';

function isEntry(x: unknown): x is JobErrorEntry {
  const e = x as JobErrorEntry;
  return !!e && typeof e === 'object' && Number.isSafeInteger(e.jobId) && typeof e.title === 'string' && typeof e.at === 'string' && typeof e.message === 'string' && typeof e.kind === 'string';
}

export class TransientErrorLog {
  readonly file: string;
  constructor(dataDir: string) {
    this.file = path.join(dataDir, TRANSIENT_ERRORS_FILE);
  }

  /** Newest first. */
  list(): JobErrorEntry[] {
    let raw: { format?: unknown; entries?: unknown };
    try {
      raw = JSON.parse(fs.readFileSync(this.file, 'utf8'));
    } catch {
      return [];
    }
    if (!raw || raw.format !== FORMAT || !Array.isArray(raw.entries)) return [];
    return raw.entries.filter(isEntry).slice(0, TRANSIENT_ERRORS_MAX);
  }

  /** Adds an entry (newest first). A write that fails is reported to the caller, who only logs it. */
  add(e: JobErrorEntry): void {
    const next = [e, ...this.list()].slice(0, TRANSIENT_ERRORS_MAX);
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, entries: next }, null, 1) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

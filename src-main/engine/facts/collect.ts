// Accumulates requests and errors while a file is read: built-in validation, duplicate case ids (the first
// one is kept, later ones are errors), the caller's extra validator, and message formatting.

import type { EditRequest, InvalidRowData, ParseOptions, RowError } from './types';
import { type FieldNames, checkRequest } from './validate';

/** Longest RowError.source kept (a row with a huge field is still shown, cut). */
export const SOURCE_MAX = 4000;

export interface RowRaw {
  draft?: Partial<EditRequest>;
  source?: string;
}

export class Collector {
  readonly requests: EditRequest[] = [];
  readonly errors: RowError[] = [];
  readonly invalidRows: InvalidRowData[] = [];
  private readonly invalidSeen = new Set<number>();
  rowsRead = 0;
  private readonly seen = new Map<string, number>();

  /** `unit` is how rows are called in messages: "Row" (JSON, CSV) or "Line" (JSONL). */
  constructor(
    private readonly fileName: string,
    private readonly opts: ParseOptions,
    private readonly unit: 'Row' | 'Line',
  ) {}

  fileError(message: string, field?: string): void {
    this.errors.push({ row: 0, ...(field ? { field } : {}), message: `${this.fileName}: ${message}` });
  }

  /** `raw`: what the row had (see RowError.draft / source), kept so the row can be fixed in place. */
  rowError(row: number, field: string | undefined, message: string, raw: RowRaw = {}): void {
    this.errors.push({ row, ...(field ? { field } : {}), message: `${this.unit} ${row}: ${message}` });
    if (this.invalidSeen.has(row)) return;
    this.invalidSeen.add(row);
    const source = raw.source === undefined ? undefined : raw.source.length > SOURCE_MAX ? `${raw.source.slice(0, SOURCE_MAX)}…` : raw.source;
    this.invalidRows.push({ row, draft: raw.draft ?? {}, ...(source !== undefined ? { source } : {}) });
  }

  private lastTick = -1;
  /** Reports `done` of `total` records checked to opts.onProgress, about every 1 % and at the end. */
  tick(done: number, total: number): void {
    const cb = this.opts.onProgress;
    if (!cb) return;
    const step = Math.max(1, Math.floor(total / 100));
    if (done !== total && done - this.lastTick < step) return;
    this.lastTick = done;
    cb({ phase: 'parse', done, total, unit: 'rows' });
  }

  accept(row: number, r: EditRequest, names: FieldNames, source?: string): void {
    const raw: RowRaw = { draft: r, source };
    const p = checkRequest(r, this.opts, names);
    if (p) return this.rowError(row, p.field, p.message, raw);
    const first = this.seen.get(r.caseId);
    if (first !== undefined) {
      return this.rowError(
        row,
        names.case_id,
        `${names.case_id} ${JSON.stringify(r.caseId)} is already used by ${this.unit.toLowerCase()} ${first}; the first one is kept`,
        raw,
      );
    }
    if (this.opts.validate) {
      let msg: string | null;
      try {
        msg = this.opts.validate(r);
      } catch (e) {
        msg = `validation failed: ${(e as Error).message}`;
      }
      if (msg) return this.rowError(row, undefined, msg, raw);
    }
    this.seen.set(r.caseId, row);
    this.requests.push(r);
  }
}

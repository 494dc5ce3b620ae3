// The import view's model: turns a `queue.import` result into the draft rows the user reviews,
// edits and reorders before creating a queue, and the messages shown for them. Pure (unit-tested).
import type { EditRequest, FactFormat, InvalidRow, QueueImportResult, RowError } from '../../../src-main/api/contract';
import { validateRequest } from '../../../src-main/api/facts';

export const FORMAT_LABELS: Record<FactFormat, string> = {
  counterfact: 'CounterFact',
  easyedit: 'EasyEdit',
  zsre: 'zsRE',
  csv: 'CSV',
  jsonl: 'JSONL',
};

export const ACCEPTED_EXTENSIONS = ['.json', '.jsonl', '.ndjson', '.csv', '.tsv', '.txt'];

export interface DraftRow {
  /** stable key for the list (survives reordering) */
  key: string;
  /** parsed request; null for a row the parser could not turn into one */
  request: EditRequest | null;
  /** source row/line number (1-based), when known */
  sourceRow: number | null;
  /** validation/parse problems shown on the row; empty = valid */
  errors: string[];
  /** the source field named by the first error, for highlighting */
  field?: string;
  /** the user changed it after import */
  edited: boolean;
  /** a row that did not parse: what it had (lenient fields), for the editor to open with */
  draft?: Partial<EditRequest>;
  /** a row that did not parse: its text in the file */
  source?: string;
}

export interface ImportReport {
  fileName: string;
  format: FactFormat;
  formatLabel: string;
  rowsRead: number;
  /** problems with the file as a whole (row 0) */
  fileErrors: string[];
  rows: DraftRow[];
  validCount: number;
  invalidCount: number;
  /** one line for the summary banner */
  summary: string;
}

let keySeq = 0;
const newKey = (p: string) => `${p}-${++keySeq}`;

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

/**
 * Builds the review list: valid requests (with any per-model problems attached), then rows that
 * failed to parse/validate, ordered by their position in the file where it is known.
 */
export function buildImportReport(fileName: string, res: QueueImportResult): ImportReport {
  const fileErrors = res.errors.filter((e) => e.row === 0).map((e) => e.message);
  const modelErr = new Map<number, string[]>();
  for (const m of res.modelErrors ?? []) modelErr.set(m.index, [...(modelErr.get(m.index) ?? []), m.message]);

  const valid: DraftRow[] = res.requests.map((request, i) => ({
    key: newKey('r'),
    request,
    sourceRow: null,
    errors: modelErr.get(i) ?? [],
    edited: false,
  }));
  const rawByRow = new Map((res.invalidRows ?? []).map((r) => [r.row, r]));
  const byRow = new Map<number, RowError[]>();
  for (const e of res.errors) if (e.row > 0) byRow.set(e.row, [...(byRow.get(e.row) ?? []), e]);
  const broken: DraftRow[] = [...byRow.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([row, errs]) => {
      const raw = rawByRow.get(row);
      const draft = raw && Object.keys(raw.draft).length ? raw.draft : undefined;
      const source = raw?.source;
      return {
        key: newKey('e'),
        request: null,
        sourceRow: row,
        errors: errs.map((e) => e.message),
        field: errs[0]?.field,
        edited: false,
        ...(draft ? { draft } : {}),
        ...(source !== undefined ? { source } : {}),
      };
    });
  const rows = [...valid, ...broken];
  const invalidCount = rows.filter((r) => r.errors.length > 0).length;
  const validCount = rows.length - invalidCount;
  const label = FORMAT_LABELS[res.format] ?? res.format;
  let summary: string;
  if (rows.length === 0 && fileErrors.length > 0) summary = `Nothing imported from ${fileName}: ${fileErrors[0]}`;
  else if (invalidCount === 0) summary = `${plural(validCount, 'request')} ready from ${fileName} (${label}).`;
  else
    summary = `${plural(validCount, 'request')} ready from ${fileName} (${label}); ${plural(invalidCount, 'row')} with errors — fix them below or leave them out.`;
  return { fileName, format: res.format, formatLabel: label, rowsRead: res.rowsRead, fileErrors, rows, validCount, invalidCount, summary };
}

/**
 * Whether a newly read file may replace the draft being reviewed: not when it has no valid row while
 * the draft has one (a file of garbage, or one whose every row is invalid, would throw away work);
 * the file's summary is shown as an error instead and the draft stays.
 */
export function replacesDraft(next: Pick<ImportReport, 'validCount'>, draft: Pick<DraftRow, 'request' | 'errors'>[]): boolean {
  return next.validCount > 0 || !draft.some((r) => r.request && r.errors.length === 0);
}

/** Re-validates a row after the user edited it (the same rules the importer applies). */
export function revalidate(row: DraftRow, request: EditRequest): DraftRow {
  const msg = validateRequest(request);
  const where = row.sourceRow ? `Row ${row.sourceRow}: ` : '';
  return { ...row, request, errors: msg ? [where + msg] : [], field: undefined, edited: true };
}

/** An empty request to start editing a row that did not parse. */
export function blankRequest(caseId: string): EditRequest {
  return { caseId, prompt: '{} ', subject: '', targetNew: '', rephrase: [], locality: [] };
}

/**
 * The request an editor opens with for a row: its parsed request, or, for a row that did not
 * parse, what the file had for it (the parser's lenient draft) over an empty one whose case id is
 * the row number.
 */
export function requestToEdit(row: Pick<DraftRow, 'request' | 'sourceRow' | 'draft' | 'key'>): EditRequest {
  if (row.request) return withTemplate(structuredClone(row.request));
  const d = row.draft ?? {};
  const base = blankRequest(row.sourceRow !== null ? `row-${row.sourceRow}` : row.key);
  return withTemplate({
    ...base,
    ...structuredClone(d),
    caseId: d.caseId ?? base.caseId,
    rephrase: d.rephrase ? [...d.rephrase] : [],
    locality: d.locality ? d.locality.map((l) => ({ ...l })) : [],
  });
}

/**
 * A prompt written out in full ("The capital of France is", subject "France") as the template the
 * editor needs ("The capital of {} is"): the first occurrence of the subject becomes the slot. A
 * prompt that has a slot already, or does not contain the subject, is left as it is.
 */
export function asTemplate(prompt: string, subject: string): string {
  if (prompt.includes('{}') || !subject.trim()) return prompt;
  const i = prompt.indexOf(subject);
  return i < 0 ? prompt : prompt.slice(0, i) + '{}' + prompt.slice(i + subject.length);
}

/** The editor opens a row with its prompt as a template where that is all that was wrong with it. */
function withTemplate(r: EditRequest): EditRequest {
  return { ...r, prompt: asTemplate(r.prompt, r.subject) };
}

export function moveRow<T>(rows: T[], from: number, to: number): T[] {
  if (from === to || from < 0 || to < 0 || from >= rows.length || to >= rows.length) return rows;
  const out = rows.slice();
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x);
  return out;
}

/** What queue.create gets: valid requests in the user's order, invalid rows kept as 'invalid' items. */
export function toCreateInput(rows: DraftRow[]): { requests: EditRequest[]; invalid: InvalidRow[] } {
  const requests: EditRequest[] = [];
  const invalid: InvalidRow[] = [];
  for (const r of rows) {
    if (r.request && r.errors.length === 0) requests.push(r.request);
    // a row that did not parse keeps what the file had for it (its lenient draft), so fixing the queue
    // item later starts from that — its prompt already a template — not from an empty request
    else if (r.request) invalid.push({ row: r.sourceRow ?? 0, message: r.errors.join(' ') || 'invalid row', request: r.request });
    else invalid.push({ row: r.sourceRow ?? 0, message: r.errors.join(' ') || 'invalid row', ...(r.draft ? { request: requestToEdit(r) } : {}) });
  }
  return { requests, invalid };
}

/** Comma/line separated list editing for rephrase prompts. */
export function splitLines(s: string): string[] {
  return s
    .split(/\r?\n/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** "prompt => answer" per line, for locality prompts. */
export function parseLocality(s: string): { prompt: string; target: string }[] {
  return splitLines(s).map((line) => {
    const i = line.lastIndexOf('=>');
    return i < 0 ? { prompt: line, target: '' } : { prompt: line.slice(0, i).trim(), target: line.slice(i + 2).trim() };
  });
}

export function formatLocality(l: { prompt: string; target: string }[]): string {
  return l.map((x) => `${x.prompt} => ${x.target}`).join('\n');
}

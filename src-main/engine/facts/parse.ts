// Format detection (by content first, extension as a tie-breaker) and the import entry point.

import { Collector } from './collect';
import { FIELD_NAMES, type RecordSchema, convertRecord, isObj, recordDraft, recordKind } from './convert';
import { KNOWN_COLUMNS, headerDelimiter, normalizeColumn, parseCsv } from './csv';
import type { FactFormat, ParseOptions, ParseResult } from './types';
import type { FieldNames } from './validate';
import { jsonErrorMessage } from '../fs-safe';
import { duplicateKeys, type DuplicateKey } from './json-dupes';
import { EacError } from '../errors';

const EXPECTED =
  'expected a JSON array of edit requests (CounterFact, EasyEdit or zsRE records), {"requests": [...]}, ' +
  'JSONL (one JSON object per line) or CSV with a header row (prompt, subject, target_new)';

type Sniffed = { kind: 'json'; value: unknown } | { kind: 'jsonl' } | { kind: 'csv'; text: string };

const stripBom = (s: string) => (s.charCodeAt(0) === 0xfeff ? s.slice(1) : s);
const extOf = (fileName: string) => /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase() ?? '';
const nonBlankLines = (t: string) => t.split(/\r?\n/).filter((l) => l.trim());

/** The first characters as hex; a byte that was not UTF-8 (kept as U+DC00 + byte by utf8.ts) shows as that byte. */
function hexPreview(s: string, n = 16): string {
  return [...s.slice(0, n)]
    .map((ch) => {
      const c = ch.charCodeAt(0);
      return (c >= 0xdc80 && c <= 0xdcff ? c - 0xdc00 : c).toString(16).padStart(2, '0');
    })
    .join(' ');
}

function binaryHint(t: string): string {
  if (t.startsWith('PK\u0003\u0004')) return ' It looks like a ZIP archive (an .xlsx workbook? Save it as CSV).';
  if (/^\u001f(\u008b|\ufffd|\udc8b)/.test(t)) return ' It looks like a gzip archive; decompress it first.';
  if (t.startsWith('%PDF')) return ' It looks like a PDF document.';
  if (t.startsWith('SQLite format 3')) return ' It looks like an SQLite database.';
  if (/^(\ufffd\ufffd|\u00ff\u00fe|\u00fe\u00ff|\udcff\udcfe|\udcfe\udcff)/.test(t)) return ' It may be UTF-16 text; save it as UTF-8.';
  return '';
}

function looksBinary(t: string): boolean {
  const head = t.slice(0, 4096);
  if (head.includes('\u0000')) return true;
  // Control characters only: U+FFFD alone means text in another encoding (e.g. Latin-1), which still imports.
  let bad = 0;
  for (const ch of head) {
    const c = ch.charCodeAt(0);
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) bad++;
  }
  return bad > Math.max(2, head.length * 0.02);
}

function looksJsonl(t: string): boolean {
  const lines = nonBlankLines(t);
  if (lines.length < 2) return false;
  const objLines = lines.filter((l) => /^\s*\{.*\}\s*$/.test(l)).length;
  return objLines >= lines.length / 2;
}

function sniff(fileName: string, text: string): Sniffed {
  const t = stripBom(text);
  const ext = extOf(fileName);
  if (!t.trim()) throw new EacError('bad_facts', `Cannot import "${fileName}": the file is empty; ${EXPECTED}.`);
  if (looksBinary(t)) {
    throw new EacError('bad_facts', 
      `Cannot import "${fileName}": it is not a text file (first bytes: ${hexPreview(t)}).${binaryHint(t)} ${EXPECTED[0].toUpperCase()}${EXPECTED.slice(1)}.`,
    );
  }
  const first = t.trimStart()[0];
  if (first === '[' || first === '{') {
    try {
      const value = JSON.parse(t);
      if ((ext === 'jsonl' || ext === 'ndjson') && isObj(value)) return { kind: 'jsonl' };
      return { kind: 'json', value };
    } catch (e) {
      if (ext === 'jsonl' || ext === 'ndjson' || looksJsonl(t)) return { kind: 'jsonl' };
      const msg = jsonErrorMessage(e, t);
      throw new EacError('bad_facts', 
        `Cannot import "${fileName}": it starts like JSON but is ${msg}. ` +
          `Expected a JSON array of edit requests, {"requests": [...]}, or JSONL (one JSON object per line).`,
      );
    }
  }
  if ((ext === 'jsonl' || ext === 'ndjson') && nonBlankLines(t).some((l) => l.trimStart().startsWith('{'))) {
    return { kind: 'jsonl' };
  }
  if (first !== '<') {
    const headerLine = nonBlankLines(t)[0];
    const delim = headerDelimiter(headerLine);
    const cols = delim ? headerLine.split(delim).map(normalizeColumn) : [normalizeColumn(headerLine)];
    const knownCols = cols.some((c) => KNOWN_COLUMNS.has(c.replace(/^"|"$/g, '')));
    if (ext === 'csv' || ext === 'tsv' || (delim && knownCols)) return { kind: 'csv', text: t };
  }
  const what = first === '<' ? ' (it looks like HTML/XML)' : '';
  throw new EacError('bad_facts', `Cannot import "${fileName}": ${EXPECTED}, but the file starts with ${JSON.stringify(t.slice(0, 60))}${what}.`);
}

/** The records of a parsed JSON document, or a message saying why there are none. */
function jsonRecords(value: unknown): unknown[] | string {
  if (Array.isArray(value)) return value;
  if (isObj(value)) {
    for (const k of ['requests', 'edits', 'data']) if (Array.isArray(value[k])) return value[k] as unknown[];
    if (recordKind(value) !== 'unknown') return [value];
    return `expected a JSON array of edit requests or {"requests": [...]}, found an object with keys: ${Object.keys(value).join(', ') || '(none)'}`;
  }
  return `expected a JSON array of edit requests or {"requests": [...]}, found ${value === null ? 'null' : typeof value}`;
}

/** The schema most records have; a tie goes to the one seen first. */
function majoritySchema(values: unknown[]): RecordSchema | null {
  const n = new Map<RecordSchema, number>(); // insertion order = first seen
  for (const v of values) {
    const k = recordKind(v);
    if (k === 'counterfact' || k === 'easyedit' || k === 'zsre') n.set(k, (n.get(k) ?? 0) + 1);
  }
  let best: RecordSchema | null = null;
  for (const [k, c] of n) if (best === null || c > n.get(best)!) best = k;
  return best;
}

/**
 * The file's format by content: 'csv' and 'jsonl' for those containers; for a JSON document, the record
 * schema most of its records have ('counterfact' wins over 'easyedit' for records holding both; a JSON file
 * with no edit-request records, e.g. a known-facts file, reports 'easyedit'). Throws on unreadable files.
 */
export function detectFormat(fileName: string, text: string): FactFormat {
  const s = sniff(fileName, text);
  if (s.kind !== 'json') return s.kind;
  const recs = jsonRecords(s.value);
  return (Array.isArray(recs) && majoritySchema(recs)) || 'easyedit';
}

const KNOWN_FACTS_MESSAGE =
  'this is a known-facts file (ROME known_1000 style: known_id, subject, attribute, template, prediction), not edit requests: ' +
  'its records have no target_new, so there is nothing to edit. Import CounterFact, EasyEdit, zsRE or CSV edit requests instead';

function describeKeys(v: unknown): string {
  return isObj(v) ? Object.keys(v).join(', ') || '(none)' : Array.isArray(v) ? 'an array' : JSON.stringify(v);
}

/** Field names for messages, following the record's own spelling where a schema allows several. */
function namesFor(kind: RecordSchema, rec: Record<string, unknown>): FieldNames {
  const names = FIELD_NAMES[kind];
  if (kind === 'easyedit') {
    const rephrase = ['rephrase_prompt', 'rephrase_prompts', 'rephrase', 'paraphrase_prompts'].find((k) => k in rec);
    const locality = ['locality_prompt', 'locality', 'loc'].find((k) => k in rec);
    return { ...names, rephrase: rephrase ?? names.rephrase, locality: locality ?? names.locality };
  }
  if (kind === 'zsre' && !(Array.isArray(rec.answers) && rec.answers.length)) return { ...names, ground_truth: 'pred' };
  return names;
}

type Entry = { row: number; value?: unknown; parseError?: string; source?: string; duplicate?: string };

/** `a.b.c` for the path of a duplicate key below its record. */
const dottedKey = (d: DuplicateKey, from: number) => [...d.path.slice(from), d.key].map(String).join('.');

const duplicateMessage = (field: string) =>
  `"${field}" appears more than once in the record; JSON would keep only the last value, so the row is not imported: remove the extra one`;

/** The record as written (JSONL: its line), for RowError.source. */
const sourceOf = (e: Entry) => e.source ?? (e.value === undefined ? undefined : JSON.stringify(e.value, null, 1));

function importRecords(entries: Entry[], c: Collector): void {
  c.rowsRead = entries.length;
  const values = entries.filter((e) => !e.parseError).map((e) => e.value);
  const kinds = values.map(recordKind);
  // a row that failed keeps what it had (lenient fields and its text) so it can be fixed in an editor
  const raw = (e: Entry) => ({ draft: recordDraft(e.value), source: sourceOf(e) });
  if (values.length > 0 && kinds.every((k) => k === 'known' || k === 'unknown')) {
    if (kinds.some((k) => k === 'known')) c.fileError(KNOWN_FACTS_MESSAGE);
    else {
      c.fileError(
        `none of the ${values.length} records look like edit requests (expected CounterFact "requested_rewrite", ` +
          `EasyEdit "prompt"/"subject"/"target_new" or zsRE "src"/"subject"/"alt" fields); the first record has: ${describeKeys(values[0])}`,
      );
    }
    for (const e of entries) if (e.parseError) c.rowError(e.row, undefined, e.parseError, raw(e));
    return;
  }
  entries.forEach((e, index) => {
    c.tick(index, entries.length);
    if (e.parseError) return c.rowError(e.row, undefined, e.parseError, raw(e));
    if (e.duplicate) return c.rowError(e.row, e.duplicate, duplicateMessage(e.duplicate), raw(e));
    const kind = recordKind(e.value);
    if (kind === 'known') {
      return c.rowError(e.row, 'target_new', 'known-facts record (known_id, attribute, template) without target_new, not an edit request', raw(e));
    }
    if (kind === 'unknown') {
      const got = isObj(e.value) ? `a record with keys: ${describeKeys(e.value)}` : Array.isArray(e.value) ? 'an array' : e.value === null ? 'null' : typeof e.value;
      return c.rowError(e.row, undefined, `expected an edit request object (CounterFact, EasyEdit or zsRE fields), got ${got}`, raw(e));
    }
    const { request, problem } = convertRecord(e.value as Record<string, unknown>, kind, index);
    if (problem) return c.rowError(e.row, problem.field || undefined, problem.message, raw(e));
    c.accept(e.row, request!, namesFor(kind, e.value as Record<string, unknown>), sourceOf(e));
  });
  c.tick(entries.length, entries.length);
}

/** A file with no records at all (a CSV header alone, an empty JSON array) is an error, not an empty import. */
function noRecords(c: Collector, what: string): void {
  if (c.rowsRead === 0 && c.errors.length === 0) c.fileError(`${what}; there is nothing to import. ${EXPECTED[0].toUpperCase()}${EXPECTED.slice(1)}.`);
}

export function parseFacts(fileName: string, text: string, opts: ParseOptions = {}): ParseResult {
  const s = sniff(fileName, text);
  if (s.kind === 'csv') {
    const c = new Collector(fileName, opts, 'Row');
    parseCsv(s.text, c);
    noRecords(c, 'the file has a header row but no data rows');
    return { format: 'csv', requests: c.requests, errors: c.errors, rowsRead: c.rowsRead, invalidRows: c.invalidRows };
  }
  if (s.kind === 'jsonl') {
    const c = new Collector(fileName, opts, 'Line');
    const entries: Entry[] = [];
    stripBom(text)
      .split(/\r?\n/)
      .forEach((line, i) => {
        if (!line.trim()) return;
        try {
          const value = JSON.parse(line);
          const dup = duplicateKeys(line, 1)[0];
          entries.push({ row: i + 1, value, source: line, ...(dup ? { duplicate: dottedKey(dup, 0) } : {}) });
        } catch (e) {
          entries.push({ row: i + 1, source: line, parseError: `invalid JSON: ${jsonErrorMessage(e, line).replace(/^not valid JSON: /, '').replace(/ at line 1, column /, ' at column ')}` });
        }
      });
    importRecords(entries, c);
    noRecords(c, 'the file has no JSON lines');
    return { format: 'jsonl', requests: c.requests, errors: c.errors, rowsRead: c.rowsRead, invalidRows: c.invalidRows };
  }
  const c = new Collector(fileName, opts, 'Row');
  const recs = jsonRecords(s.value);
  if (typeof recs === 'string') {
    c.fileError(recs);
    return { format: 'easyedit', requests: [], errors: c.errors, rowsRead: 0, invalidRows: [] };
  }
  // duplicate keys: inside a record they make that row an error; above the records, the file
  const listKey = Array.isArray(s.value) ? null : isObj(s.value) ? (['requests', 'edits', 'data'].find((k) => Array.isArray((s.value as Record<string, unknown>)[k])) ?? undefined) : undefined;
  const depth = listKey === null ? 1 : listKey === undefined ? 0 : 2; // path elements down to a record
  const dupOf = new Map<number, string>();
  for (const d of duplicateKeys(stripBom(text))) {
    const inRecord = d.path.length >= depth && (depth !== 2 || d.path[0] === listKey);
    const index = depth === 0 ? 0 : d.path[depth - 1];
    if (inRecord && typeof index === 'number') {
      if (!dupOf.has(index)) dupOf.set(index, dottedKey(d, depth));
      continue;
    }
    // above the records (two "requests" lists): which one was meant is unknown, so nothing is imported
    c.fileError(`the key "${dottedKey(d, 0)}" appears more than once; JSON would keep only the last value: remove the extra one`);
    return { format: 'easyedit', requests: [], errors: c.errors, rowsRead: 0, invalidRows: [] };
  }
  importRecords(
    recs.map((value, i) => ({ row: i + 1, value, ...(dupOf.has(i) ? { duplicate: dupOf.get(i) } : {}) })),
    c,
  );
  noRecords(c, Array.isArray(s.value) ? 'the JSON array is empty' : 'its list of edit requests is empty');
  return { format: majoritySchema(recs) ?? 'easyedit', requests: c.requests, errors: c.errors, rowsRead: c.rowsRead, invalidRows: c.invalidRows };
}

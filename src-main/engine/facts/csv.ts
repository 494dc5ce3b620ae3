// CSV / TSV edit requests (papaparse). Header row required; names are case-insensitive and spaces/hyphens
// count as underscores. Rows are numbered as a spreadsheet shows them: the header is row 1.

import Papa from 'papaparse';
import type { Collector, RowRaw } from './collect';
import { FIELD_NAMES, toTemplate } from './convert';
import type { EditRequest, LocalityPrompt } from './types';
import { q, textProblem } from './validate';

export const REQUIRED_COLUMNS = ['prompt', 'subject', 'target_new'] as const;
const OPTIONAL_COLUMNS = ['case_id', 'ground_truth', 'rephrase', 'locality_prompt', 'locality_ground_truth', 'locality'];
export const KNOWN_COLUMNS = new Set<string>([...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS]);
const ALIASES: Record<string, string> = {
  id: 'case_id',
  rephrase_prompt: 'rephrase',
  rephrase_prompts: 'rephrase',
  paraphrase_prompts: 'rephrase',
  target_true: 'ground_truth',
};

export const normalizeColumn = (h: string) => {
  const n = h.replace(/^\uFEFF/, '').trim().toLowerCase().replace(/[\s-]+/g, '_');
  return ALIASES[n] ?? n;
};

/** Delimiter from the header line (reliable: it holds only column names); "||" in values can't fool it. */
export function headerDelimiter(headerLine: string): string | null {
  const counts = [',', '\t', ';'].map((d) => [d, headerLine.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 0 ? counts[0][0] : null;
}

const splitItems = (s: string) =>
  s
    .split(/\s*\|\|\s*/)
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

const isBlank = (cells: string[]) => cells.every((c) => !c.trim());

export function parseCsv(raw: string, c: Collector): void {
  // One line ending for papaparse: it guesses the newline from the first line, so a CRLF file whose
  // last line (or any line) ends with a plain LF ran that line into the next / left a quote before a
  // stray "\n" ("Trailing quote on quoted field is malformed"). Line breaks inside quoted fields
  // become "\n" too; row numbers do not change (one break stays one break).
  const text = raw.replace(/\r\n?/g, '\n');
  const firstLine = text.split('\n').find((l) => l.trim()) ?? '';
  const delimiter = headerDelimiter(firstLine) ?? ',';
  // the header alone first: a file that is not a fact table (binary, prose, a 6.7 MB log) is refused
  // from its first line instead of after parsing every row of it (15 s for 6.7 MB of garbage)
  const head = Papa.parse<string[]>(firstLine, { delimiter, newline: '\n', header: false }).data[0] ?? [];
  const headCols = new Set(head.map(normalizeColumn));
  const missing = REQUIRED_COLUMNS.filter((r) => !headCols.has(r));
  if (missing.length) {
    // names as written, each cut to 40 characters and at most 12 of them: a garbage "header" is one
    // long line, which would otherwise fill the error with 200 characters of noise
    const found = head.map((h) => h.replace(/^\uFEFF/, '').trim()).filter(Boolean);
    const shown = found.slice(0, 12).map((h) => (h.length > 40 ? `${h.slice(0, 40)}…` : h));
    // the lines after the header that hold anything (what a full parse would have counted as rows read)
    c.rowsRead = Math.max(0, text.split('\n').filter((l) => l.trim()).length - 1);
    c.fileError(
      `missing required column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ` +
        `found ${found.length ? `columns: ${shown.join(', ')}${found.length > shown.length ? `, … ${found.length - shown.length} more` : ''}` : 'no column names'}. ` +
        `Expected a header row with prompt, subject, target_new (optional: ${OPTIONAL_COLUMNS.join(', ')})`,
      missing.join(', '),
    );
    return;
  }
  const res = Papa.parse<string[]>(text, { delimiter, newline: '\n', header: false, skipEmptyLines: false });
  const rows = res.data;
  const brokenRows = new Map<number, string>();
  for (const e of res.errors) {
    if (typeof e.row === 'number' && !brokenRows.has(e.row)) brokenRows.set(e.row, e.message);
  }

  const headerIdx = rows.findIndex((r) => !isBlank(r));
  if (headerIdx < 0) return; // nothing but blank lines
  const header = rows[headerIdx].map(normalizeColumn);
  const col = new Map<string, number>();
  header.forEach((h, i) => {
    if (!col.has(h)) col.set(h, i);
  });

  const dataRows = rows.slice(headerIdx + 1).map((cells, i) => ({ cells, row: headerIdx + i + 2 }));
  const nonBlank = dataRows.filter((d) => !isBlank(d.cells) || brokenRows.has(d.row - 1));
  c.rowsRead = nonBlank.length;

  const names = { ...FIELD_NAMES.csv, locality: col.has('locality_prompt') ? 'locality_prompt' : 'locality' };
  const get = (cells: string[], name: string) => {
    const i = col.get(name);
    return i === undefined ? '' : (cells[i] ?? '');
  };

  /** What a failed row had, for an editor to open with (see RowError.draft / source). */
  const rawOf = (cells: string[]): RowRaw => {
    const draft: Partial<EditRequest> = {};
    const cell = (name: string) => (col.has(name) && cells[col.get(name)!] !== undefined ? cells[col.get(name)!].trim() : undefined);
    const id = cell('case_id');
    if (id) draft.caseId = id;
    const subject = cell('subject');
    const prompt = cell('prompt');
    if (subject !== undefined) draft.subject = subject;
    if (prompt !== undefined) {
      const t = subject !== undefined ? toTemplate(prompt, subject, names) : prompt;
      draft.prompt = typeof t === 'string' ? t : prompt;
    }
    const target = cell('target_new');
    if (target !== undefined) draft.targetNew = target;
    const truth = cell('ground_truth');
    if (truth) draft.groundTruth = truth;
    const rephrase = splitItems(cell('rephrase') ?? '');
    if (rephrase.length) draft.rephrase = rephrase;
    return { draft, source: Papa.unparse([cells], { delimiter, newline: '' }) };
  };

  nonBlank.forEach(({ cells, row }, index) => {
    c.tick(index, nonBlank.length);
    const broken = brokenRows.get(row - 1);
    if (broken) return c.rowError(row, undefined, `malformed CSV: ${broken}`, rawOf(cells));
    const extra = cells.slice(header.length).filter((x) => x.trim());
    if (extra.length) {
      return c.rowError(
        row,
        undefined,
        `has ${cells.length} fields but the header has ${header.length} (a value with an unquoted "${delimiter === '\t' ? '\\t' : delimiter}"? quote it)`,
        rawOf(cells),
      );
    }
    // every cell of a known column first: an invisible control character or a byte that is not UTF-8 would
    // otherwise surface later as a puzzling "subject does not occur in prompt"
    for (const name of KNOWN_COLUMNS) {
      const why = col.has(name) ? textProblem(get(cells, name)) : null;
      if (why) return c.rowError(row, name, `${name} ${why}`, rawOf(cells));
    }
    const subject = get(cells, 'subject').trim();
    const template = toTemplate(get(cells, 'prompt').trim(), subject, names);
    if (typeof template !== 'string') return c.rowError(row, template.field, template.message, rawOf(cells));

    const locality: LocalityPrompt[] = [];
    if (col.has('locality_prompt')) {
      const ps = splitItems(get(cells, 'locality_prompt'));
      const ts = splitItems(get(cells, 'locality_ground_truth'));
      if (ps.length !== ts.length) {
        return c.rowError(
          row,
          'locality_prompt',
          `locality_prompt has ${ps.length} item${ps.length === 1 ? '' : 's'} but locality_ground_truth has ${ts.length}`,
          rawOf(cells),
        );
      }
      ps.forEach((p, i) => locality.push({ prompt: p, target: ts[i] }));
    }
    if (col.has('locality')) {
      for (const [i, item] of splitItems(get(cells, 'locality')).entries()) {
        const k = item.lastIndexOf('=>');
        if (k < 0) return c.rowError(row, 'locality', `locality item ${i + 1} ${q(item)} is not "prompt => answer"`, rawOf(cells));
        locality.push({ prompt: item.slice(0, k).trim(), target: item.slice(k + 2).trim() });
      }
    }
    const truth = get(cells, 'ground_truth').trim();
    const id = get(cells, 'case_id').trim();
    const r: EditRequest = {
      caseId: id || String(index),
      prompt: template,
      subject,
      targetNew: get(cells, 'target_new').trim(),
      ...(truth ? { groundTruth: truth } : {}),
      rephrase: splitItems(get(cells, 'rephrase')),
      locality,
    };
    c.accept(row, r, names, rawOf(cells).source);
  });
  c.tick(nonBlank.length, nonBlank.length);
}

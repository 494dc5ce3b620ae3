// Edit-request import: the shapes shared by every fact format (CounterFact, EasyEdit, zsRE, CSV, JSONL).
//
// The functions live in the sibling modules; they are re-exported here (and from ./index) so callers can
// import everything from either place. The sibling modules only `import type` from this file, so there is
// no runtime import cycle.

export interface LocalityPrompt {
  prompt: string;
  target: string;
}

export interface EditRequest {
  /** From the source (case_id / id); otherwise the 0-based record index in the file. Stable across re-imports. */
  caseId: string;
  /** Template with exactly one "{}" where the subject goes. */
  prompt: string;
  subject: string;
  /** No leading space; the engine adds one when tokenizing. */
  targetNew: string;
  groundTruth?: string;
  /** Full prompts (subject filled in) for generalization. */
  rephrase: string[];
  /** Full prompts + expected answer (neighbourhood). */
  locality: LocalityPrompt[];
}

export type FactFormat = 'counterfact' | 'easyedit' | 'zsre' | 'csv' | 'jsonl';

export interface RowError {
  /**
   * 1-based row/record number in the file: JSON array → element number; JSONL → line number;
   * CSV → spreadsheet row (the header is row 1, the first data row is row 2).
   * 0 = the file as a whole (missing CSV columns, a known-facts file, no record looks like an edit request).
   */
  row: number;
  /** The field as it is named in the source format (e.g. "alt" for zsRE, "requested_rewrite.target_new.str"). */
  field?: string;
  /** Self-contained text, starting with "Row N:" / "Line N:" / "File:" and naming the field. */
  message: string;
}

/**
 * What a row that failed had, read leniently (strings taken as they are, a prompt not turned into a
 * template when the subject is not in it), so an editor can open prefilled with it.
 */
export interface InvalidRowData {
  /** RowError.row of the row */
  row: number;
  draft: Partial<EditRequest>;
  /** The row as it is in the file (CSV line, JSONL line, JSON record), cut at SOURCE_MAX (collect.ts) characters. */
  source?: string;
}

export interface ParseResult {
  format: FactFormat;
  requests: EditRequest[];
  errors: RowError[];
  /** Records read (excluding the CSV header and blank lines), valid or not. */
  rowsRead: number;
  /** For each row with an error: what it had (one entry per row, in row order of the errors). */
  invalidRows: InvalidRowData[];
}

export interface ValidateOptions {
  /** Limit on prompt (subject filled in), target and every rephrase/locality string. Default 2000. */
  maxChars?: number;
  /** Token counter; used together with maxTokens. */
  countTokens?: (s: string) => number;
  maxTokens?: number;
}

/** Progress of a fact import: the file read (bytes), then its records checked (rows). */
export interface FactProgress {
  phase: 'read' | 'parse';
  done: number;
  total: number;
  unit: 'bytes' | 'rows';
}

export interface ParseOptions extends ValidateOptions {
  /** Extra per-request check run after the built-in ones; a string makes the row an error. */
  validate?: (r: EditRequest) => string | null;
  /** Called as records are checked (about every 1 %, and at the end): rows done of rows read. */
  onProgress?: (p: FactProgress) => void;
}


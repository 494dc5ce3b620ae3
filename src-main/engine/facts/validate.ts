// Per-request validation. Messages name the field the way the source format names it (see FieldNames),
// so the user can find it in the file; validateRequest uses the canonical snake_case names.

import type { EditRequest, ValidateOptions } from './types';

export type CanonField = 'case_id' | 'prompt' | 'subject' | 'target_new' | 'ground_truth' | 'rephrase' | 'locality';
export type FieldNames = Record<CanonField, string>;

export const CANONICAL_NAMES: FieldNames = {
  case_id: 'case_id',
  prompt: 'prompt',
  subject: 'subject',
  target_new: 'target_new',
  ground_truth: 'ground_truth',
  rephrase: 'rephrase',
  locality: 'locality',
};

export interface Problem {
  field: string;
  message: string;
}

export const DEFAULT_MAX_CHARS = 2000;

/** Quote a user string for a message, shortened to keep messages readable. */
export function q(s: string, max = 120): string {
  const one = s.replace(/\r?\n/g, '\\n');
  return JSON.stringify(one.length > max ? one.slice(0, max - 1) + '…' : one);
}

export function countSlots(template: string): number {
  return template.split('{}').length - 1;
}

/** Prompt with the subject filled in (the first — and only valid — "{}"). */
export function requestPrompt(r: EditRequest): string {
  const i = r.prompt.indexOf('{}');
  return i < 0 ? r.prompt : r.prompt.slice(0, i) + r.subject + r.prompt.slice(i + 2);
}

const norm = (s: string) => s.trim().replace(/\s+/g, ' ');

// Control characters other than tab and line feed (C0, DEL, C1), and UTF-16 surrogates that are not part of a pair:
// readFactsFile turns each byte that is not valid UTF-8 into a lone low surrogate U+DC80..U+DCFF (utf8.ts), and a
// JSON "\udc80" escape makes one too. Either way the text is not what the file's author typed (issue 19).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `s` is not clean text (a control character, or bytes that were not UTF-8), or null. */
export function textProblem(s: string): string | null {
  const u = LONE_SURROGATE.exec(s);
  if (u) {
    const c = u[0].charCodeAt(0);
    const at = `at character ${u.index + 1}`;
    return c >= 0xdc80 && c <= 0xdcff
      ? `holds a byte that is not valid UTF-8 (0x${(c - 0xdc00).toString(16)}) ${at}: save the file as UTF-8`
      : `holds an unpaired UTF-16 surrogate (\\u${c.toString(16)}) ${at}, which is not text`;
  }
  const m = CONTROL.exec(s);
  if (m) return `holds the control character U+${m[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()} at character ${m.index + 1} (only tab and line feed are allowed): remove it`;
  return null;
}

/** First problem found, with the field named per `names`; null when the request is fine. */
export function checkRequest(r: EditRequest, opts: ValidateOptions = {}, names: FieldNames = CANONICAL_NAMES): Problem | null {
  const fail = (f: CanonField, message: string): Problem => ({ field: names[f], message });
  // every text field first: a control character or a byte that is not UTF-8 is an error, never imported as is
  const texts: [CanonField, string, string | undefined][] = [
    ['case_id', names.case_id, r.caseId],
    ['prompt', names.prompt, r.prompt],
    ['subject', names.subject, r.subject],
    ['target_new', names.target_new, r.targetNew],
    ['ground_truth', names.ground_truth, r.groundTruth],
    ...r.rephrase.map((x, i): [CanonField, string, string] => ['rephrase', `${names.rephrase} item ${i + 1}`, x]),
    ...r.locality.flatMap((l, i): [CanonField, string, string][] => [
      ['locality', `${names.locality} item ${i + 1} prompt`, l.prompt],
      ['locality', `${names.locality} item ${i + 1} answer`, l.target],
    ]),
  ];
  for (const [f, label, x] of texts) {
    const why = x === undefined ? null : textProblem(x);
    if (why) return fail(f, `${label} ${why}`);
  }
  if (!r.subject.trim()) return fail('subject', `${names.subject} is empty`);
  if (r.subject.includes('{}')) return fail('subject', `${names.subject} ${q(r.subject)} contains "{}"`);
  const slots = countSlots(r.prompt);
  if (slots === 0) return fail('prompt', `${names.prompt} has no "{}" slot for the subject: ${q(r.prompt)}`);
  if (slots > 1) return fail('prompt', `${names.prompt} has ${slots} "{}" slots, exactly one is allowed: ${q(r.prompt)}`);
  if (!r.targetNew.trim()) return fail('target_new', `${names.target_new} is empty`);
  if (r.groundTruth !== undefined && norm(r.groundTruth) === norm(r.targetNew)) {
    return fail(
      'target_new',
      `${names.target_new} ${q(r.targetNew)} is the same as ${names.ground_truth}, the edit would change nothing`,
    );
  }
  for (const [i, l] of r.locality.entries()) {
    if (!l.prompt.trim()) return fail('locality', `${names.locality} item ${i + 1} has an empty prompt`);
    if (!l.target.trim()) return fail('locality', `${names.locality} item ${i + 1} has an empty answer`);
  }

  // Length limits: characters always, tokens when a counter is given.
  const maxChars = opts.maxChars ?? DEFAULT_MAX_CHARS;
  const items: [CanonField, string, string][] = [
    ['prompt', names.prompt, requestPrompt(r)],
    ['target_new', names.target_new, r.targetNew],
    ...r.rephrase.map((s, i): [CanonField, string, string] => ['rephrase', `${names.rephrase} item ${i + 1}`, s]),
    ...r.locality.flatMap((l, i): [CanonField, string, string][] => [
      ['locality', `${names.locality} item ${i + 1} prompt`, l.prompt],
      ['locality', `${names.locality} item ${i + 1} answer`, l.target],
    ]),
  ];
  for (const [f, label, s] of items) {
    if (s.length > maxChars) return fail(f, `${label} is ${s.length} characters long (limit ${maxChars})`);
  }
  if (opts.countTokens && opts.maxTokens !== undefined) {
    for (const [f, label, s] of items) {
      const n = opts.countTokens(s);
      if (n > opts.maxTokens) return fail(f, `${label} is ${n} tokens long (limit ${opts.maxTokens})`);
    }
  }
  return null;
}

/** null = ok; otherwise a message naming the field (canonical snake_case names). */
export function validateRequest(r: EditRequest, opts: ValidateOptions = {}): string | null {
  return checkRequest(r, opts)?.message ?? null;
}

// One JSON record (CounterFact / EasyEdit / zsRE) → EditRequest, or a Problem naming the source field.

import type { EditRequest, LocalityPrompt } from './types';
import { CANONICAL_NAMES, type FieldNames, type Problem, q, textProblem } from './validate';

export type RecordSchema = 'counterfact' | 'easyedit' | 'zsre';
export type RecordKind = RecordSchema | 'known' | 'unknown';

type Rec = Record<string, unknown>;

export const FIELD_NAMES: Record<RecordSchema | 'csv', FieldNames> = {
  counterfact: {
    case_id: 'case_id',
    prompt: 'requested_rewrite.prompt',
    subject: 'requested_rewrite.subject',
    target_new: 'requested_rewrite.target_new.str',
    ground_truth: 'requested_rewrite.target_true.str',
    rephrase: 'paraphrase_prompts',
    locality: 'neighborhood_prompts',
  },
  easyedit: {
    case_id: 'case_id',
    prompt: 'prompt',
    subject: 'subject',
    target_new: 'target_new',
    ground_truth: 'ground_truth',
    rephrase: 'rephrase_prompt',
    locality: 'locality',
  },
  zsre: {
    case_id: 'case_id',
    prompt: 'src',
    subject: 'subject',
    target_new: 'alt',
    ground_truth: 'answers',
    rephrase: 'rephrase',
    locality: 'loc',
  },
  csv: CANONICAL_NAMES,
};

export const isObj = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

export function recordKind(v: unknown): RecordKind {
  if (!isObj(v)) return 'unknown';
  if (isObj(v.requested_rewrite)) return 'counterfact';
  if ('src' in v && ('alt' in v || 'answers' in v)) return 'zsre';
  if ('target_new' in v) return 'easyedit';
  if ('known_id' in v || ('template' in v && 'attribute' in v)) return 'known';
  if ('prompt' in v && 'subject' in v) return 'easyedit';
  return 'unknown';
}

/**
 * A text field: a JSON string, nothing else (issue 19: numbers, booleans and objects used to be turned into text
 * silently — `"target_new": 1984` became "1984", `{"str": …}` was read anywhere). A list is NOT taken as its first
 * element: where a format defines a list (zsRE answers, paraphrase lists) the caller reads it as one; anywhere
 * else a list is an error naming the field.
 */
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** An answer field (target_new, target_true, answers): a string, or CounterFact's `{"str": "..."}` around one. */
function answerStr(v: unknown): string | undefined {
  if (isObj(v) && Object.keys(v).every((k) => k === 'str' || k === 'id')) return str(v.str);
  return str(v);
}

/** The same leniently, for drafts of rows that already failed (numbers shown as written, {str} unwrapped). */
function draftStr(v: unknown): string | undefined {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (isObj(v) && 'str' in v) return draftStr(v.str);
  return str(v);
}

/** What a non-string value is, for messages (never its content). */
function kindOfValue(v: unknown): string {
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (v === null) return 'null';
  if (isObj(v)) return 'an object';
  return typeof v;
}

const notString = (field: string, v: unknown): Problem => ({
  field,
  message:
    `${field} must be a string, got ${kindOfValue(v)}` +
    (Array.isArray(v)
      ? ' (only the fields a format defines as lists, like paraphrase_prompts, may be lists)'
      : typeof v === 'number' || typeof v === 'boolean'
        ? ` (write it in quotes if it is meant as text: "${String(v)}")`
        : ''),
});

/**
 * An answer field: a string, or — as the formats define it (zsRE answers, EasyEdit/KnowEdit
 * ground_truth and locality answers) — a list of accepted answers of which the first is the one we
 * test. Every item of such a list must be a string. EasyEdit uses "<|endoftext|>" as a "no ground
 * truth" placeholder in some files.
 */
function groundTruthOf(v: unknown, field: string): string | undefined | Problem {
  const a = answerOf(v, field);
  if (a === undefined || typeof a !== 'string') return a;
  return a === '<|endoftext|>' ? undefined : a;
}

function answerOf(v: unknown, field: string): string | undefined | Problem {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) if (answerStr(x) === undefined) return { field, message: `${field} item ${i + 1} must be a string (an accepted answer), got ${kindOfValue(x)}` };
    if (v.length === 0) return undefined;
    v = v[0];
  }
  const s = answerStr(v);
  if (s === undefined) return notString(field, v);
  return s.trim();
}

/** A list of strings (or one string) for fields every format defines as lists (rephrases). */
function strList(v: unknown, field: string): string[] | Problem {
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const [i, x] of items.entries()) {
    const s = str(x);
    if (s === undefined) return { field, message: `${field}${Array.isArray(v) ? ` item ${i + 1}` : ''} must be a string, got ${kindOfValue(x)}` };
    if (s.trim()) out.push(s.trim());
  }
  return out;
}

/** Pairs prompt(s) with answer(s): one prompt + answers list → first answer; two lists → zipped. */
function pairs(prompts: unknown, answers: unknown, label: string): LocalityPrompt[] | Problem {
  if (prompts === undefined || prompts === null) return [];
  const answer = (a: unknown, where: string): string | Problem => {
    const t = answerOf(a, where);
    return t === undefined ? '' : isProblem(t) ? { ...t, field: label } : t;
  };
  if (!Array.isArray(prompts)) {
    const p = str(prompts);
    if (p === undefined) return { field: label, message: `${label} must be a string, got ${kindOfValue(prompts)}` };
    if (!p.trim()) return [];
    // one prompt: a string answer, or a list of accepted answers (the first is tested)
    const t = answer(answers, `the answer of ${label}`);
    if (typeof t !== 'string') return t;
    return [{ prompt: p.trim(), target: t }];
  }
  const ans = Array.isArray(answers) ? answers : [answers];
  if (prompts.length !== ans.length && !(ans.length === 1 && prompts.length > 1)) {
    return { field: label, message: `${label} has ${prompts.length} prompts but ${ans.length} answers` };
  }
  const out: LocalityPrompt[] = [];
  for (const [i, p] of prompts.entries()) {
    const ps = str(p);
    if (ps === undefined) return { field: label, message: `${label} item ${i + 1} must be a string, got ${kindOfValue(p)}` };
    const t = answer(ans[ans.length === 1 ? 0 : i], `the answer of ${label} item ${i + 1}`);
    if (typeof t !== 'string') return t;
    out.push({ prompt: ps.trim(), target: t });
  }
  return out;
}

/** EasyEdit nested locality: {Relation_Specificity: {prompt, ground_truth} | [{prompt, ground_truth}], ...}. */
function nestedLocality(v: Rec): LocalityPrompt[] | Problem {
  const out: LocalityPrompt[] = [];
  for (const [key, val] of Object.entries(v)) {
    for (const item of Array.isArray(val) ? val : [val]) {
      const label = `locality.${key}`;
      if (!isObj(item)) return { field: label, message: `${label} must be an object {prompt, ground_truth}` };
      const p = pairs(item.prompt, item.ground_truth ?? item.target ?? item.answer, label);
      if (!Array.isArray(p)) return p;
      out.push(...p);
    }
  }
  return out;
}

/**
 * Literal prompt → template: a prompt that already has "{}" is kept; otherwise the LAST occurrence of the
 * subject becomes "{}" (as ROME does).
 */
export function toTemplate(prompt: string, subject: string, names: FieldNames): string | Problem {
  if (!prompt.trim()) return { field: names.prompt, message: `${names.prompt} is empty` };
  if (prompt.includes('{}')) return prompt;
  if (!subject.trim()) return { field: names.subject, message: `${names.subject} is empty` };
  const i = subject ? prompt.lastIndexOf(subject) : -1;
  if (i < 0) {
    const ci = subject ? prompt.toLowerCase().lastIndexOf(subject.toLowerCase()) : -1;
    const hint = ci >= 0 ? ` (it occurs with different capitalisation: ${q(prompt.slice(ci, ci + subject.length))})` : '';
    return { field: names.subject, message: `subject ${q(subject)} does not occur in prompt ${q(prompt)}${hint}` };
  }
  return prompt.slice(0, i) + '{}' + prompt.slice(i + subject.length);
}

const isProblem = (v: unknown): v is Problem => isObj(v) && typeof v.message === 'string' && 'field' in v;

function required(v: unknown, name: string, answer = false): string | Problem {
  if (v === undefined || v === null) return { field: name, message: `${name} is missing` };
  const s = answer ? answerStr(v) : str(v);
  if (s === undefined) return notString(name, v);
  // before the prompt is matched against the subject: an invisible character would surface as "does not occur"
  const why = textProblem(s);
  if (why) return { field: name, message: `${name} ${why}` };
  return s;
}

/** What `core` reads, checked and trimmed. */
interface Core {
  template: string;
  subject: string;
  target: string;
}

/** The fields every schema has (under its own names): prompt → template, subject, target. */
function core(prompt: unknown, subject: unknown, target: unknown, n: FieldNames): Core | Problem {
  const p = required(prompt, n.prompt);
  if (isProblem(p)) return p;
  const s = required(subject, n.subject);
  if (isProblem(s)) return s;
  const t = required(target, n.target_new, true);
  if (isProblem(t)) return t;
  const template = toTemplate(p.trim(), s.trim(), n);
  if (isProblem(template)) return template;
  return { template, subject: s.trim(), target: t.trim() };
}

function caseIdOf(rec: Rec, index: number): string {
  const id = rec.case_id ?? rec.id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : String(index);
}

/** One request from any schema: the schemas differ only in where these fields are read from. */
function toRequest(rec: Rec, index: number, c: Core, rest: Pick<EditRequest, 'groundTruth' | 'rephrase' | 'locality'>): EditRequest {
  return {
    caseId: caseIdOf(rec, index),
    prompt: c.template,
    subject: c.subject,
    targetNew: c.target,
    groundTruth: rest.groundTruth,
    rephrase: rest.rephrase,
    locality: rest.locality,
  };
}

export interface Converted {
  request?: EditRequest;
  problem?: Problem;
}

export function convertRecord(rec: Rec, schema: RecordSchema, index: number): Converted {
  try {
    const r = schema === 'counterfact' ? counterfact(rec, index) : schema === 'zsre' ? zsre(rec, index) : easyedit(rec, index);
    return isProblem(r) ? { problem: r } : { request: r };
  } catch (e) {
    return { problem: { field: '', message: `could not read the record: ${(e as Error).message}` } };
  }
}

function easyeditLocality(rec: Rec): LocalityPrompt[] | Problem {
  const out: LocalityPrompt[] = [];
  if (rec.locality_prompt !== undefined) {
    const p = pairs(rec.locality_prompt, rec.locality_ground_truth, 'locality_prompt');
    if (!Array.isArray(p)) return p;
    out.push(...p);
  }
  if (isObj(rec.locality)) {
    const p = nestedLocality(rec.locality);
    if (!Array.isArray(p)) return p;
    out.push(...p);
  }
  if (rec.loc !== undefined) {
    const p = pairs(rec.loc, rec.loc_ans, 'loc');
    if (!Array.isArray(p)) return p;
    out.push(...p);
  }
  return out;
}

function easyedit(rec: Rec, index: number): EditRequest | Problem {
  const c = core(rec.prompt, rec.subject, rec.target_new, FIELD_NAMES.easyedit);
  if (isProblem(c)) return c;
  const locality = easyeditLocality(rec);
  if (isProblem(locality)) return locality;
  const truth = groundTruthOf(rec.ground_truth ?? rec.target_true, rec.ground_truth !== undefined ? 'ground_truth' : 'target_true');
  if (isProblem(truth)) return truth;
  const rk = ['rephrase_prompt', 'rephrase_prompts', 'rephrase', 'paraphrase_prompts'].find((k) => rec[k] !== undefined && rec[k] !== null) ?? 'rephrase_prompt';
  const rephrase = strList(rec[rk], rk);
  if (isProblem(rephrase)) return rephrase;
  return toRequest(rec, index, c, { groundTruth: truth, rephrase, locality });
}

function counterfact(rec: Rec, index: number): EditRequest | Problem {
  const n = FIELD_NAMES.counterfact;
  const rr = rec.requested_rewrite as Rec;
  const c = core(rr.prompt, rr.subject, rr.target_new, n);
  if (isProblem(c)) return c;
  const truth = groundTruthOf(rr.target_true ?? rec.ground_truth, rr.target_true !== undefined ? n.ground_truth : 'ground_truth');
  if (isProblem(truth)) return truth;

  let locality: LocalityPrompt[] = [];
  const hood = rec.neighborhood_prompts;
  if (Array.isArray(hood)) {
    for (const [i, h] of hood.entries()) {
      if (typeof h === 'string') {
        // Original CounterFact: neighbourhood subjects share the ORIGINAL object, so the answer is target_true.
        if (truth === undefined) {
          return { field: n.locality, message: `${n.locality} are plain strings but ${n.ground_truth} is missing, so they have no answer` };
        }
        if (h.trim()) locality.push({ prompt: h.trim(), target: truth });
      } else if (isObj(h)) {
        const p = str(h.prompt);
        const t = answerStr(h.target ?? h.ground_truth ?? h.answer);
        if (p === undefined || t === undefined) {
          return { field: n.locality, message: `${n.locality} item ${i + 1} must have "prompt" and "target" strings` };
        }
        locality.push({ prompt: p.trim(), target: t.trim() });
      } else {
        return { field: n.locality, message: `${n.locality} item ${i + 1} must be a string or {prompt, target}` };
      }
    }
  } else {
    const l = easyeditLocality(rec);
    if (isProblem(l)) return l;
    locality = l;
  }
  const rephrase = rec.paraphrase_prompts !== undefined ? strList(rec.paraphrase_prompts, n.rephrase) : strList(rec.rephrase_prompt, 'rephrase_prompt');
  if (isProblem(rephrase)) return rephrase;
  return toRequest(rec, index, c, { groundTruth: truth, rephrase, locality });
}

function zsre(rec: Rec, index: number): EditRequest | Problem {
  const n = FIELD_NAMES.zsre;
  const c = core(rec.src, rec.subject, rec.alt, n);
  if (isProblem(c)) return c;
  const locality = pairs(rec.loc, rec.loc_ans, n.locality);
  if (isProblem(locality)) return locality;
  const answers = groundTruthOf(rec.answers, n.ground_truth);
  if (isProblem(answers)) return answers;
  const pred = answers === undefined ? groundTruthOf(rec.pred, 'pred') : undefined;
  if (isProblem(pred)) return pred;
  const rephrase = strList(rec.rephrase, n.rephrase);
  if (isProblem(rephrase)) return rephrase;
  return toRequest(rec, index, c, { groundTruth: answers ?? pred, rephrase, locality });
}

/** The value at a dotted path ("requested_rewrite.target_new.str"). */
function at(rec: Rec, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), rec);
}

/** A string, or the first string of a list (lenient: for drafts only). */
function firstStr(v: unknown): string | undefined {
  const s = draftStr(Array.isArray(v) ? v.find((x) => draftStr(x) !== undefined) : v);
  return s === undefined ? undefined : s.trim();
}

/**
 * What a record that did not convert had, read leniently under its schema's field names, so the
 * row can be opened in an editor with it: strings as they are, the first string of a list, a
 * prompt made a template only when that works (kept as written otherwise, for the user to fix).
 * The case id is taken only from the record itself.
 */
export function recordDraft(v: unknown): Partial<EditRequest> {
  if (!isObj(v)) return {};
  const kind = recordKind(v);
  const n = FIELD_NAMES[kind === 'counterfact' || kind === 'zsre' ? kind : 'easyedit'];
  const out: Partial<EditRequest> = {};
  const id = v.case_id ?? v.id;
  if (typeof id === 'string' || typeof id === 'number') out.caseId = String(id);
  const prompt = firstStr(at(v, n.prompt));
  const subject = firstStr(at(v, n.subject));
  const target = firstStr(at(v, n.target_new)) ?? (kind === 'counterfact' ? firstStr(at(v, 'requested_rewrite.target_new')) : undefined);
  const truth = firstStr(at(v, n.ground_truth)) ?? firstStr(v.ground_truth) ?? firstStr(v.target_true);
  if (subject !== undefined) out.subject = subject;
  if (prompt !== undefined) {
    const t = subject !== undefined ? toTemplate(prompt, subject, n) : prompt;
    out.prompt = typeof t === 'string' ? t : prompt;
  }
  if (target !== undefined) out.targetNew = target;
  if (truth !== undefined && truth !== '<|endoftext|>') out.groundTruth = truth;
  const rk = [n.rephrase, 'rephrase_prompt', 'rephrase_prompts', 'rephrase', 'paraphrase_prompts'].find((k) => v[k] !== undefined && v[k] !== null);
  if (rk) {
    const items = (Array.isArray(v[rk]) ? (v[rk] as unknown[]) : [v[rk]]).map(draftStr).filter((x): x is string => !!x && !!x.trim());
    if (items.length) out.rephrase = items.map((x) => x.trim());
  }
  return out;
}

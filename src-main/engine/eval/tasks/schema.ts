/**
 * Health-task definitions: tasks are data (JSON files), so users can add their own.
 *
 * A task file holds one task definition or an array of them:
 *
 * {
 *   "id": "rte", "name": "NLI (RTE)", "kind": "nli", "metric": "accuracy",
 *   "template": "{s1} entails the {s2}. True or False? answer:",
 *   "answerField": "label", "maxNewTokens": 5,
 *   "labels": ["True", "False"], "extract": "label_match",
 *   "source": "...", "license": "...", "notes": "...",            (notes optional)
 *   "stop": ["###"],                                               (optional extra stop strings)
 *   "examples": [ { "s1": "...", "s2": "...", "label": "True" }, ... ]
 * }
 *
 * Template placeholders are `{field}` (field = identifier); `{{` and `}}` are literal braces.
 * The answer field holds a string or a non-empty array of acceptable gold strings.
 */
import { eacErrorClass } from '../../errors';
import { FILE_LIMITS, jsonErrorMessage, readTextFile } from '../../fs-safe';
import { templateFields } from './render';

export const TASK_KINDS = ['nli', 'qa', 'summarization', 'sentiment', 'custom'] as const;
export const TASK_METRICS = ['accuracy', 'exact_match', 'rouge'] as const;
export const EXTRACT_MODES = ['first_word', 'first_line', 'label_match', 'full'] as const;

export type TaskKind = (typeof TASK_KINDS)[number];
export type TaskMetric = (typeof TASK_METRICS)[number];
export type ExtractMode = (typeof EXTRACT_MODES)[number];

/** One example: template fields (strings / numbers) plus the answer field (string or string[]). */
export type TaskExample = Record<string, string | number | string[]>;

export interface TaskDef {
  id: string;
  name: string;
  kind: TaskKind;
  metric: TaskMetric;
  template: string;
  answerField: string;
  maxNewTokens: number;
  labels?: string[];
  extract: ExtractMode;
  source: string;
  license: string;
  notes?: string;
  /** Extra stop strings (cut the continuation there), added to the default EOS texts. */
  stop?: string[];
  examples: TaskExample[];
}

/** Thrown by parseTaskDef / parseTaskFile / loadTaskFile; `issues` lists every problem found. */
export class TaskValidationError extends eacErrorClass<'bad_task'>('TaskValidationError') {
  /** The error for the task file or definition `where`, listing (up to 8 of) `issues`; all of them in detail.issues. */
  static of(where: string, issues: string[]): TaskValidationError {
    const shown = issues.slice(0, 8);
    const more = issues.length > shown.length ? `; … and ${issues.length - shown.length} more` : '';
    return new TaskValidationError('bad_task', `${where}: ${shown.join('; ')}${more}`, { detail: { issues } });
  }
  get issues(): string[] {
    return (this.detail?.issues as string[] | undefined) ?? [];
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const KNOWN_KEYS = new Set([
  'id', 'name', 'kind', 'metric', 'template', 'answerField', 'maxNewTokens', 'labels',
  'extract', 'source', 'license', 'notes', 'stop', 'examples', '$schema',
]);
/** Example-level problems are capped so one bad field in 10k examples does not flood the message. */
const MAX_EXAMPLE_ISSUES = 20;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function oneOf(v: unknown, allowed: readonly string[]): boolean {
  return typeof v === 'string' && allowed.includes(v);
}

/** A value for a message: a short, escaped excerpt only (task files may be any file; never echo much of one). */
function q(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? s.slice(0, 39) + '…' : s;
}

/** Gold answers of an example, trimmed (world-a answers carry a leading space). */
export function goldAnswers(task: Pick<TaskDef, 'answerField'>, ex: TaskExample): string[] {
  const v = ex[task.answerField];
  if (Array.isArray(v)) return v.map((s) => String(s).trim());
  return [String(v).trim()];
}

/**
 * Validate a parsed JSON value as one task definition. Returns a fresh, typed object
 * (unknown top-level keys are an error: they are usually typos such as "answer_field").
 */
export function parseTaskDef(json: unknown, where = 'task'): TaskDef {
  if (!isObj(json)) throw TaskValidationError.of(where, ['task definition must be a JSON object']);
  const issues: string[] = [];
  const j = json;
  const label = typeof j.id === 'string' && j.id ? `task "${j.id}"` : where;

  for (const k of Object.keys(j)) if (!KNOWN_KEYS.has(k)) issues.push(`unknown key ${q(k)}`);

  if (typeof j.id !== 'string' || !ID_RE.test(j.id))
    issues.push(`id must be a non-empty string of letters, digits, ".", "_" or "-" (got ${q(j.id)})`);
  for (const k of ['name', 'template', 'answerField', 'source', 'license'] as const) {
    if (typeof j[k] !== 'string' || (k !== 'source' && k !== 'license' && (j[k] as string).length === 0))
      issues.push(`${k} must be a ${k === 'source' || k === 'license' ? '' : 'non-empty '}string (got ${q(j[k])})`);
  }
  if (j.notes !== undefined && typeof j.notes !== 'string') issues.push(`notes must be a string`);
  if (!oneOf(j.kind, TASK_KINDS)) issues.push(`unknown kind ${q(j.kind)} (expected one of ${TASK_KINDS.join(', ')})`);
  if (!oneOf(j.metric, TASK_METRICS))
    issues.push(`unknown metric ${q(j.metric)} (expected one of ${TASK_METRICS.join(', ')})`);
  if (!oneOf(j.extract, EXTRACT_MODES))
    issues.push(`unknown extract mode ${q(j.extract)} (expected one of ${EXTRACT_MODES.join(', ')})`);
  if (typeof j.maxNewTokens !== 'number' || !Number.isInteger(j.maxNewTokens) || j.maxNewTokens < 1 || j.maxNewTokens > 4096)
    issues.push(`maxNewTokens must be an integer in 1..4096 (got ${q(j.maxNewTokens)})`);

  let labels: string[] | undefined;
  if (j.labels !== undefined) {
    if (!Array.isArray(j.labels) || j.labels.length < 1 || !j.labels.every((s) => typeof s === 'string' && s.trim().length > 0)) {
      issues.push(`labels must be a non-empty array of non-empty strings`);
    } else {
      labels = j.labels as string[];
      const lower = labels.map((s) => s.trim().toLowerCase());
      if (new Set(lower).size !== lower.length) issues.push(`labels must be distinct (case-insensitively)`);
      if (labels.some((s) => /\s/.test(s.trim())))
        issues.push(`labels must be single words (label matching looks at the first word)`);
    }
  }
  if (j.extract === 'label_match' && j.labels === undefined) issues.push(`extract "label_match" needs "labels"`);
  if (j.stop !== undefined && (!Array.isArray(j.stop) || !j.stop.every((s) => typeof s === 'string' && s.length > 0)))
    issues.push(`stop must be an array of non-empty strings`);

  let fields: string[] = [];
  if (typeof j.template === 'string') {
    try {
      fields = templateFields(j.template);
    } catch (e) {
      issues.push(`template: ${(e as Error).message}`);
    }
    if (typeof j.answerField === 'string' && fields.includes(j.answerField))
      issues.push(`template uses the answer field "{${j.answerField}}" (it would leak the answer into the prompt)`);
  }

  if (!Array.isArray(j.examples) || j.examples.length === 0) {
    issues.push(`examples must be a non-empty array`);
  } else {
    const exIssues: string[] = [];
    const labelSet = labels ? new Set(labels.map((s) => s.trim().toLowerCase())) : undefined;
    j.examples.forEach((ex: unknown, i: number) => {
      if (!isObj(ex)) {
        exIssues.push(`example ${i}: must be an object`);
        return;
      }
      for (const f of fields) {
        const v = ex[f];
        if (v === undefined) exIssues.push(`example ${i}: template field "${f}" is missing`);
        else if (typeof v !== 'string' && typeof v !== 'number')
          exIssues.push(`example ${i}: template field "${f}" must be a string or number`);
      }
      if (typeof j.answerField !== 'string') return;
      const a = ex[j.answerField];
      let golds: string[] | undefined;
      if (a === undefined) exIssues.push(`example ${i}: answer field "${j.answerField}" is missing`);
      else if (typeof a === 'string') golds = [a];
      else if (Array.isArray(a) && a.length > 0 && a.every((s) => typeof s === 'string')) golds = a as string[];
      else exIssues.push(`example ${i}: answer field "${j.answerField}" must be a string or a non-empty array of strings`);
      if (golds && labelSet) {
        for (const g of golds)
          if (!labelSet.has(g.trim().toLowerCase()))
            exIssues.push(`example ${i}: answer ${q(g)} is not one of the labels ${q(labels)}`);
      }
    });
    if (exIssues.length > MAX_EXAMPLE_ISSUES) {
      const n = exIssues.length - MAX_EXAMPLE_ISSUES;
      exIssues.length = MAX_EXAMPLE_ISSUES;
      exIssues.push(`${n} more example problems`);
    }
    issues.push(...exIssues);
  }

  if (issues.length) throw TaskValidationError.of(label, issues);

  const def: TaskDef = {
    id: j.id as string,
    name: j.name as string,
    kind: j.kind as TaskKind,
    metric: j.metric as TaskMetric,
    template: j.template as string,
    answerField: j.answerField as string,
    maxNewTokens: j.maxNewTokens as number,
    extract: j.extract as ExtractMode,
    source: j.source as string,
    license: j.license as string,
    examples: j.examples as TaskExample[],
  };
  if (labels) def.labels = labels;
  if (typeof j.notes === 'string') def.notes = j.notes;
  if (Array.isArray(j.stop)) def.stop = j.stop as string[];
  return def;
}

/** Validate a parsed task file: one definition or an array of them (ids must be unique). */
export function parseTaskFile(json: unknown, where = 'task file'): TaskDef[] {
  const items = Array.isArray(json) ? json : [json];
  if (items.length === 0) throw TaskValidationError.of(where, ['file holds an empty array of tasks']);
  const defs = items.map((item, i) => parseTaskDef(item, Array.isArray(json) ? `${where} [${i}]` : where));
  const seen = new Set<string>();
  for (const d of defs) {
    if (seen.has(d.id)) throw TaskValidationError.of(where, [`duplicate task id "${d.id}"`]);
    seen.add(d.id);
  }
  return defs;
}

/** Read and validate a task file (UTF-8 JSON, one def or an array). Always returns an array. */
export function loadTaskFile(path: string): TaskDef[] {
  let text: string;
  try {
    // a regular file of bounded size (a FIFO or device is refused at once, never read)
    text = readTextFile(path, FILE_LIMITS.tasks, 'the task file');
  } catch (e) {
    throw TaskValidationError.of(path, [`cannot read file: ${(e as Error).message.replace(`${path}: `, '')}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // without the excerpt of the file V8 puts in its message
    throw TaskValidationError.of(path, [`invalid JSON: ${jsonErrorMessage(e, text).replace(/^not valid JSON: /, '')}`]);
  }
  return parseTaskFile(json, path);
}

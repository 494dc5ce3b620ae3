// Hand-written input validation for every studio call (use it on every IPC / WebSocket message before handing
// it to the engine), and for run settings read back from a ledger. Messages name the method and the field.
import { DEVICE_NAMES, EDIT_METHOD_NAMES, isStudioMethod, STUDIO_METHODS } from './methods';
import { ContractError } from './errors';
import { checkRequest as checkEditRequest, type FieldNames } from '../engine/facts/validate';
import type { EditRequest } from '../engine/facts/types';
import type { QueueRunSettings, StudioMethod, StudioParams, WhenBusy } from './contract';

/** The run options a queue run takes and the ledger stores with the queue (QueueRunSettings). */
export const RUN_SETTING_KEYS = ['batchSize', 'healthEvery', 'guardrails', 'healthTaskIds', 'healthN', 'notTakenBelow'] as const satisfies readonly (keyof QueueRunSettings)[];

type Obj = Record<string, unknown>;
function fail(method: string, msg: string): never {
  throw new ContractError('bad_params', `${method}: ${msg}`);
}

const show = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
  } catch {
    return String(v);
  }
};

class Check {
  constructor(
    readonly method: string,
    readonly p: Obj,
  ) {}
  private has(k: string) {
    return this.p[k] !== undefined;
  }
  only(keys: string[]): this {
    for (const k of Object.keys(this.p)) if (!keys.includes(k)) fail(this.method, `unknown parameter "${k}" (allowed: ${keys.join(', ') || 'none'})`);
    return this;
  }
  str(k: string, opt = false, max = 4096): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a string)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'string') fail(this.method, `"${k}" must be a string, got ${show(v)}`);
    if (v.length === 0) fail(this.method, `"${k}" must not be empty`);
    if (v.length > max) fail(this.method, `"${k}" is too long (${v.length} characters, at most ${max})`);
    if (v.includes('\0')) fail(this.method, `"${k}" contains a NUL character`);
    return this;
  }
  int(k: string, opt: boolean, min: number, max = Number.MAX_SAFE_INTEGER): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (an integer)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(this.method, `"${k}" must be an integer, got ${show(v)}`);
    if (v < min || v > max) fail(this.method, `"${k}" must be between ${min} and ${max}, got ${v}`);
    return this;
  }
  num(k: string, opt: boolean, min: number, max: number): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a number)`);
      return this;
    }
    const v = this.p[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(this.method, `"${k}" must be a finite number, got ${show(v)}`);
    if (v < min || v > max) fail(this.method, `"${k}" must be between ${min} and ${max}, got ${v}`);
    return this;
  }
  bool(k: string): this {
    if (this.has(k) && typeof this.p[k] !== 'boolean') fail(this.method, `"${k}" must be true or false, got ${show(this.p[k])}`);
    return this;
  }
  oneOf(k: string, values: readonly string[], opt = false): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (one of ${values.join(', ')})`);
      return this;
    }
    if (!values.includes(this.p[k] as string)) fail(this.method, `"${k}" must be one of ${values.join(', ')}, got ${show(this.p[k])}`);
    return this;
  }
  intList(k: string, opt: boolean, min: number, maxLen = 100000): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a list of integers)`);
      return this;
    }
    const v = this.p[k];
    if (!Array.isArray(v)) fail(this.method, `"${k}" must be a list of integers, got ${show(v)}`);
    if (v.length > maxLen) fail(this.method, `"${k}" has ${v.length} entries, at most ${maxLen}`);
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) fail(this.method, `"${k}[${i}]" must be an integer ≥ ${min}, got ${show(x)}`);
    });
    if (new Set(v).size !== v.length) fail(this.method, `"${k}" lists the same value twice`);
    return this;
  }
  strList(k: string, opt: boolean, maxLen = 1000): this {
    if (!this.has(k)) {
      if (!opt) fail(this.method, `"${k}" is required (a list of strings)`);
      return this;
    }
    const v = this.p[k];
    if (!Array.isArray(v)) fail(this.method, `"${k}" must be a list of strings, got ${show(v)}`);
    if (v.length > maxLen) fail(this.method, `"${k}" has ${v.length} entries, at most ${maxLen}`);
    v.forEach((x, i) => {
      if (typeof x !== 'string' || x.length === 0) fail(this.method, `"${k}[${i}]" must be a non-empty string, got ${show(x)}`);
    });
    return this;
  }
}

function checkRequest(method: string, where: string, r: unknown): void {
  if (!r || typeof r !== 'object' || Array.isArray(r)) fail(method, `${where} must be an edit request object, got ${show(r)}`);
  const o = r as Obj;
  // the shape here; what the text must say (one "{}" slot, no empty subject or target, clean text) is the engine's
  // request check below, the one the import view and the editor apply
  for (const k of ['caseId', 'prompt', 'subject', 'targetNew'] as const) if (typeof o[k] !== 'string') fail(method, `${where}.${k} must be a string, got ${show(o[k])}`);
  if (o.groundTruth !== undefined && typeof o.groundTruth !== 'string') fail(method, `${where}.groundTruth must be a string`);
  if (!Array.isArray(o.rephrase) || o.rephrase.some((x) => typeof x !== 'string')) fail(method, `${where}.rephrase must be a list of strings`);
  if (!Array.isArray(o.locality) || o.locality.some((x) => !x || typeof (x as Obj).prompt !== 'string' || typeof (x as Obj).target !== 'string'))
    fail(method, `${where}.locality must be a list of {prompt, target} strings`);
  // size: a request is a few prompts; bound it so one call cannot carry megabytes per request
  const lists = [o.rephrase as string[], o.locality as Obj[]];
  if (lists.some((l) => l.length > MAX_REQUEST_ITEMS)) fail(method, `${where} has more than ${MAX_REQUEST_ITEMS} rephrase or locality items`);
  let chars = 0;
  for (const k of ['caseId', 'prompt', 'subject', 'targetNew', 'groundTruth'] as const) chars += typeof o[k] === 'string' ? (o[k] as string).length : 0;
  for (const x of o.rephrase as string[]) chars += x.length;
  for (const x of o.locality as Obj[]) chars += (x.prompt as string).length + (x.target as string).length;
  if (chars > MAX_REQUEST_CHARS) fail(method, `${where} is too large (${chars} characters in its strings, at most ${MAX_REQUEST_CHARS})`);
  // the per-string length limit stays the call's whole bound: the engine's tighter default (and the model's token
  // limit) is the import view's and the editor's to apply, with the file row or queue item to point at
  const problem = checkEditRequest(o as unknown as EditRequest, { maxChars: MAX_REQUEST_CHARS }, apiFieldNames(where));
  if (problem) fail(method, problem.message);
}

/** The engine's messages name fields as the API spells them, under the request's place in the call. */
function apiFieldNames(where: string): FieldNames {
  const at = (k: string) => `${where}.${k}`;
  return {
    case_id: at('caseId'),
    prompt: at('prompt'),
    subject: at('subject'),
    target_new: at('targetNew'),
    ground_truth: at('groundTruth'),
    rephrase: at('rephrase'),
    locality: at('locality'),
  };
}

/** Per-call size limits (every call's params arrive over IPC or the WebSocket from the UI). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_REQUEST_CHARS = 100_000;
const MAX_REQUEST_ITEMS = 1000;
const MAX_REQUESTS = 100_000;

/**
 * Bundled profile names only: a plain name (no path separator, no leading dot, no .json). Over the
 * API a profile is a bundled name or a profile object, never a file path (the engine resolves such
 * a name inside resources/profiles only; engine/edit/profile.ts PROFILE_NAME_RE is the same rule).
 */
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
function checkProfileName(method: string, key: string, v: unknown): void {
  if (typeof v !== 'string' || !PROFILE_NAME.test(v) || /\.json$/i.test(v))
    fail(method, `"${key}" must be the name of a bundled profile (see profiles.list) or a profile object, not a file path`);
}

function checkGuardrails(method: string, g: unknown): void {
  if (g === undefined) return;
  if (!g || typeof g !== 'object' || Array.isArray(g)) fail(method, `"guardrails" must be an object, got ${show(g)}`);
  new Check(method, g as Obj)
    .only(['minRetentionPct', 'maxL1GrowthPct', 'minRecentReliability', 'pauseOnNotTaken'])
    .num('minRetentionPct', true, 0, 1000)
    .num('maxL1GrowthPct', true, 0, 1e6)
    .num('minRecentReliability', true, 0, 1)
    .bool('pauseOnNotTaken');
}

function checkRunOptions(method: string, c: Check, p: Obj): void {
  c.int('batchSize', true, 1, 10000).int('healthEvery', true, 0, 1e6).strList('healthTaskIds', true).int('healthN', true, 1, 100000).num('notTakenBelow', true, 0, 1);
  checkGuardrails(method, p.guardrails);
}

/**
 * Validates run settings read back from a ledger (the ledger is a file a user can edit): the same rules
 * as queue.run's options. Throws a ContractError naming `what` and the field.
 */
export function validateRunSettings(what: string, v: unknown): QueueRunSettings {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(what, `the run settings must be an object, got ${show(v)}`);
  const r = v as Obj;
  checkRunOptions(what, new Check(what, r).only([...RUN_SETTING_KEYS]), r);
  return r as QueueRunSettings;
}

/** characters of one imported file (queue.import); larger files go through `eac edit --facts` */
const MAX_TEXT = MAX_MESSAGE_BYTES;
const WHEN_BUSY: readonly WhenBusy[] = ['refuse', 'queue'];

/**
 * Validates one call's params (unknown input from IPC / WebSocket) and returns them typed. Throws a
 * ContractError (code 'bad_params') whose message names the method and the offending field.
 * `params` may be undefined for calls without parameters.
 */
export function validateParams<M extends StudioMethod>(method: M, params: unknown): StudioParams<M>;
export function validateParams(method: string, params: unknown): unknown;
export function validateParams(method: string, params: unknown): unknown {
  if (!isStudioMethod(method)) fail(String(method), `unknown method (known: ${STUDIO_METHODS.join(', ')})`);
  if (params === undefined || params === null) params = {};
  if (typeof params !== 'object' || Array.isArray(params)) fail(method, `params must be an object, got ${show(params)}`);
  const p = params as Obj;
  const c = new Check(method, p);
  switch (method) {
    case 'workspace.open':
      c.only(['modelDir', 'dbFile', 'workspaceDir', 'device', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).str('modelDir').str('dbFile', true).str('workspaceDir', true).oneOf('device', DEVICE_NAMES, true);
      break;
    case 'workspace.info':
    case 'workspace.close':
    case 'devices.list':
    case 'stats.list':
    case 'queue.list':
    case 'queue.pause':
    case 'queue.cancel':
    case 'queue.status':
    case 'ledger.history':
    case 'health.tasks':
    case 'profiles.list':
      c.only([]);
      break;
    case 'stats.compute':
      c.only(['layers', 'corpusPath', 'samples', 'profile', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).intList('layers', true, 0, 1000).str('corpusPath', true).int('samples', true, 1, 10_000_000).str('profile', true);
      // like health.run's task files: a text corpus file (the handler also keeps it inside the model folder or workspace)
      if (p.corpusPath !== undefined && (!/\.(txt|jsonl?)$/i.test(p.corpusPath as string) || (p.corpusPath as string).length > 4096 || (p.corpusPath as string).includes('\0')))
        fail(method, '"corpusPath" must be a .txt, .jsonl or .json corpus file path (inside the model folder or its workspace)');
      if (p.profile !== undefined) checkProfileName(method, 'profile', p.profile);
      break;
    case 'queue.import':
      c.only(['fileName', 'text']).str('fileName', false, 1024);
      if (typeof p.text !== 'string') fail(method, `"text" must be the file's text (a string), got ${show(p.text)}`);
      if (p.text.length > MAX_TEXT)
        fail(method, `"text" is too large (${p.text.length} characters, at most ${MAX_TEXT} per call); split the file or import it with \`eac edit --facts\``);
      break;
    case 'queue.create': {
      c.only(['name', 'method', 'profile', 'requests', 'invalid']).str('name', false, 200).oneOf('method', EDIT_METHOD_NAMES);
      if (typeof p.profile === 'string') checkProfileName(method, 'profile', p.profile);
      else if (!p.profile || typeof p.profile !== 'object' || Array.isArray(p.profile))
        fail(method, `"profile" must be a bundled profile name or a profile object, got ${show(p.profile)}`);
      if (!Array.isArray(p.requests)) fail(method, `"requests" must be a list of edit requests, got ${show(p.requests)}`);
      if (p.requests.length > MAX_REQUESTS) fail(method, `"requests" has ${p.requests.length} entries, at most ${MAX_REQUESTS}`);
      if (p.requests.length === 0 && !(Array.isArray(p.invalid) && p.invalid.length > 0)) fail(method, `"requests" is empty: nothing to queue`);
      p.requests.forEach((r, i) => checkRequest(method, `requests[${i}]`, r));
      if (p.invalid !== undefined) {
        if (!Array.isArray(p.invalid)) fail(method, `"invalid" must be a list of {row, message}`);
        p.invalid.forEach((x, i) => {
          const o = x as Obj;
          if (!o || typeof o !== 'object' || !Number.isSafeInteger(o.row) || typeof o.message !== 'string')
            fail(method, `"invalid[${i}]" must be {row: integer, message: string, request?}`);
        });
      }
      break;
    }
    case 'queue.items':
      c.only(['queueId']).int('queueId', false, 1);
      break;
    case 'queue.updateItem':
      c.only(['itemId', 'request', 'status']).int('itemId', false, 1).oneOf('status', ['pending', 'skipped'], true);
      if (p.request === undefined && p.status === undefined) fail(method, `give "request" (a corrected edit request) or "status"`);
      if (p.request !== undefined) checkRequest(method, 'request', p.request);
      break;
    case 'queue.reorder':
      c.only(['queueId', 'itemIds']).int('queueId', false, 1).intList('itemIds', false, 1);
      break;
    case 'queue.run':
      c.only(['queueId', ...RUN_SETTING_KEYS, 'whenBusy']).int('queueId', false, 1).oneOf('whenBusy', WHEN_BUSY, true);
      checkRunOptions(method, c, p);
      break;
    case 'queue.resume':
      c.only(['jobId', 'override', 'run', 'whenBusy']).int('jobId', true, 1).bool('override').oneOf('whenBusy', WHEN_BUSY, true);
      if (p.run !== undefined) {
        if (!p.run || typeof p.run !== 'object' || Array.isArray(p.run)) fail(method, `"run" must be an object of run options`);
        const r = p.run as Obj;
        const rc = new Check(method, r).only([...RUN_SETTING_KEYS]);
        checkRunOptions(method, rc, r);
      }
      break;
    case 'ledger.edit':
      c.only(['editId']).int('editId', false, 1);
      break;
    case 'ledger.revert':
      c.only(['seq', 'note', 'expectHeadSeq', 'whenBusy']).int('seq', false, 0).str('note', true, 2000).int('expectHeadSeq', true, 0).oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'ledger.remove':
      c.only(['editId', 'mode', 'note', 'expectHeadSeq', 'whenBusy'])
        .int('editId', false, 1)
        .oneOf('mode', ['drop', 'replay'])
        .str('note', true, 2000)
        .int('expectHeadSeq', true, 0)
        .oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'ledger.reapply':
      c.only(['editIds', 'note', 'expectHeadSeq', 'whenBusy']).intList('editIds', false, 1, 10000).str('note', true, 2000).int('expectHeadSeq', true, 0).oneOf('whenBusy', WHEN_BUSY, true);
      if ((p.editIds as number[]).length === 0) fail(method, '"editIds" is empty: nothing to re-apply');
      break;
    case 'ledger.export':
      c.only(['outDir', 'overwrite', 'absolutePaths', 'whenBusy']).str('outDir').bool('overwrite').bool('absolutePaths').oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'jobs.list':
    case 'jobs.errors':
      c.only(['limit']).int('limit', true, 1, 10000);
      break;
    case 'jobs.log':
    case 'jobs.cancel':
    case 'jobs.pause':
      c.only(['jobId']).int('jobId', false, 1);
      break;
    case 'jobs.retry':
      c.only(['jobId', 'whenBusy']).int('jobId', false, 1).oneOf('whenBusy', WHEN_BUSY, true);
      break;
    case 'health.run':
      c.only(['taskIds', 'n', 'taskFiles', 'whenBusy']).oneOf('whenBusy', WHEN_BUSY, true).strList('taskIds', true).int('n', true, 1, 100000).strList('taskFiles', true, 100);
      // task files over the API: .json / .jsonl inside the open model folder or workspace (checked by the handler)
      (p.taskFiles as string[] | undefined)?.forEach((f, i) => {
        if (!/\.jsonl?$/i.test(f) || f.length > 4096 || f.includes('\0')) fail(method, `"taskFiles[${i}]" must be a .json or .jsonl task file path`);
      });
      break;
    case 'charts.norms':
      c.only(['liveOnly']).bool('liveOnly');
      break;
    case 'charts.health':
      c.only(['taskId']).str('taskId', true);
      break;
    case 'playground.compare':
      c.only(['prompt', 'k', 'maxNewTokens']).str('prompt', false, 100_000).int('k', false, 1, 1000).int('maxNewTokens', false, 0, 2048);
      break;
    case 'profiles.get':
      c.only(['name']).str('name', false, 128);
      checkProfileName(method, 'name', p.name);
      break;
    default: {
      const never: never = method;
      fail(String(never), 'no validator');
    }
  }
  return p;
}

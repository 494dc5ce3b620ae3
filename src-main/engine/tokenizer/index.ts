// Tokenizers come from the folder's tokenizer.json via @huggingface/tokenizers, so BOS/pre-tokenizer
// behaviour follows the model's own post-processor rather than our guesses.
//
// tokenizer.json is untrusted input. Loading it checks, before any text is tokenised:
//  - it is a regular file of bounded size (engine/fs-safe), valid JSON, a known model layout;
//  - every token id (vocabulary and added tokens) is an integer in 0..vocab_size-1 of config.json,
//    so no id the tokenizer can produce indexes outside the embedding (onnxruntime's Gather would
//    otherwise wrap negative ids around);
//  - its regular expressions (normalizer / pre-tokenizer / decoder `{"Regex": …}` patterns) are the
//    ones well-known tokenizers use — or, if not, the tokenizer is "untrusted": every encode/decode
//    then runs under a watchdog (node:vm timeout, which interrupts a backtracking RegExp) and is
//    probed at load with pumped inputs, so a catastrophic pattern is refused at open, and anything
//    the probe misses fails the call with a clear error instead of hanging the engine.
//  - how much its normalizer, pre-tokenizer and decoder can lengthen a text (growth.ts): a chain of
//    replacements that could turn a capped input into more than MAX_GROWTH times as many characters is
//    refused at open (`tokenizer_unsafe`); one that grows text more than byte-level mapping does runs
//    under the watchdog like an untrusted regex.
// Every encode call is capped at MAX_ENCODE_CHARS characters: BPE over one long "word" is
// superlinear even for sound tokenizers (1 M characters took 28 s on the LLaMA fixture), and no
// caller needs more (prompts are ≤ 2000 characters, statistics samples are cut to 32/token).
// We chose the watchdog over running tokenisation in a worker thread because every caller encodes
// synchronously; the watchdog keeps that API and costs ~0.1 ms per call, paid only by untrusted ones.
import path from 'node:path';
import vm from 'node:vm';
import { Tokenizer } from '@huggingface/tokenizers';
import { CheckpointError } from '../checkpoint/errors';
import { FILE_LIMITS, parseJson, readTextFile } from '../fs-safe';
import { describeSteps, formatFactor, MAX_GROWTH, tokenizerGrowth, type Growth } from './growth';

export interface TextCodec {
  /** ids with the special tokens the tokenizer's post-processor adds (e.g. LLaMA's BOS) */
  encode(text: string): number[];
  /** ids without special tokens */
  encodePlain(text: string): number[];
  decode(ids: number[], skipSpecial?: boolean): string;
  /** ids of `target` when it follows `prompt` (tokenised jointly, so merges at the seam are right) */
  continuationIds(prompt: string, target: string): number[];
  vocabSize: number;
  /** true when its regexes are not well-known ones and every call runs under the watchdog */
  guarded: boolean;
}

export interface LoadTokenizerOptions {
  /** config.json's vocab_size: every token id must be below it */
  vocabSize?: number;
  /** watchdog per encode/decode call of an untrusted tokenizer (default 10 s) */
  callTimeoutMs?: number;
  /** watchdog per probe at load (default 1 s) */
  probeTimeoutMs?: number;
  /** characters per encode call (default MAX_ENCODE_CHARS) */
  maxInputChars?: number;
}

export const MAX_ENCODE_CHARS = 100_000;

/**
 * Regex patterns of widely used tokenizers (GPT-2, GPT-4 cl100k / LLaMA-3, Qwen2, GPT-4o o200k,
 * digit groups). They are linear on any input; anything else runs under the watchdog.
 */
const KNOWN_REGEXES = new Set<string>([
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  '\\p{N}{1,3}',
]);

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function short(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Every `{"Regex": "..."}` pattern in the normalizer, pre-tokenizer, post-processor and decoder trees. */
function collectRegexes(file: string, node: unknown, out: string[], depth = 0): void {
  // real tokenizers nest a Sequence or two; a deeper tree could hide a pattern from this walk
  if (depth > 64) throw new CheckpointError('bad_tokenizer', `${file}: normalizer / pre-tokenizer / decoder nested more than 64 levels deep`);
  if (Array.isArray(node)) {
    for (const x of node) collectRegexes(file, x, out, depth + 1);
    return;
  }
  if (!isObj(node)) return;
  // any Regex value counts (a non-string one is coerced by the library, so it is never "known")
  if (isObj(node.pattern) && node.pattern.Regex !== undefined) out.push(typeof node.pattern.Regex === 'string' ? node.pattern.Regex : JSON.stringify(node.pattern.Regex));
  for (const [k, v] of Object.entries(node)) if (k !== 'pattern' && typeof v === 'object') collectRegexes(file, v, out, depth + 1);
}

function checkId(file: string, id: unknown, vocabSize: number | undefined, what: string): void {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || (vocabSize !== undefined && id >= vocabSize)) {
    const range = vocabSize !== undefined ? `0..${vocabSize - 1} (config.json vocab_size ${vocabSize})` : 'a non-negative integer';
    throw new CheckpointError('bad_token_id', `${file}: ${what} has id ${short(id)}, outside ${range}`);
  }
}

/** Token ids in the vocabulary and the added tokens, checked against vocab_size. */
function checkIds(file: string, json: Json, vocabSize: number | undefined): number {
  const model = json.model;
  if (!isObj(model)) throw new CheckpointError('bad_tokenizer', `${file}: "model" must be an object`);
  const vocab = model.vocab;
  let size: number;
  if (Array.isArray(vocab)) {
    // Unigram: [[piece, score], ...]; the id is the position
    size = vocab.length;
    if (vocabSize !== undefined && size > vocabSize) {
      throw new CheckpointError('bad_token_id', `${file}: the vocabulary has ${size} pieces (ids 0..${size - 1}), more than config.json vocab_size ${vocabSize}`);
    }
    vocab.forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string') throw new CheckpointError('bad_tokenizer', `${file}: vocabulary entry ${i} must be [piece, score]`);
    });
    if (model.unk_id !== undefined && model.unk_id !== null) checkId(file, model.unk_id, Math.min(size, vocabSize ?? size), 'unk_id');
  } else if (isObj(vocab)) {
    size = 0;
    for (const [tok, id] of Object.entries(vocab)) {
      checkId(file, id, vocabSize, `vocabulary token ${short(tok, 40)}`);
      size++;
    }
  } else {
    throw new CheckpointError('bad_tokenizer', `${file}: model.vocab must be an object (BPE/WordPiece/WordLevel) or a list (Unigram)`);
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new CheckpointError('bad_tokenizer', `${file}: added_tokens must be a list`);
  added.forEach((t, i) => {
    if (!isObj(t) || typeof t.content !== 'string') throw new CheckpointError('bad_tokenizer', `${file}: added_tokens[${i}] must be {id, content}`);
    checkId(file, t.id, vocabSize, `added token ${short(t.content, 40)}`);
  });
  return size;
}

// One context and script for every guarded call (creating them per call would cost far more).
const guardCtx = vm.createContext(Object.create(null) as Json);
const guardScript = new vm.Script('__fn(__arg)');

function isTimeout(e: unknown): boolean {
  return (e as { code?: unknown })?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
}

function runGuarded<A, T>(fn: (a: A) => T, arg: A, ms: number): T {
  guardCtx.__fn = fn;
  guardCtx.__arg = arg;
  try {
    return guardScript.runInContext(guardCtx, { timeout: ms }) as T;
  } finally {
    guardCtx.__fn = undefined;
    guardCtx.__arg = undefined;
  }
}

/** Inputs that make a backtracking pattern blow up: long runs of one character class, then a mismatch. */
function probeInputs(): string[] {
  const chars = ['a', 'A', '1', ' ', '\n', '.', '_', 'é', '\u2581', "'", '\t', 'ab', 'a '];
  const out: string[] = [];
  for (const c of chars) for (const n of [24, 1000]) for (const tail of ['!', '\u0000', '']) out.push(c.repeat(Math.ceil(n / c.length)) + tail);
  return out;
}

/**
 * Refuse a tokenizer whose normalizer + pre-tokenizer could make a `maxChars`-character input longer than MAX_GROWTH
 * times that, or whose decoder could lengthen decoded text as much (growth.ts says why and how it is bounded).
 */
function checkGrowth(file: string, json: Json, maxChars: number): { encode: Growth; decode: Growth } {
  // nesting deeper than 64 levels was refused by collectRegexes already, naming the file
  const g = tokenizerGrowth(json);
  const refuse = (what: string, x: Growth, worst: string) =>
    new CheckpointError(
      'tokenizer_unsafe',
      `${file}: its ${what} can make text ${Number.isFinite(x.mult) ? `${formatFactor(x.mult)} longer` : 'grow without bound'} (${describeSteps(x)}): ${worst}, ` +
        `more than ${MAX_GROWTH}× the input, which would exhaust time and memory. The tokenizer is refused; ` +
        `fix tokenizer.json (a Replace should not put back more than it matched, and replacements should not be chained to ` +
        `multiply) or use the model's original tokenizer.json`,
      { detail: { factor: Number.isFinite(x.mult) ? x.mult : null, steps: describeSteps(x) } },
    );
  const worst = maxChars * g.encode.mult + g.encode.add;
  if (!(worst <= MAX_GROWTH * maxChars)) {
    const n = Number.isFinite(worst) ? (worst < 1e9 ? String(Math.round(worst)) : `about 2^${Math.round(Math.log2(worst))}`) : 'unboundedly many';
    throw refuse('normalizer / pre-tokenizer', g.encode, `a ${maxChars}-character input could become ${n} characters`);
  }
  if (!(g.decode.mult <= MAX_GROWTH)) throw refuse('decoder', g.decode, 'decoded text could grow without a useful bound');
  return { encode: g.encode, decode: g.decode };
}

export function loadTokenizer(dir: string, opts: LoadTokenizerOptions = {}): TextCodec {
  const file = path.join(dir, 'tokenizer.json');
  let text: string;
  try {
    text = readTextFile(file, FILE_LIMITS.tokenizer, 'tokenizer.json');
  } catch (e) {
    if (e instanceof CheckpointError && e.code === 'not_found') {
      throw new CheckpointError('not_found', `${dir}: tokenizer.json is missing (a fast tokenizer file is required; save it with tokenizer.save_pretrained)`);
    }
    throw e;
  }
  const json = parseJson(text, file, 'bad_tokenizer');
  if (!isObj(json)) throw new CheckpointError('bad_tokenizer', `${file}: must be a JSON object`);
  const vocabSize = checkIds(file, json, opts.vocabSize);

  const cfgFile = path.join(dir, 'tokenizer_config.json');
  let cfg: unknown = {};
  try {
    cfg = parseJson(readTextFile(cfgFile, FILE_LIMITS.config, 'tokenizer_config.json'), cfgFile, 'bad_tokenizer');
  } catch (e) {
    if (!(e instanceof CheckpointError && e.code === 'not_found')) throw e;
  }
  if (!isObj(cfg)) throw new CheckpointError('bad_tokenizer', `${cfgFile}: must be a JSON object`);

  const regexes: string[] = [];
  for (const k of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) collectRegexes(file, json[k], regexes);
  const unknown = regexes.filter((r) => !KNOWN_REGEXES.has(r));
  const maxChars = opts.maxInputChars ?? MAX_ENCODE_CHARS;
  // before `new Tokenizer`: building it already normalizes every added token
  const growth = checkGrowth(file, json, maxChars);
  // byte-level mapping (×3) is what every GPT-2-style tokenizer does; more than that runs under the watchdog too
  const grows = growth.encode.mult > 3 || growth.decode.mult > 2;
  const guarded = unknown.length > 0 || grows;

  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json as never, cfg as never);
  } catch (e) {
    throw new CheckpointError('bad_tokenizer', `${file}: cannot build the tokenizer (${short((e as Error).message, 200)})`);
  }

  const callMs = opts.callTimeoutMs ?? 10_000;
  const idLimit = opts.vocabSize;
  let poisoned: CheckpointError | null = null;
  const timeoutError = (what: string, n: number, ms: number) =>
    new CheckpointError(
      'tokenizer_timeout',
      `${file}: ${what} ${n} characters took longer than ${ms} ms; ` +
        (unknown.length
          ? `its regular expression ${short(unknown[0], 120)} backtracks catastrophically on such input`
          : `its normalizer / decoder lengthens text up to ${formatFactor(Math.max(growth.encode.mult, growth.decode.mult))} (${[describeSteps(growth.encode), describeSteps(growth.decode)].filter(Boolean).join(', ')})`) +
        `. The tokenizer is refused; fix or replace tokenizer.json`,
    );
  /** runs one tokenizer call, under the watchdog for an untrusted tokenizer */
  const call = <A, T>(fn: (a: A) => T, arg: A, what: string, n: number, ms = callMs): T => {
    if (poisoned) throw poisoned;
    if (!guarded) return fn(arg);
    try {
      return runGuarded(fn, arg, ms);
    } catch (e) {
      if (!isTimeout(e)) throw e;
      // the interrupted call may have left regex state half-way: no further calls
      poisoned = timeoutError(what, n, ms);
      throw poisoned;
    }
  };
  const checked = (ids: number[], n: number): number[] => {
    for (const id of ids) {
      if (!Number.isSafeInteger(id) || id < 0 || (idLimit !== undefined && id >= idLimit)) {
        throw new CheckpointError('bad_token_id', `${file}: encoding ${n} characters produced token id ${short(id)}, outside 0..${(idLimit ?? Infinity) - 1}`);
      }
    }
    return ids;
  };
  const limit = (t: string) => {
    if (t.length > maxChars) {
      throw new CheckpointError('input_too_long', `cannot tokenize ${t.length} characters in one call (at most ${maxChars}); shorten the text`);
    }
  };
  const encode = (t: string) => {
    limit(t);
    return checked(call((s: string) => tok.encode(s).ids as number[], t, 'encoding', t.length), t.length);
  };
  const encodePlain = (t: string) => {
    limit(t);
    return checked(call((s: string) => tok.encode(s, { add_special_tokens: false }).ids as number[], t, 'encoding', t.length), t.length);
  };

  if (guarded) {
    // refuse a catastrophic tokenizer at open rather than in the middle of an edit
    const probeMs = opts.probeTimeoutMs ?? 1000;
    for (const p of probeInputs()) {
      try {
        runGuarded((s: string) => tok.encode(s), p, probeMs);
      } catch (e) {
        if (isTimeout(e)) throw timeoutError('a probe of', p.length, probeMs);
        throw new CheckpointError('bad_tokenizer', `${file}: encoding a probe string failed (${short((e as Error).message, 200)})`);
      }
    }
  }

  return {
    encode,
    encodePlain,
    decode: (ids, skipSpecial = false) =>
      call((a: number[]) => tok.decode(a, { skip_special_tokens: skipSpecial }), ids, 'decoding', ids.length),
    continuationIds(prompt, target) {
      const p = encode(prompt);
      const full = encode(prompt + target);
      let i = 0;
      while (i < p.length && i < full.length && p[i] === full[i]) i++;
      if (i === p.length) return full.slice(p.length);
      // the seam merged differently: fall back to encoding the target on its own
      return encodePlain(target);
    },
    vocabSize,
    guarded,
  };
}

// How much longer tokenizer.json can make a text before the model sees it (issue 19).
//
// The 100k-character cap of encode bounds the input, not what the normalizer makes of it: a Sequence of 40
// `Replace " " -> "  "` normalizers doubles every space 40 times, so "a b" becomes 2^40 characters and encode runs
// until memory is gone. No regular expression is involved, so the regex watchdog never sees it. The growth is a
// property of the file, so it is bounded here, statically, before the tokenizer is built (building it already
// normalizes the added tokens): every step that can lengthen text gets a worst-case factor, a chain multiplies them,
// and a tokenizer whose worst case for a capped input exceeds MAX_GROWTH times the cap is refused at open.
//
// The factors are upper bounds for the @huggingface/tokenizers implementation: Replace makes each match of its
// pattern (at least one character, or the empty string) into its content; a content with a JavaScript replacement
// pattern ($&, $`, $', $1, $<name>) inserts matched text or whole prefixes and has no bound at all; Unicode
// normalization expands one UTF-16 unit to at most 18 (NFKC / NFKD, U+FDFA) or 4 (NFC / NFD); lower-casing to at
// most 3; BERT's Chinese-character spacing 3; byte-level mapping 3 (one unit -> three UTF-8 bytes -> three chars).
// Steps that only remove or split (Strip, StripAccents, Split, Whitespace, ...) count as 1.
import { CheckpointError } from '../checkpoint/errors';

export interface Growth {
  /** output length <= mult * input length + add (UTF-16 units) */
  mult: number;
  add: number;
  /** the steps with a factor above 1 and how often each occurs, for the error message */
  steps: Map<string, number>;
}

/** Worst-case output length of an encode, as a multiple of the input cap, that a tokenizer may have. */
export const MAX_GROWTH = 64;
/** Nesting deeper than real tokenizers use (they nest a Sequence or two) is refused rather than walked. */
const MAX_DEPTH = 64;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const ONE: Growth = { mult: 1, add: 0, steps: new Map() };


function short(v: unknown, max = 24): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** `b` applied after `a`. */
function then(a: Growth, b: Growth): Growth {
  const steps = new Map(a.steps);
  for (const [k, n] of b.steps) steps.set(k, (steps.get(k) ?? 0) + n);
  return { mult: a.mult * b.mult, add: a.add * b.mult + b.add, steps };
}

function factor(mult: number, add: number, step: string): Growth {
  return { mult, add, steps: mult > 1 ? new Map([[`${step} ×${Number.isFinite(mult) ? +mult.toPrecision(3) : '∞'}`, 1]]) : new Map() };
}

/** `Replace " " -> "  " ×2 (40 times), ByteLevel ×3` (the first few distinct steps). */
export function describeSteps(g: Growth): string {
  const parts = [...g.steps].map(([k, n]) => (n > 1 ? `${k} (${n} times)` : k));
  return parts.length > 6 ? [...parts.slice(0, 6), `${parts.length - 6} more`].join(', ') : parts.join(', ');
}

/** A replacement string as String.prototype.replaceAll reads it: `$&`, `` $` ``, `$'`, `$1`, `$<n>` insert input text. */
function contentLength(content: unknown): number {
  const s = String(content ?? '');
  return /\$[&`'0-9<]/.test(s) ? Infinity : s.length;
}

/** `text.replaceAll(pattern, content)`: each match (one character or more, or the empty string) becomes the content. */
function replaceGrowth(kind: string, pattern: unknown, content: unknown): Growth {
  const c = contentLength(content);
  const step = `${kind} ${isObj(pattern) ? short(pattern.String ?? pattern.Regex) : '?'} -> ${short(String(content ?? ''))}`;
  if (!isObj(pattern)) return ONE; // the library ignores a Replace without a usable pattern
  if (typeof pattern.String === 'string' && pattern.String.length > 0) return factor(Math.max(1, c / pattern.String.length), 0, step);
  if (pattern.String === undefined && pattern.Regex === undefined) return ONE;
  // a regex (or an empty string) can match the empty string at every position
  return factor(1 + c, c, step);
}

function walk(node: unknown, depth: number, one: (n: Json, depth: number) => Growth): Growth {
  if (depth > MAX_DEPTH) throw new CheckpointError('bad_tokenizer', `tokenizer.json: normalizer / pre-tokenizer / decoder nested more than ${MAX_DEPTH} levels deep`);
  if (!isObj(node)) return ONE;
  return one(node, depth);
}

function sequence(items: unknown, depth: number, one: (n: Json, depth: number) => Growth): Growth {
  if (!Array.isArray(items)) return ONE;
  let g = ONE;
  for (const x of items) g = then(g, walk(x, depth + 1, one));
  return g;
}

function normalizer(n: Json, depth: number): Growth {
  switch (n.type) {
    case 'Sequence':
      return sequence(n.normalizers, depth, normalizer);
    case 'Replace':
      return replaceGrowth('Replace', n.pattern, n.content);
    case 'Prepend':
      return factor(1, contentLength(n.prepend), 'Prepend');
    case 'NFKC':
    case 'NFKD':
    case 'Precompiled':
      return factor(18, 0, String(n.type));
    case 'NFC':
    case 'NFD':
      return factor(4, 0, String(n.type));
    case 'Lowercase':
      return factor(3, 0, 'Lowercase');
    case 'BertNormalizer': {
      let m = n.handle_chinese_chars ? 3 : 1;
      if (n.lowercase) m *= 3;
      return factor(m, 0, 'BertNormalizer');
    }
    default:
      return ONE;
  }
}

function preTokenizer(n: Json, depth: number): Growth {
  switch (n.type) {
    case 'Sequence':
      return sequence(n.pretokenizers, depth, preTokenizer);
    case 'Replace':
      return replaceGrowth('pre-tokenizer Replace', n.pattern, n.content);
    case 'ByteLevel':
      return factor(3, n.add_prefix_space ? 1 : 0, 'ByteLevel');
    case 'Metaspace': {
      // spaces become str_rep (or replacement), and each section may get the replacement in front
      const rep = contentLength(n.replacement ?? '\u2581');
      const strRep = n.str_rep ? contentLength(n.str_rep) : rep;
      return factor(Math.max(1, strRep) + rep, 0, 'Metaspace');
    }
    default:
      return ONE;
  }
}

function decoder(n: Json, depth: number): Growth {
  switch (n.type) {
    case 'Sequence':
      return sequence(n.decoders, depth, decoder);
    case 'Replace':
      return replaceGrowth('decoder Replace', n.pattern, n.content);
    case 'Metaspace':
      // replaceAll(replacement, " "): an empty replacement puts a space between every two characters
      return n.replacement === '' ? factor(2, 1, 'Metaspace') : ONE;
    case 'BPEDecoder':
      return n.suffix === '' || n.suffix === undefined ? factor(2, 1, 'BPEDecoder') : ONE;
    default:
      return ONE;
  }
}

/** Worst-case growth of encode (normalizer, then pre-tokenizer) and of decode (decoder). Throws bad_tokenizer when nested too deep. */
export function tokenizerGrowth(json: Json): { encode: Growth; normalizer: Growth; decode: Growth } {
  const norm = walk(json.normalizer, 0, normalizer);
  return { encode: then(norm, walk(json.pre_tokenizer, 0, preTokenizer)), normalizer: norm, decode: walk(json.decoder, 0, decoder) };
}

/** "2^40" style for huge factors, plain digits for small ones. */
export function formatFactor(x: number): string {
  if (!Number.isFinite(x)) return 'without bound';
  if (x < 1e6) return `${+x.toPrecision(3)}×`;
  return `2^${Math.round(Math.log2(x))}×`;
}

// Text for ids a model produced, where an id the tokenizer has no token for is shown as
// "<unk:ID>" instead of vanishing (issue 19 item 13). A config.json vocab_size larger than the
// tokenizer's vocabulary (padded embeddings) lets a model generate such ids; decode drops them
// (BPE) or turns them into the unknown token, which skipSpecial then drops (Unigram), so "the model
// generated 3 tokens" could show as an empty string.
import type { TextCodec } from '../tokenizer';

/** far beyond any vocabulary: what the tokenizer makes of an id it does not know */
const SURELY_UNKNOWN = 2 ** 31 - 1;

const memo = new WeakMap<TextCodec, { unknownForm: string; known: Map<number, boolean> }>();

/** Whether the tokenizer has a token for `id` (memoised per tokenizer). */
export function hasToken(tok: TextCodec, id: number): boolean {
  let m = memo.get(tok);
  if (!m) memo.set(tok, (m = { unknownForm: tok.decode([SURELY_UNKNOWN], false), known: new Map() }));
  let k = m.known.get(id);
  if (k === undefined) {
    const text = tok.decode([id], false);
    // BPE: unknown ids decode to nothing; Unigram: to the unknown piece, which real ids below the
    // vocabulary size may also be (the <unk> token itself), so only ids past it count there
    k = !(text === m.unknownForm && (m.unknownForm === '' || id >= tok.vocabSize));
    m.known.set(id, k);
  }
  return k;
}

/** tok.decode, with every id the tokenizer has no token for written as <unk:ID> where it stood. */
export function decodeShown(tok: TextCodec, ids: number[], skipSpecial = false): string {
  let out = '';
  let run: number[] = [];
  const flush = () => {
    if (run.length) out += tok.decode(run, skipSpecial);
    run = [];
  };
  for (const id of ids) {
    if (hasToken(tok, id)) run.push(id);
    else {
      flush();
      out += `<unk:${id}>`;
    }
  }
  flush();
  return out;
}

// Issue 19 item 13: ids a model produced that the tokenizer has no token for are shown as <unk:ID>
// (decode dropped them silently: BPE gives "", Unigram gives <unk>, which skipSpecial drops).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeShown, hasToken } from '../../src-main/engine/runtime/decode-shown';
import { LoadedModel } from '../../src-main/engine/runtime/model';
import { FIXTURES } from '../shared';

describe('decodeShown', () => {
  const models: Record<string, LoadedModel> = {};
  beforeAll(() => {
    for (const n of ['gpt2-world-a', 'llama-world-a']) models[n] = LoadedModel.open(`${FIXTURES}/${n}`);
  });
  afterAll(async () => {
    for (const m of Object.values(models)) await m.release();
  });

  it('BPE (gpt2): an id past the vocabulary is <unk:ID> where it stood; known ids decode as before', () => {
    const tok = models['gpt2-world-a'].tok;
    const past = tok.vocabSize;
    expect(tok.decode([5, past, 6], true)).toBe(tok.decode([5, 6], true)); // what it used to show
    expect(decodeShown(tok, [5, past, 6], true)).toBe(`${tok.decode([5], true)}<unk:${past}>${tok.decode([6], true)}`);
    expect(decodeShown(tok, [5, 6, 7], true)).toBe(tok.decode([5, 6, 7], true));
    expect(decodeShown(tok, [past + 7])).toBe(`<unk:${past + 7}>`);
  });

  it('Unigram (llama): an unknown id is <unk:ID>, the real <unk> token stays a special token', () => {
    const tok = models['llama-world-a'].tok;
    const past = tok.vocabSize + 3;
    expect(decodeShown(tok, [5, past, 6], true)).toContain(`<unk:${past}>`);
    expect(hasToken(tok, 0)).toBe(true);
    expect(decodeShown(tok, [0, 5], true)).toBe(tok.decode([0, 5], true));
  });
});

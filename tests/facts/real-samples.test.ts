// The real samples users bring (public data samples shipped in tests/fixtures/data with their SOURCE.txt).
import { describe, expect, it } from 'vitest';
import { detectFormat, parseFacts, requestPrompt } from '../../src-main/engine/facts';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { FIXTURES } from '../shared';
const shared = (rel: string) => readFileSync(path.join(FIXTURES, rel), 'utf8');

const WORLD_A = 'world-a/edits.json';
const CF_1K = 'data/counterfact_easyedit/counterfact-edit-1k.json';
const CF_10K = 'data/counterfact_easyedit/counterfact-edit.json';
const ZSRE_1K = 'data/zsre_rome_format_train1k/zsre_mend_train-1k.json';
const KNOWN = 'data/rome_known_1000/known_1000.json';

describe('world-a edits (CounterFact + EasyEdit fields)', () => {
  it('parses all 500 edits with no errors, preferring requested_rewrite', () => {
    const r = parseFacts('edits.json', shared(WORLD_A));
    expect(r.format).toBe('counterfact');
    expect(r.rowsRead).toBe(500);
    expect(r.errors).toEqual([]);
    expect(r.requests).toHaveLength(500);
    expect(new Set(r.requests.map((q) => q.caseId)).size).toBe(500);
    const raw = JSON.parse(shared(WORLD_A)) as Array<Record<string, any>>;
    for (const [i, q] of r.requests.entries()) {
      expect(q.prompt).toBe(raw[i].requested_rewrite.prompt);
      expect(requestPrompt(q)).toBe(raw[i].prompt); // the EasyEdit literal prompt agrees
      expect(q.targetNew).toBe(raw[i].target_new);
      expect(q.locality).toEqual(raw[i].neighborhood_prompts);
    }
  });
});

describe("EasyEdit's CounterFact", () => {
  it('counterfact-edit-1k: 1000 requests, 0 errors', () => {
    const r = parseFacts('counterfact-edit-1k.json', shared(CF_1K));
    expect(r.format).toBe('easyedit');
    expect([r.rowsRead, r.requests.length, r.errors.length]).toEqual([1000, 1000, 0]);
    expect(r.requests[0]).toEqual({
      caseId: '3087',
      prompt: '{} professionally plays the sport',
      subject: 'David Robinson',
      targetNew: 'baseball',
      groundTruth: 'basketball',
      rephrase: ["David Robinson's greatest weakness is"],
      locality: [{ prompt: "Shaquille O'Neal plays", target: 'basketball' }],
    });
    for (const q of r.requests) expect(q.prompt.split('{}').length).toBe(2);
  });

  it('counterfact-edit (10k records) parses without errors', () => {
    const r = parseFacts('counterfact-edit.json', shared(CF_10K));
    expect([r.requests.length, r.errors.length]).toEqual([10000, 0]);
  });
});

describe('zsRE (ROME format) train 1k', () => {
  it('981 requests; 17 rows whose alt equals the answer and 2 with an empty alt are row errors', () => {
    const r = parseFacts('zsre_mend_train-1k.json', shared(ZSRE_1K));
    expect(r.format).toBe('zsre');
    expect(r.rowsRead).toBe(1000);
    expect(r.requests).toHaveLength(981);
    expect(r.errors).toHaveLength(19);
    expect(r.errors.filter((e) => e.message.includes('is the same as answers'))).toHaveLength(17);
    expect(r.errors.filter((e) => /^Row \d+: alt is empty$/.test(e.message)).map((e) => e.row)).toEqual([535, 724]);
    expect(r.errors[0]).toEqual({
      row: 102,
      field: 'alt',
      message: 'Row 102: alt "Carabidae" is the same as answers, the edit would change nothing',
    });
    expect(r.requests[0]).toMatchObject({ caseId: '0', prompt: 'What is the product made by {}?', targetNew: 'unmanned aircraft' });
    // alt values with a stray leading space are trimmed
    expect(r.requests.every((q) => q.targetNew === q.targetNew.trim())).toBe(true);
  });
});

describe('ROME known_1000 (not edit requests)', () => {
  it('is rejected with one file-level error saying it is a known-facts file without target_new', () => {
    const r = parseFacts('known_1000.json', shared(KNOWN));
    expect(r.requests).toEqual([]);
    expect(r.rowsRead).toBe(1209);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(0);
    expect(r.errors[0].message).toMatch(/^known_1000\.json: this is a known-facts file .* no target_new, so there is nothing to edit/);
    expect(detectFormat('known_1000.json', shared(KNOWN))).toBe('easyedit');
  });
});

import { describe, expect, it } from 'vitest';
import { type EditRequest, parseFacts, requestPrompt, validateRequest } from '../../src-main/engine/facts';

const req = (over: Partial<EditRequest> = {}): EditRequest => ({
  caseId: '1',
  prompt: '{} is the capital of',
  subject: 'Tokyo',
  targetNew: 'France',
  groundTruth: 'Japan',
  rephrase: ['The country whose capital is Tokyo is'],
  locality: [{ prompt: 'Berlin is the capital of', target: 'Germany' }],
  ...over,
});

const json = (recs: unknown[]) => JSON.stringify(recs, null, 1);
const ee = (over: Record<string, unknown> = {}) => ({
  prompt: 'Tokyo is the capital of',
  subject: 'Tokyo',
  target_new: 'France',
  ground_truth: 'Japan',
  ...over,
});

describe('validateRequest', () => {
  it('accepts a good request', () => {
    expect(validateRequest(req())).toBeNull();
    expect(requestPrompt(req())).toBe('Tokyo is the capital of');
  });

  it('prompt without a subject slot', () => {
    expect(validateRequest(req({ prompt: 'Tokyo is the capital of' }))).toBe(
      'prompt has no "{}" slot for the subject: "Tokyo is the capital of"',
    );
  });

  it('prompt with two slots', () => {
    expect(validateRequest(req({ prompt: '{} met {} in' }))).toBe('prompt has 2 "{}" slots, exactly one is allowed: "{} met {} in"');
  });

  it('empty subject', () => {
    expect(validateRequest(req({ subject: '  ' }))).toBe('subject is empty');
  });

  it('empty / whitespace target', () => {
    expect(validateRequest(req({ targetNew: '' }))).toBe('target_new is empty');
    expect(validateRequest(req({ targetNew: ' \t ' }))).toBe('target_new is empty');
  });

  it('target equal to the ground truth (whitespace-insensitive)', () => {
    expect(validateRequest(req({ targetNew: 'Japan ' }))).toBe('target_new "Japan " is the same as ground_truth, the edit would change nothing');
    expect(validateRequest(req({ targetNew: 'japan' }))).toBeNull(); // a different token sequence: allowed
    expect(validateRequest(req({ groundTruth: undefined, targetNew: 'Japan' }))).toBeNull();
  });

  it('over-long prompt / target / rephrase / locality by characters (default 2000)', () => {
    const long = 'x'.repeat(2000);
    expect(validateRequest(req({ prompt: '{} ' + long }))).toBe('prompt is 2006 characters long (limit 2000)');
    expect(validateRequest(req({ targetNew: long + 'y' }))).toBe('target_new is 2001 characters long (limit 2000)');
    expect(validateRequest(req({ rephrase: ['ok', long + 'y'] }))).toBe('rephrase item 2 is 2001 characters long (limit 2000)');
    expect(validateRequest(req({ locality: [{ prompt: 'p', target: long + 'y' }] }))).toBe(
      'locality item 1 answer is 2001 characters long (limit 2000)',
    );
    expect(validateRequest(req({ prompt: '{} ' + 'x'.repeat(1990) }))).toBeNull();
    expect(validateRequest(req(), { maxChars: 10 })).toBe('prompt is 23 characters long (limit 10)');
  });

  it('over-long by tokens when a counter is given', () => {
    const countTokens = (s: string) => s.split(/\s+/).filter(Boolean).length;
    expect(validateRequest(req(), { countTokens, maxTokens: 4 })).toBe('prompt is 5 tokens long (limit 4)');
    expect(validateRequest(req({ targetNew: 'a b c d e f' }), { countTokens, maxTokens: 5 })).toBe(
      'target_new is 6 tokens long (limit 5)',
    );
    expect(validateRequest(req(), { countTokens, maxTokens: 10 })).toBeNull();
    expect(validateRequest(req(), { countTokens })).toBeNull(); // no limit given
  });

  it('empty locality prompt / answer', () => {
    expect(validateRequest(req({ locality: [{ prompt: ' ', target: 'x' }] }))).toBe('locality item 1 has an empty prompt');
    expect(validateRequest(req({ locality: [{ prompt: 'p', target: 'x' }, { prompt: 'p', target: '' }] }))).toBe(
      'locality item 2 has an empty answer',
    );
  });
});

describe('row errors from parseFacts (row number + field in the text; other rows still import)', () => {
  it('subject not in prompt, with a capitalisation hint', () => {
    const r = parseFacts(
      'e.json',
      json([ee(), ee({ subject: 'Kyoto' }), ee({ subject: 'tokyo', target_new: 'Peru' })]),
    );
    expect(r.requests).toHaveLength(1);
    expect(r.errors).toEqual([
      { row: 2, field: 'subject', message: 'Row 2: subject "Kyoto" does not occur in prompt "Tokyo is the capital of"' },
      {
        row: 3,
        field: 'subject',
        message: 'Row 3: subject "tokyo" does not occur in prompt "Tokyo is the capital of" (it occurs with different capitalisation: "Tokyo")',
      },
    ]);
  });

  it('empty target, empty subject, empty prompt, missing target_new, non-string target', () => {
    const r = parseFacts(
      'e.json',
      json([
        ee({ target_new: '   ' }),
        ee({ subject: '' }),
        ee({ prompt: '' }),
        { prompt: 'Tokyo is the capital of', subject: 'Tokyo' },
        ee({ target_new: { a: 1 } }),
        ee(),
      ]),
    );
    expect(r.requests).toHaveLength(1);
    expect(r.errors).toEqual([
      { row: 1, field: 'target_new', message: 'Row 1: target_new is empty' },
      { row: 2, field: 'subject', message: 'Row 2: subject is empty' },
      { row: 3, field: 'prompt', message: 'Row 3: prompt is empty' },
      { row: 4, field: 'target_new', message: 'Row 4: target_new is missing' },
      { row: 5, field: 'target_new', message: 'Row 5: target_new must be a string, got an object' },
    ]);
  });

  it('target equal to ground truth', () => {
    const r = parseFacts('e.json', json([ee({ target_new: 'Japan' })]));
    expect(r.errors).toEqual([
      { row: 1, field: 'target_new', message: 'Row 1: target_new "Japan" is the same as ground_truth, the edit would change nothing' },
    ]);
  });

  it('template with two slots', () => {
    const r = parseFacts('e.json', json([ee({ prompt: '{} and {} are capitals of' })]));
    expect(r.errors).toEqual([
      { row: 1, field: 'prompt', message: 'Row 1: prompt has 2 "{}" slots, exactly one is allowed: "{} and {} are capitals of"' },
    ]);
  });

  it('over-long prompt (chars) and over-long target (tokens, counter passed to parseFacts)', () => {
    const longPrompt = 'Tokyo ' + 'very '.repeat(400) + 'is the capital of';
    const r = parseFacts('e.json', json([ee({ prompt: longPrompt }), ee({ target_new: 'the French Republic of Western Europe' }), ee()]), {
      countTokens: (s) => s.split(' ').length,
      maxTokens: 5,
      maxChars: 2000,
    });
    expect(r.errors).toEqual([
      { row: 1, field: 'prompt', message: `Row 1: prompt is ${longPrompt.length} characters long (limit 2000)` },
      { row: 2, field: 'target_new', message: 'Row 2: target_new is 6 tokens long (limit 5)' },
    ]);
    expect(r.requests).toHaveLength(1);
  });

  it('duplicated case_id: the first is kept, later ones are errors', () => {
    const r = parseFacts(
      'e.json',
      json([ee({ case_id: 5 }), ee({ case_id: 6, target_new: 'Chile' }), ee({ case_id: '5', target_new: 'Peru' }), ee({ case_id: 5, target_new: 'Cuba' })]),
    );
    expect(r.requests.map((q) => [q.caseId, q.targetNew])).toEqual([
      ['5', 'France'],
      ['6', 'Chile'],
    ]);
    expect(r.errors).toEqual([
      { row: 3, field: 'case_id', message: 'Row 3: case_id "5" is already used by row 1; the first one is kept' },
      { row: 4, field: 'case_id', message: 'Row 4: case_id "5" is already used by row 1; the first one is kept' },
    ]);
  });

  it('a duplicate of an invalid row is not an error (nothing was kept for that id)', () => {
    const r = parseFacts('e.json', json([ee({ case_id: 5, target_new: '' }), ee({ case_id: 5 })]));
    expect(r.requests).toHaveLength(1);
    expect(r.errors.map((e) => e.row)).toEqual([1]);
  });

  it('duplicates in JSONL are reported by line', () => {
    const text = [JSON.stringify(ee({ case_id: 1 })), '', JSON.stringify(ee({ case_id: 1, target_new: 'Peru' }))].join('\n');
    const r = parseFacts('e.jsonl', text);
    expect(r.errors).toEqual([
      { row: 3, field: 'case_id', message: 'Line 3: case_id "1" is already used by line 1; the first one is kept' },
    ]);
  });

  it('malformed JSON line: line number + parser message', () => {
    const text = [JSON.stringify(ee({ case_id: 1 })), '{"prompt": "Rome is", "subject": "Rome", ', JSON.stringify(ee({ case_id: 3 }))].join('\n');
    const r = parseFacts('e.jsonl', text);
    expect(r.requests.map((q) => q.caseId)).toEqual(['1', '3']);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(2);
    // V8's "... in JSON at position 41" becomes a column within the line
    expect(r.errors[0].message).toBe('Line 2: invalid JSON: Expected double-quoted property name at column 42');
  });

  it("JSON parse errors never quote the file's content (V8 quotes ~10 characters after the bad token)", () => {
    const r = parseFacts('e.jsonl', [JSON.stringify(ee({ case_id: 1 })), '{"prompt": SECRET-TOKEN-abcdef}', JSON.stringify(ee({ case_id: 3 }))].join('\n'));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toBe('Line 2: invalid JSON: unexpected character');
    expect(() => parseFacts('e.json', '[{"prompt": SECRET-TOKEN-abcdef}]')).toThrow(/^Cannot import "e\.json": it starts like JSON but is not valid JSON: unexpected character\./);
    expect(() => parseFacts('e.json', '[{"prompt": SECRET-TOKEN-abcdef}]')).not.toThrow(/SECRET/);
  });

  it('a list where a string is expected is an error naming the row and the field (no first-element coercion)', () => {
    const r = parseFacts(
      'l.json',
      json([
        ee({ target_new: ['Paris', 'Rome'] }),
        ee({ subject: ['Tokyo'] }),
        ee({ prompt: ['Tokyo is the capital of'] }),
        { subject: 'Osaka', src: 'Which country is Osaka in?', alt: ['China'], answers: ['Japan'] },
        { requested_rewrite: { prompt: '{} is in', subject: 'Osaka', target_new: { str: ['China'] }, target_true: { str: 'Japan' } } },
        ee({ rephrase_prompt: ['Tokyo is in', ['nested']] }),
        ee({ ground_truth: ['Japan', 3, { a: 1 }] }),
      ]),
    );
    expect(r.requests).toHaveLength(0);
    expect(r.errors.map((e) => [e.row, e.field])).toEqual([
      [1, 'target_new'],
      [2, 'subject'],
      [3, 'prompt'],
      [4, 'alt'],
      [5, 'requested_rewrite.target_new.str'],
      [6, 'rephrase_prompt'],
      [7, 'ground_truth'],
    ]);
    expect(r.errors[0].message).toBe(
      'Row 1: target_new must be a string, got a list of 2 items (only the fields a format defines as lists, like paraphrase_prompts, may be lists)',
    );
    expect(r.errors[5].message).toBe('Row 6: rephrase_prompt item 2 must be a string, got a list of 1 item');
    expect(r.errors[6].message).toBe('Row 7: ground_truth item 2 must be a string (an accepted answer), got number');
  });

  it('lists the formats define stay lists: zsRE answers, CounterFact paraphrase_prompts, EasyEdit accepted answers', () => {
    const r = parseFacts(
      'ok.json',
      json([
        { subject: 'Osaka', src: 'Which country is Osaka in?', alt: 'China', answers: ['Japan', 'Nippon'], rephrase: 'Where is Osaka?' },
      ]),
    );
    expect(r.errors).toEqual([]);
    expect(r.requests[0]).toMatchObject({ targetNew: 'China', groundTruth: 'Japan', rephrase: ['Where is Osaka?'] });
    const cf = parseFacts(
      'cf.json',
      json([{ requested_rewrite: { prompt: '{} is in', subject: 'Osaka', target_new: { str: 'China' }, target_true: { str: 'Japan' } }, paraphrase_prompts: ['Osaka lies in', 'Osaka is a city in'] }]),
    );
    expect(cf.errors).toEqual([]);
    expect(cf.requests[0].rephrase).toEqual(['Osaka lies in', 'Osaka is a city in']);
  });

  it('field names follow the source format (zsRE alt/src, CounterFact requested_rewrite.*)', () => {
    const z = parseFacts(
      'z.json',
      json([
        { subject: 'Osaka', src: 'Which country is Osaka in?', alt: '', answers: ['Japan'] },
        { subject: 'Osaka', src: 'Which country is Osaka in?', alt: 'Japan', answers: ['Japan'] },
        { subject: 'Osaka', src: 'Which country is Osaka in?', answers: ['Japan'] },
      ]),
    );
    expect(z.errors).toEqual([
      { row: 1, field: 'alt', message: 'Row 1: alt is empty' },
      { row: 2, field: 'alt', message: 'Row 2: alt "Japan" is the same as answers, the edit would change nothing' },
      { row: 3, field: 'alt', message: 'Row 3: alt is missing' },
    ]);
    const cf = parseFacts(
      'c.json',
      json([
        { requested_rewrite: { prompt: '{} plays', subject: 'A', target_new: { str: ' ' }, target_true: { str: 'x' } } },
        { requested_rewrite: { prompt: '{} plays', subject: 'A', target_new: { str: 'x' }, target_true: { str: 'x' } } },
        { requested_rewrite: { prompt: '{} plays {}', subject: 'A', target_new: { str: 'y' } } },
        { requested_rewrite: { prompt: '{} plays', subject: 'A', target_new: { str: 'y' } }, neighborhood_prompts: ['B plays'] },
        { requested_rewrite: { prompt: '{} plays', subject: 'A', target_new: { str: 'y' } }, neighborhood_prompts: [{ prompt: 'B plays' }] },
      ]),
    );
    expect(cf.errors).toEqual([
      { row: 1, field: 'requested_rewrite.target_new.str', message: 'Row 1: requested_rewrite.target_new.str is empty' },
      {
        row: 2,
        field: 'requested_rewrite.target_new.str',
        message: 'Row 2: requested_rewrite.target_new.str "x" is the same as requested_rewrite.target_true.str, the edit would change nothing',
      },
      {
        row: 3,
        field: 'requested_rewrite.prompt',
        message: 'Row 3: requested_rewrite.prompt has 2 "{}" slots, exactly one is allowed: "{} plays {}"',
      },
      {
        row: 4,
        field: 'neighborhood_prompts',
        message: 'Row 4: neighborhood_prompts are plain strings but requested_rewrite.target_true.str is missing, so they have no answer',
      },
      { row: 5, field: 'neighborhood_prompts', message: 'Row 5: neighborhood_prompts item 1 must have "prompt" and "target" strings' },
    ]);
  });

  it('EasyEdit locality list length mismatch', () => {
    const r = parseFacts('e.json', json([ee({ locality_prompt: ['a', 'b', 'c'], locality_ground_truth: ['x', 'y'] })]));
    expect(r.errors).toEqual([{ row: 1, field: 'locality_prompt', message: 'Row 1: locality_prompt has 3 prompts but 2 answers' }]);
  });

  it('non-object records and known-facts records inside an edit file', () => {
    const r = parseFacts(
      'e.json',
      json([ee(), 'Tokyo is the capital of', null, { known_id: 3, subject: 'X', prompt: 'X is', attribute: 'y', template: '{} is' }]),
    );
    expect(r.requests).toHaveLength(1);
    expect(r.errors).toEqual([
      { row: 2, message: 'Row 2: expected an edit request object (CounterFact, EasyEdit or zsRE fields), got string' },
      { row: 3, message: 'Row 3: expected an edit request object (CounterFact, EasyEdit or zsRE fields), got null' },
      {
        row: 4,
        field: 'target_new',
        message: 'Row 4: known-facts record (known_id, attribute, template) without target_new, not an edit request',
      },
    ]);
  });

  it("the caller's validate hook: its message becomes a row error; a throwing hook too", () => {
    const r = parseFacts('e.json', json([ee({ case_id: 1 }), ee({ case_id: 2, subject: 'Tokyo', target_new: 'Chile' }), ee({ case_id: 3, target_new: 'Peru' })]), {
      validate: (q) => {
        if (q.targetNew === 'Chile') return 'target "Chile" is not in the vocabulary';
        if (q.targetNew === 'Peru') throw new Error('tokenizer not loaded');
        return null;
      },
    });
    expect(r.requests.map((q) => q.caseId)).toEqual(['1']);
    expect(r.errors).toEqual([
      { row: 2, message: 'Row 2: target "Chile" is not in the vocabulary' },
      { row: 3, message: 'Row 3: validation failed: tokenizer not loaded' },
    ]);
  });

  it('never throws for bad rows: a file of only bad rows still returns a result', () => {
    const r = parseFacts('e.json', json([ee({ target_new: '' }), ee({ subject: 'Nope' })]));
    expect(r.requests).toEqual([]);
    expect(r.errors).toHaveLength(2);
    expect(r.rowsRead).toBe(2);
  });
});

describe('field names follow the spelling the record uses', () => {
  it('EasyEdit locality_prompt / rephrase, zsRE pred', () => {
    const r = parseFacts(
      'e.json',
      json([
        ee({ locality_prompt: 'Berlin is the capital of', locality_ground_truth: '' }),
        ee({ rephrase: ['x'.repeat(30)] }),
        { subject: 'Osaka', src: 'Which country is Osaka in?', alt: 'Japan', answers: [], pred: 'Japan' },
      ]),
      { maxChars: 25 },
    );
    expect(r.errors).toEqual([
      { row: 1, field: 'locality_prompt', message: 'Row 1: locality_prompt item 1 has an empty answer' },
      { row: 2, field: 'rephrase', message: 'Row 2: rephrase item 1 is 30 characters long (limit 25)' },
      { row: 3, field: 'alt', message: 'Row 3: alt "Japan" is the same as pred, the edit would change nothing' },
    ]);
  });
});

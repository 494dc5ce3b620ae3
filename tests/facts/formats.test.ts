import { describe, expect, it } from 'vitest';
import { parseFacts, requestPrompt } from '../../src-main/engine/facts';
import { readFileSync } from 'node:fs';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/facts/${name}`, import.meta.url), 'utf8');

describe('CounterFact (original ROME records)', () => {
  const r = parseFacts('counterfact-original.json', fixture('counterfact-original.json'));

  it('reads every record as a request', () => {
    expect(r.format).toBe('counterfact');
    expect(r.rowsRead).toBe(2);
    expect(r.errors).toEqual([]);
    expect(r.requests).toHaveLength(2);
  });

  it('takes prompt/subject/targets from requested_rewrite, strips the leading space of target_new', () => {
    const [a, b] = r.requests;
    expect(a).toMatchObject({
      caseId: '0',
      prompt: 'The mother tongue of {} is',
      subject: 'Danielle Darrieux',
      targetNew: 'English',
      groundTruth: 'French',
    });
    expect(b.targetNew).toBe('Asia');
    expect(requestPrompt(b)).toBe('Vinson Massif is located in the continent of');
  });

  it('uses paraphrase_prompts as rephrase and string neighborhood_prompts with target_true as the answer', () => {
    const a = r.requests[0];
    expect(a.rephrase).toHaveLength(2);
    expect(a.rephrase[1]).toContain('Danielle Darrieux spoke the language');
    expect(a.locality).toEqual([
      { prompt: 'The mother tongue of Léon Blum is', target: 'French' },
      { prompt: 'The native language of Montesquieu is', target: 'French' },
    ]);
    // attribute_prompts answer with target_new: they are not neighbourhood (unchanged-answer) prompts
    expect(a.locality.some((l) => l.prompt.includes('Tolkien'))).toBe(false);
  });
});

describe('EasyEdit JSON', () => {
  const r = parseFacts('easyedit.json', fixture('easyedit.json'));

  it('reads every record', () => {
    expect(r.format).toBe('easyedit');
    expect(r.errors).toEqual([]);
    expect(r.requests.map((q) => q.caseId)).toEqual(['ee-1', '1', '7']);
  });

  it('turns the literal prompt into a template and reads nested locality + list ground truths', () => {
    const a = r.requests[0];
    expect(a.prompt).toBe('The name of the country of citizenship of {} is');
    expect(a.groundTruth).toBe('United States of America');
    expect(a.rephrase).toEqual(['Leonardo DiCaprio is a citizen of', 'Which country does Leonardo DiCaprio hold citizenship in?']);
    expect(a.locality).toEqual([
      { prompt: 'The name of the mother of Leonardo DiCaprio is', target: 'Irmelin DiCaprio' },
      { prompt: 'The occupation of Leonardo DiCaprio is', target: 'actor' },
    ]);
  });

  it('replaces the LAST occurrence of the subject, treats <|endoftext|> as no ground truth, zips locality lists', () => {
    const b = r.requests[1];
    expect(b.prompt).toBe('Paris Hilton was born in {}, the capital of');
    expect(requestPrompt(b)).toBe('Paris Hilton was born in Paris, the capital of');
    expect(b.groundTruth).toBeUndefined();
    expect(b.rephrase).toEqual(['Paris is the capital of']);
    expect(b.locality).toEqual([
      { prompt: 'Berlin is the capital of', target: 'Germany' },
      { prompt: 'Madrid is the capital of', target: 'Spain' },
    ]);
  });

  it('keeps a prompt that already is a template and trims the target', () => {
    const c = r.requests[2];
    expect(c).toMatchObject({ prompt: '{} works in the field of', subject: 'Marie Curie', targetNew: 'painting', groundTruth: 'physics' });
    expect(c.rephrase).toEqual([]);
    expect(c.locality).toEqual([]);
  });
});

describe('zsRE (ROME format)', () => {
  const r = parseFacts('zsre.json', fixture('zsre.json'));

  it('maps src/alt/answers/rephrase/loc', () => {
    expect(r.format).toBe('zsre');
    expect(r.rowsRead).toBe(3);
    expect(r.requests[0]).toEqual({
      caseId: '0',
      prompt: 'What is the product made by {}?',
      subject: 'UniFirst',
      targetNew: 'unmanned aircraft',
      groundTruth: 'uniform',
      rephrase: ['What will be the product of UniFirst?'],
      locality: [{ prompt: "nq question: john goodman's character in the big lebowski", target: 'Walter Sobchak' }],
    });
  });

  it('falls back to pred when answers is empty', () => {
    expect(r.requests[1]).toMatchObject({ caseId: '1', targetNew: 'Brazil', groundTruth: 'Japan', prompt: 'Which country is {} in?' });
  });

  it('reports a subject missing from src as a row error and imports the others', () => {
    expect(r.requests).toHaveLength(2);
    expect(r.errors).toEqual([
      {
        row: 3,
        field: 'subject',
        message: 'Row 3: subject "Danube" does not occur in prompt "Into which sea does the river flow?"',
      },
    ]);
  });
});

describe('JSON containers', () => {
  it('reads {"requests": [...]} with mixed EasyEdit and CounterFact records', () => {
    const r = parseFacts('requests-object.json', fixture('requests-object.json'));
    expect(r.errors).toEqual([]);
    expect(r.requests.map((q) => [q.caseId, q.prompt, q.targetNew, q.groundTruth])).toEqual([
      ['10', '{} is the capital of', 'France', 'Japan'],
      ['11', '{} is the capital of', 'Spain', 'Italy'],
    ]);
  });

  it('reads a single record object', () => {
    const r = parseFacts('one.json', JSON.stringify({ prompt: 'Tokyo is the capital of', subject: 'Tokyo', target_new: 'France' }));
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0].caseId).toBe('0');
  });

  it('prefers requested_rewrite when a record has both CounterFact and EasyEdit fields', () => {
    const rec = {
      case_id: 3,
      prompt: 'Wrong Subject plays',
      subject: 'Wrong Subject',
      target_new: 'wrong',
      requested_rewrite: { prompt: '{} plays the sport of', subject: 'Right Subject', target_new: { str: 'archery' }, target_true: { str: 'rowing' } },
      paraphrase_prompts: ['Right Subject likes'],
      rephrase_prompt: 'ignored',
    };
    const r = parseFacts('both.json', JSON.stringify([rec]));
    expect(r.format).toBe('counterfact');
    expect(r.requests[0]).toMatchObject({ subject: 'Right Subject', targetNew: 'archery', groundTruth: 'rowing', rephrase: ['Right Subject likes'] });
  });

  it('reports a JSON object that holds no records as one file-level error', () => {
    const r = parseFacts('cfg.json', '{"model": "gpt2", "lr": 0.5}');
    expect(r.requests).toEqual([]);
    expect(r.errors).toEqual([
      { row: 0, message: 'cfg.json: expected a JSON array of edit requests or {"requests": [...]}, found an object with keys: model, lr' },
    ]);
  });

  it('reports an array of unrelated records as one file-level error', () => {
    const r = parseFacts('qa.json', JSON.stringify([{ question: 'q', answer: ['a'] }, { question: 'q2', answer: ['b'] }]));
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(0);
    expect(r.errors[0].message).toContain('none of the 2 records look like edit requests');
    expect(r.errors[0].message).toContain('the first record has: question, answer');
  });

  it('an empty array or an empty requests list is a file-level error', () => {
    for (const [text, what] of [['[]', 'the JSON array is empty'], ['{"requests": []}', 'its list of edit requests is empty']]) {
      const r = parseFacts('empty.json', text);
      expect(r).toMatchObject({ requests: [], rowsRead: 0 });
      expect(r.errors.map((e) => [e.row, e.message.split(';')[0]])).toEqual([[0, `empty.json: ${what}`]]);
    }
  });
});

describe('JSONL', () => {
  const r = parseFacts('mixed.jsonl', fixture('mixed.jsonl'));

  it('reads one object per line (CRLF, blank lines) of any schema, numbering rows by line', () => {
    expect(r.format).toBe('jsonl');
    expect(r.rowsRead).toBe(5);
    expect(r.requests.map((q) => [q.caseId, q.subject, q.targetNew])).toEqual([
      ['1', 'Tokyo', 'France'],
      ['2', 'Osaka', 'Brazil'],
      ['4', 'Yo-Yo Ma', 'guitar'],
    ]);
    expect(r.requests[2].locality).toEqual([{ prompt: 'Jacqueline du Pré plays the', target: 'cello' }]);
  });

  it('reports a malformed line with its line number and the parser message, and a non-object line', () => {
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0].row).toBe(3);
    expect(r.errors[0].message).toMatch(/^Line 3: invalid JSON: /);
    expect(r.errors[0].message).toMatch(/JSON/);
    expect(r.errors[0].message.length).toBeGreaterThan('Line 3: invalid JSON: '.length);
    expect(r.errors[1]).toEqual({
      row: 6,
      message: 'Line 6: expected an edit request object (CounterFact, EasyEdit or zsRE fields), got an array',
    });
  });
});

// A row that fails keeps what the file had for it (ParseResult.invalidRows: lenient fields and the
// row's text), so the import review opens its editor prefilled instead of with an empty "row-N".
import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../src-main/engine/facts';
import { SOURCE_MAX } from '../../src-main/engine/facts/collect';
import { buildImportReport, requestToEdit } from '../../src-renderer/src/lib/importing';

const rowOf = (r: ReturnType<typeof parseFacts>, row: number) => r.invalidRows.find((x) => x.row === row);

describe('invalid rows keep their data', () => {
  it('CSV: a subject missing from the prompt keeps the prompt as written, the other fields and the line', () => {
    const text = 'case_id,prompt,subject,target_new,rephrase\nk1,Tokyo is the capital of,Tokyo,France,\nk2,"Paris, the city, is in",Berlin,Spain,Paris lies in || Paris is in\n';
    const r = parseFacts('x.csv', text);
    expect(r.requests.map((q) => q.caseId)).toEqual(['k1']);
    expect(r.errors.map((e) => e.row)).toEqual([3]);
    expect(rowOf(r, 3)).toEqual({
      row: 3,
      draft: { caseId: 'k2', prompt: 'Paris, the city, is in', subject: 'Berlin', targetNew: 'Spain', rephrase: ['Paris lies in', 'Paris is in'] },
      source: 'k2,"Paris, the city, is in",Berlin,Spain,Paris lies in || Paris is in',
    });
    // valid rows leave nothing behind
    expect(rowOf(r, 2)).toBeUndefined();
  });

  it('a row that converts but fails validation keeps its converted request (template included)', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,ground_truth\nTokyo is the capital of,Tokyo,Japan,Japan\n');
    expect(r.errors).toHaveLength(1);
    expect(rowOf(r, 2)!.draft).toMatchObject({ prompt: '{} is the capital of', subject: 'Tokyo', targetNew: 'Japan', groundTruth: 'Japan' });
  });

  it('JSON (CounterFact): a record with an empty target keeps its prompt, subject and id under their own field names', () => {
    const rec = { case_id: 9, requested_rewrite: { prompt: '{} plays', subject: 'Messi', target_new: { str: ' ' }, target_true: { str: 'soccer' } }, paraphrase_prompts: ['Messi is a'] };
    const r = parseFacts('cf.json', JSON.stringify([rec]));
    expect(r.requests).toHaveLength(0);
    const raw = rowOf(r, 1)!;
    expect(raw.draft).toMatchObject({ caseId: '9', prompt: '{} plays', subject: 'Messi', targetNew: '', groundTruth: 'soccer', rephrase: ['Messi is a'] });
    expect(JSON.parse(raw.source!)).toEqual(rec);
  });

  it('JSONL: a line that is not JSON keeps its text (no fields to read)', () => {
    const good = JSON.stringify({ prompt: '{} is in', subject: 'Rome', target_new: 'Spain' });
    const r = parseFacts('x.jsonl', `${good}\n{"prompt": "{} is", "subject": "Oslo",\n`);
    expect(rowOf(r, 2)).toEqual({ row: 2, draft: {}, source: '{"prompt": "{} is", "subject": "Oslo",' });
  });

  it('a huge row is kept cut at SOURCE_MAX characters', () => {
    const long = 'x'.repeat(SOURCE_MAX * 2);
    const r = parseFacts('x.csv', `prompt,subject,target_new\n${long} {},S,\n`);
    expect(rowOf(r, 2)!.source!.length).toBe(SOURCE_MAX + 1);
  });

  it('the import review opens an invalid row prefilled with what the file had; without data it starts from row-N', () => {
    const text = 'case_id,prompt,subject,target_new\nk2,Paris is in,Berlin,Spain\n';
    const res = { ...parseFacts('x.csv', text), modelErrors: [] };
    const row = buildImportReport('x.csv', res).rows.find((x) => x.sourceRow === 2)!;
    expect(row.request).toBeNull();
    expect(requestToEdit(row)).toEqual({ caseId: 'k2', prompt: 'Paris is in', subject: 'Berlin', targetNew: 'Spain', rephrase: [], locality: [] });
    expect(row.source).toBe('k2,Paris is in,Berlin,Spain');
    const bare = buildImportReport('x.csv', { ...res, invalidRows: undefined }).rows.find((x) => x.sourceRow === 2)!;
    expect(requestToEdit(bare)).toMatchObject({ caseId: 'row-2', subject: '', targetNew: '' });
  });
});

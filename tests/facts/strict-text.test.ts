// Issue 19 item 9: fact files are read as written or refused row by row, never coerced: numbers or objects where
// text belongs, duplicate keys in a JSON object, bytes that are not UTF-8 and control characters are errors naming
// the row and the field. Real files in a temp folder, read with readFactsFile (the CLI's reader) or parseFactsFile;
// progress of a large import (bytes read, rows checked) through the API and the CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFacts, parseFactsFile, readFactsFile, type FactProgress, type ParseResult } from '../../src-main/engine/facts';
import { GPT2, runEac } from '../jobs/helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-facts-strict-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, data: string | Buffer): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, data);
  return f;
}
const read = (f: string): ParseResult => parseFacts(path.basename(f), readFactsFile(f));
const errs = (r: ParseResult) => r.errors.map((e) => [e.row, e.field, e.message]);
const ok = { prompt: 'Tokyo is the capital of', subject: 'Tokyo', target_new: 'France' };

describe('values where text belongs are errors, not coerced', () => {
  it('numbers, booleans and objects in text fields name the row and the field', () => {
    const r = read(
      file(
        'types.json',
        JSON.stringify([
          { ...ok, case_id: 'a' },
          { ...ok, case_id: 'b', target_new: 1984 },
          { ...ok, case_id: 'c', subject: true, prompt: 'true is in' },
          { ...ok, case_id: 'd', prompt: { str: 'Tokyo is the capital of' } },
          { ...ok, case_id: 'e', rephrase_prompt: ['Tokyo is in', 7] },
          { case_id: 'f', requested_rewrite: { prompt: '{} is in', subject: 'Osaka', target_new: { str: 'China', id: 'Q148' }, target_true: { str: 'Japan' } } },
          { case_id: 'g', requested_rewrite: { prompt: '{} is in', subject: 'Osaka', target_new: { str: 148 } } },
        ]),
      ),
    );
    expect(r.requests.map((q) => q.caseId)).toEqual(['a', 'f']);
    expect(errs(r)).toEqual([
      [2, 'target_new', 'Row 2: target_new must be a string, got number (write it in quotes if it is meant as text: "1984")'],
      [3, 'subject', 'Row 3: subject must be a string, got boolean (write it in quotes if it is meant as text: "true")'],
      [4, 'prompt', 'Row 4: prompt must be a string, got an object'],
      [5, 'rephrase_prompt', 'Row 5: rephrase_prompt item 2 must be a string, got number'],
      [7, 'requested_rewrite.target_new.str', 'Row 7: requested_rewrite.target_new.str must be a string, got an object'],
    ]);
  });
});

describe('duplicate keys in a JSON object', () => {
  it('make their row an error naming the key, in JSON, CounterFact and JSONL files (escaped spellings too)', () => {
    const arr = file('dup.json', `[${JSON.stringify({ ...ok, case_id: 'a' })}, {"case_id": "b", "prompt": "Tokyo is the capital of", "subject": "Tokyo", "target_new": "France", "sub\\u006aect": "Osaka"}]`);
    const r = read(arr);
    expect(r.requests.map((q) => q.caseId)).toEqual(['a']);
    expect(errs(r)).toEqual([[2, 'subject', 'Row 2: "subject" appears more than once in the record; JSON would keep only the last value, so the row is not imported: remove the extra one']]);

    const cf = read(file('dup-cf.json', `{"requests": [{"case_id": 1, "requested_rewrite": {"prompt": "{} is in", "subject": "Osaka", "subject": "Kyoto", "target_new": {"str": "China"}}}]}`));
    expect(cf.requests).toHaveLength(0);
    expect(errs(cf)[0].slice(0, 2)).toEqual([1, 'requested_rewrite.subject']);

    const jl = read(file('dup.jsonl', [JSON.stringify({ ...ok, case_id: 'a' }), `{"case_id": "b", "prompt": "x {}", "subject": "s", "target_new": "t", "target_new": "u"}`].join('\n')));
    expect(jl.requests.map((q) => q.caseId)).toEqual(['a']);
    expect(errs(jl)[0].slice(0, 2)).toEqual([2, 'target_new']);
  });

  it('a repeated key above the records (two "requests" lists) refuses the whole file', () => {
    const r = read(file('dup-top.json', `{"requests": [${JSON.stringify(ok)}], "requests": [${JSON.stringify({ ...ok, subject: 'Tokyo' })}]}`));
    expect(r.requests).toHaveLength(0);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ row: 0, message: expect.stringContaining('the key "requests" appears more than once') });
  });
});

describe('bytes that are not UTF-8, and control characters', () => {
  it('a Latin-1 byte names the row, the field and the byte; the other rows import', () => {
    const csv = Buffer.concat([
      Buffer.from('prompt,subject,target_new,case_id\nTokyo is in,Tokyo,France,a\nThe mother tongue of L'),
      Buffer.from([0xe9]),
      Buffer.from('on Blum is,L'),
      Buffer.from([0xe9]),
      Buffer.from('on Blum,English,b\nOsaka is in,Osaka,China,c\n'),
    ]);
    const r = read(file('latin1.csv', csv));
    expect(r.requests.map((q) => q.caseId)).toEqual(['a', 'c']);
    expect(errs(r)).toEqual([[3, 'prompt', 'Row 3: prompt holds a byte that is not valid UTF-8 (0xe9) at character 23: save the file as UTF-8']]);
    // a truncated multi-byte sequence and an encoded surrogate (ED A0 80) in JSONL
    const jl = Buffer.concat([
      Buffer.from('{"case_id": "a", "prompt": "x {}", "subject": "s", "target_new": "caf'),
      Buffer.from([0xc3]),
      Buffer.from('"}\n{"case_id": "b", "prompt": "x {}", "subject": "s'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('", "target_new": "t"}\n'),
    ]);
    const j = read(file('bad.jsonl', jl));
    expect(j.requests).toHaveLength(0);
    expect(errs(j).map((e) => e.slice(0, 2))).toEqual([
      [1, 'target_new'],
      [2, 'subject'],
    ]);
    expect(j.errors[0].message).toContain('(0xc3)');
    // valid UTF-8 (with a BOM) is untouched
    const fine = read(file('utf8.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('prompt,subject,target_new\nLéon Blum speaks,Léon Blum,日本語\n')])));
    expect(fine.errors).toEqual([]);
    expect(fine.requests[0]).toMatchObject({ subject: 'Léon Blum', targetNew: '日本語' });
  });

  it('control characters other than tab and line feed name the row and field (CSV raw, JSON escaped, DEL, C1)', () => {
    const r = read(file('ctl.csv', 'prompt,subject,target_new,case_id\nTokyo is in,Tokyo,Fr\u0001ance,a\n"Osaka\tis in",Osaka,China,b\nKyoto is in,Ky\u007foto,Japan,c\n'));
    expect(r.requests.map((q) => q.caseId)).toEqual(['b']);
    expect(errs(r)).toEqual([
      [2, 'target_new', 'Row 2: target_new holds the control character U+0001 at character 3 (only tab and line feed are allowed): remove it'],
      [4, 'subject', 'Row 4: subject holds the control character U+007F at character 3 (only tab and line feed are allowed): remove it'],
    ]);
    const j = read(file('ctl.json', JSON.stringify([{ ...ok, target_new: 'Fr\u0085ance' }, { ...ok, case_id: 'x', rephrase_prompt: ['ok', 'bell\u0007'] }, { ...ok, case_id: 'y', prompt: 'Tokyo is\nthe capital of' }])));
    expect(errs(j).map((e) => e.slice(0, 2))).toEqual([
      [1, 'target_new'],
      [2, 'rephrase_prompt'],
    ]);
    expect(j.errors[1].message).toContain('rephrase_prompt item 2 holds the control character U+0007');
    expect(j.requests.map((q) => q.caseId)).toEqual(['y']);
  });
});

describe('progress of a large import', () => {
  const rows = 40_000;
  const big = () =>
    file('big.csv', ['prompt,subject,target_new,case_id', ...Array.from({ length: rows }, (_, i) => `Person ${i} was born in,Person ${i},City ${i % 97},c${i}`)].join('\n') + '\n');

  it('parseFactsFile reports bytes read of the file size, then rows checked, ending at the totals', () => {
    const f = big();
    const seen: FactProgress[] = [];
    const r = parseFactsFile(f, { onProgress: (p) => seen.push(p) });
    expect(r.requests).toHaveLength(rows);
    const readEv = seen.filter((p) => p.phase === 'read');
    const rowEv = seen.filter((p) => p.phase === 'parse');
    expect(readEv.at(-1)).toEqual({ phase: 'read', done: fs.statSync(f).size, total: fs.statSync(f).size, unit: 'bytes' });
    expect(rowEv.at(-1)).toEqual({ phase: 'parse', done: rows, total: rows, unit: 'rows' });
    expect(rowEv.length).toBeGreaterThan(50); // about every 1 %
    expect(rowEv.length).toBeLessThanOrEqual(102);
    for (let i = 1; i < rowEv.length; i++) expect(rowEv[i].done).toBeGreaterThan(rowEv[i - 1].done);
  });

  it('eac edit shows reading and checking progress on stderr for a file of 1 MB or more', async () => {
    // every row invalid (subject not in the prompt): the run stops after the check, exit 2, without loading edits
    const f = file('big-bad.csv', ['prompt,subject,target_new', ...Array.from({ length: rows }, (_, i) => `Somebody ${i} was born in,Other ${i},City`)].join('\n'));
    expect(fs.statSync(f).size).toBeGreaterThan(1 << 20);
    const r = await runEac(['edit', '--model', GPT2, '--facts', f, '--method', 'rome']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/reading facts 100% \(\d+\.\d of \d+\.\d MB\)\n/);
    expect(r.err).toContain(`checking facts ${rows}/${rows} rows\n`);
  });
});

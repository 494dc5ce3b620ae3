import { describe, expect, it } from 'vitest';
import { parseFacts, requestPrompt } from '../../src-main/engine/facts';
import { readFileSync } from 'node:fs';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/facts/${name}`, import.meta.url), 'utf8');

describe('CSV fixture: BOM, CRLF, case-insensitive headers, quoting, multi-line fields, blank rows', () => {
  const r = parseFacts('edits.csv', fixture('edits.csv'));

  it('imports the good rows', () => {
    expect(r.format).toBe('csv');
    expect(r.rowsRead).toBe(4); // the all-empty row and the trailing newline are not rows
    expect(r.requests.map((q) => q.caseId)).toEqual(['c1', 'c2', 'c3']);
  });

  it('keeps commas inside quoted fields and splits " || " lists and "prompt => answer" locality', () => {
    const c1 = r.requests[0];
    expect(c1).toEqual({
      caseId: 'c1',
      prompt: '{}, the city, is the capital of',
      subject: 'Tokyo',
      targetNew: 'France',
      groundTruth: 'Japan',
      rephrase: ['Tokyo is located in', 'The country of Tokyo is'],
      locality: [
        { prompt: 'Berlin is the capital of', target: 'Germany' },
        { prompt: 'Madrid is the capital of', target: 'Spain' },
      ],
    });
  });

  it('unescapes doubled quotes and accepts a prompt that already has "{}"', () => {
    const c2 = r.requests[1];
    expect(c2.prompt).toBe('The "Big Apple" {} is in the state of');
    expect(requestPrompt(c2)).toBe('The "Big Apple" New York City is in the state of');
    expect(c2.rephrase).toEqual([]);
    expect(c2.locality).toEqual([]);
  });

  it('reads a quoted field spanning two lines', () => {
    expect(r.requests[2].rephrase).toEqual(['Hamlet was authored by', 'Hamlet is a play by']);
  });

  it('numbers rows as a spreadsheet does (header = row 1, a multi-line record is one row)', () => {
    expect(r.errors).toEqual([{ row: 6, field: 'target_new', message: 'Row 6: target_new is empty' }]);
  });
});

describe('CSV variants', () => {
  it('reads TSV with locality_prompt + locality_ground_truth columns', () => {
    const r = parseFacts('edits.tsv', fixture('edits.tsv'));
    expect(r.format).toBe('csv');
    expect(r.errors).toEqual([]);
    expect(r.requests).toHaveLength(2);
    expect(r.requests[0].locality).toEqual([
      { prompt: 'Berlin is the capital of', target: 'Germany' },
      { prompt: 'Madrid is the capital of', target: 'Spain' },
    ]);
    expect(r.requests[1]).toMatchObject({ caseId: '1', prompt: '{} is the capital of', subject: 'Rome', locality: [] });
  });

  it('reads semicolon-separated files and hyphen/space column names', () => {
    const r = parseFacts('x.csv', 'Prompt;Subject;target-new;Ground Truth\nTokyo is the capital of;Tokyo;France;Japan\n');
    expect(r.errors).toEqual([]);
    expect(r.requests[0]).toMatchObject({ prompt: '{} is the capital of', targetNew: 'France', groundTruth: 'Japan' });
  });

  it('is not confused by "||" when choosing the delimiter', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,rephrase\nA is in,A,B,x || y || z\nC is in,C,D,w\n');
    expect(r.errors).toEqual([]);
    expect(r.requests.map((q) => q.rephrase)).toEqual([['x', 'y', 'z'], ['w']]);
  });

  it('a missing required column is ONE file-level error naming the missing and the found columns', () => {
    const r = parseFacts('missing-columns.csv', fixture('missing-columns.csv'));
    expect(r.requests).toEqual([]);
    expect(r.rowsRead).toBe(1);
    expect(r.errors).toEqual([
      {
        row: 0,
        field: 'target_new',
        message:
          'missing-columns.csv: missing required column target_new; found columns: prompt, subject, answer. ' +
          'Expected a header row with prompt, subject, target_new (optional: case_id, ground_truth, rephrase, locality_prompt, locality_ground_truth, locality)',
      },
    ]);
  });

  it('names every missing column', () => {
    const r = parseFacts('x.csv', 'text,label\nhello,1\nworld,0\n');
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].message).toContain('missing required columns prompt, subject, target_new; found columns: text, label');
  });

  it('a header-only file is a file-level error (nothing to import), not a silent empty import', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new\r\n');
    expect(r).toMatchObject({ format: 'csv', requests: [], rowsRead: 0 });
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(0);
    expect(r.errors[0].message).toMatch(/^x\.csv: the file has a header row but no data rows; there is nothing to import/);
  });

  it('reports a row with more fields than the header', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new\nTokyo is the capital of,Tokyo,France, Italy\nA is in,A,B\n');
    expect(r.requests).toHaveLength(1);
    expect(r.errors).toEqual([
      { row: 2, message: 'Row 2: has 4 fields but the header has 3 (a value with an unquoted ","? quote it)' },
    ]);
  });

  it('treats missing trailing cells as empty optional values', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,ground_truth,rephrase\nA is in,A,B\n');
    expect(r.errors).toEqual([]);
    expect(r.requests[0]).toEqual({ caseId: '0', prompt: '{} is in', subject: 'A', targetNew: 'B', rephrase: [], locality: [] });
  });

  it('reports an unterminated quote', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new\nA is in,A,B\n"Tokyo is the capital of,Tokyo,France\n');
    expect(r.requests).toHaveLength(1);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0].row).toBe(3);
    expect(r.errors[0].message).toMatch(/^Row 3: malformed CSV: Quoted field unterminated/);
  });

  it('reports locality prompt/answer count mismatch', () => {
    const r = parseFacts(
      'x.csv',
      'prompt,subject,target_new,locality_prompt,locality_ground_truth\nA is in,A,B,p1 || p2,t1\n',
    );
    expect(r.errors).toEqual([
      { row: 2, field: 'locality_prompt', message: 'Row 2: locality_prompt has 2 items but locality_ground_truth has 1' },
    ]);
  });

  it('reports a locality prompt with no answer (locality_ground_truth empty)', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,locality_prompt,locality_ground_truth\nA is in,A,B,p1,\n');
    expect(r.errors).toEqual([
      { row: 2, field: 'locality_prompt', message: 'Row 2: locality_prompt has 1 item but locality_ground_truth has 0' },
    ]);
  });

  it('reports a locality item that is not "prompt => answer"', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,locality\nA is in,A,B,Berlin is the capital of => Germany || Madrid is the capital of\n');
    expect(r.errors).toEqual([
      { row: 2, field: 'locality', message: 'Row 2: locality item 2 "Madrid is the capital of" is not "prompt => answer"' },
    ]);
  });

  it('reports an empty answer in "prompt =>"', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,locality\nA is in,A,B,Berlin is the capital of =>\n');
    expect(r.errors).toEqual([{ row: 2, field: 'locality', message: 'Row 2: locality item 1 has an empty answer' }]);
  });

  it('uses the case_id column (alias "id") and falls back to the data-row index', () => {
    const r = parseFacts('x.csv', 'ID,prompt,subject,target_new\nx7,A is in,A,B\n,C is in,C,D\n');
    expect(r.requests.map((q) => q.caseId)).toEqual(['x7', '1']);
  });
});

describe('CSV line endings: mixed CRLF / LF / CR', () => {
  // papaparse guesses the newline from the first line; a CRLF file whose last line ends with a
  // plain LF reported that (quoted) last row as malformed, and an LF line in the middle ran into the next
  it('a CRLF file whose last line ends with a plain LF (quoted last field) imports every row', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new\r\nTokyo is in,Tokyo,"France"\r\n"Paris, x is in",Paris,"Spain"\n');
    expect(r.errors).toEqual([]);
    expect(r.requests.map((q) => [q.subject, q.targetNew])).toEqual([
      ['Tokyo', 'France'],
      ['Paris', 'Spain'],
    ]);
  });

  it('an LF line inside a CRLF file is its own row, with the right row numbers after it', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new\r\nTokyo is in,Tokyo,France\nParis is in,Paris,Spain\r\nRome is in,Rome,\r\n');
    expect(r.requests.map((q) => q.targetNew)).toEqual(['France', 'Spain']);
    expect(r.errors.map((e) => e.row)).toEqual([4]);
  });

  it('old Mac CR-only line endings, and a quoted CRLF inside a field becomes one "\\n"', () => {
    const r = parseFacts('x.csv', 'prompt,subject,target_new,rephrase\rTokyo is in,Tokyo,France,"Tokyo lies in\r\nTokyo is located in"\r');
    expect(r.errors).toEqual([]);
    expect(r.requests[0].targetNew).toBe('France');
    expect(r.requests[0].rephrase).toEqual(['Tokyo lies in\nTokyo is located in']);
  });
});

describe('a file that is not a fact table', () => {
  it('is refused from its header line, naming at most 12 columns cut to 40 characters each', () => {
    // 6.7 MB of comma-separated noise: one "header" of 2 000 long names, then lines of junk
    const word = (i: number) => `junk${i}-${'x'.repeat(200)}`;
    const header = Array.from({ length: 2000 }, (_, i) => word(i)).join(',');
    const body = Array.from({ length: 20000 }, (_, i) => `${i},${'y'.repeat(320)}`).join('\n');
    const r = parseFacts('garbage.csv', `${header}\n${body}\n`);
    expect(r.requests).toEqual([]);
    expect(r.errors).toHaveLength(1);
    const m = r.errors[0].message;
    expect(m).toContain('missing required columns prompt, subject, target_new');
    expect(m).toContain(`found columns: junk0-${'x'.repeat(34)}…, `);
    expect(m).toContain('… 1988 more');
    expect(m).not.toContain('x'.repeat(41));
    expect(m.length).toBeLessThan(1000);
  });
});

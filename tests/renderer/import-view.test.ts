// The Fact queue's import review: what the user sees after dropping a file. The parse itself is the
// engine's (queue.import returns parseFacts' result plus per-model problems); these tests pin the
// rows, messages and summaries the renderer builds from it, and the rendered component's text.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueImportResult } from '../../src-main/api/contract';
import { parseFacts } from '../../src-main/engine/facts';
import {
  buildImportReport,
  formatLocality,
  moveRow,
  parseLocality,
  replacesDraft,
  asTemplate,
  revalidate,
  toCreateInput,
  type ImportReport,
} from '../../src-renderer/src/lib/importing';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = (name: string) => readFileSync(path.join(ROOT, 'tests/fixtures/facts', name), 'utf8');

/** What `queue.import` returns for a file (no model-specific problems). */
function imported(fileName: string, text: string, modelErrors: QueueImportResult['modelErrors'] = []): QueueImportResult {
  return { ...parseFacts(fileName, text), modelErrors };
}

describe('a new file and the draft under review', () => {
  it('a file with 0 valid rows (all invalid, or none) does not replace a draft with valid rows', () => {
    const good = buildImportReport('world-a-5.jsonl', imported('world-a-5.jsonl', readFileSync(path.join(ROOT, 'e2e/fixtures/world-a-5.jsonl'), 'utf8')));
    const allBad = buildImportReport('bad.csv', imported('bad.csv', 'prompt,subject,target_new\nno subject here,Zed,x\n,,\n'));
    expect(allBad.validCount).toBe(0);
    expect(allBad.rows.length).toBeGreaterThan(0);
    expect(replacesDraft(allBad, good.rows)).toBe(false);
    const nothing = buildImportReport('missing-columns.csv', imported('missing-columns.csv', fixture('missing-columns.csv')));
    expect(replacesDraft(nothing, good.rows)).toBe(false);
    // a file with a valid row replaces it; anything replaces an empty draft or one with no valid row
    expect(replacesDraft(good, allBad.rows)).toBe(true);
    expect(replacesDraft(allBad, [])).toBe(true);
    expect(replacesDraft(allBad, allBad.rows)).toBe(true);
  });
});

describe('import report (rows and messages)', () => {
  it('a clean world-a JSONL file: 5 valid rows and a "ready" summary', () => {
    const text = readFileSync(path.join(ROOT, 'e2e/fixtures/world-a-5.jsonl'), 'utf8');
    const r = buildImportReport('world-a-5.jsonl', imported('world-a-5.jsonl', text));
    expect(r.validCount).toBe(5);
    expect(r.invalidCount).toBe(0);
    expect(r.rows.map((x) => x.request?.subject)).toEqual([
      'Touthbes Sundslyvshux',
      'Shirkche Kenmalflyst',
      'Dreavwio Junjuvflain',
      'Kerknost Paigruth',
      'Beasttrirk Sovhyv',
    ]);
    expect(r.summary).toBe('5 requests ready from world-a-5.jsonl (JSONL).');
  });

  it('a mixed JSONL file: broken lines become error rows with their line numbers, in file order', () => {
    const r = buildImportReport('mixed.jsonl', imported('mixed.jsonl', fixture('mixed.jsonl')));
    const bad = r.rows.filter((x) => x.errors.length);
    expect(bad.length).toBeGreaterThan(0);
    for (const row of bad) {
      expect(row.request).toBeNull();
      expect(row.sourceRow).toBeGreaterThan(0);
      expect(row.errors[0]).toMatch(/^(Line|Row) \d+:/);
    }
    const lines = bad.map((x) => x.sourceRow!);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(r.summary).toMatch(/requests? ready from mixed\.jsonl \(JSONL\); \d+ rows? with errors — fix them below or leave them out\./);
  });

  it('a CSV without the required columns: nothing imported, the file-level message is the summary', () => {
    const r = buildImportReport('missing-columns.csv', imported('missing-columns.csv', fixture('missing-columns.csv')));
    expect(r.rows).toHaveLength(0);
    expect(r.fileErrors.length).toBeGreaterThan(0);
    expect(r.summary).toBe(`Nothing imported from missing-columns.csv: ${r.fileErrors[0]}`);
    expect(r.fileErrors[0]).toMatch(/target_new|column/i);
  });

  it('CSV with a header and quoted fields: rows keep their spreadsheet row numbers in messages', () => {
    const r = buildImportReport('edits.csv', imported('edits.csv', fixture('edits.csv')));
    expect(r.formatLabel).toBe('CSV');
    expect(r.validCount).toBeGreaterThan(0);
    for (const row of r.rows.filter((x) => x.errors.length)) expect(row.errors[0]).toMatch(/^Row \d+:/);
  });

  it('per-model problems (e.g. token limits) are shown on the valid row they belong to', () => {
    const text = readFileSync(path.join(ROOT, 'e2e/fixtures/world-a-5.jsonl'), 'utf8');
    const res = imported('w.jsonl', text, [{ index: 2, caseId: '2', message: 'prompt is 300 tokens long (limit 128)' }]);
    const r = buildImportReport('w.jsonl', res);
    expect(r.rows[2].errors).toEqual(['prompt is 300 tokens long (limit 128)']);
    expect(r.validCount).toBe(4);
    expect(r.invalidCount).toBe(1);
    const { requests, invalid } = toCreateInput(r.rows);
    expect(requests).toHaveLength(4);
    expect(invalid).toEqual([{ row: 0, message: 'prompt is 300 tokens long (limit 128)', request: r.rows[2].request }]);
  });

  it('an edited row is re-validated with the importer rules and the row number stays in the message', () => {
    const r = buildImportReport('mixed.jsonl', imported('mixed.jsonl', fixture('mixed.jsonl')));
    const bad = r.rows.find((x) => x.errors.length)!;
    const noSlot = revalidate(bad, { caseId: 'x', prompt: 'Tokyo is the capital of', subject: 'Tokyo', targetNew: 'France', rephrase: [], locality: [] });
    expect(noSlot.errors).toEqual([`Row ${bad.sourceRow}: prompt has no "{}" slot for the subject: "Tokyo is the capital of"`]);
    const same = revalidate(bad, { caseId: 'x', prompt: '{} is the capital of', subject: 'Tokyo', targetNew: 'Japan', groundTruth: 'Japan', rephrase: [], locality: [] });
    expect(same.errors[0]).toContain('is the same as ground_truth, the edit would change nothing');
    const fixed = revalidate(bad, { caseId: 'x', prompt: '{} is the capital of', subject: 'Tokyo', targetNew: 'France', rephrase: [], locality: [] });
    expect(fixed.errors).toEqual([]);
    expect(fixed.edited).toBe(true);
  });

  it('reordering and the locality editor round-trip', () => {
    expect(moveRow(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
    expect(moveRow(['a', 'b'], 1, 5)).toEqual(['a', 'b']);
    const loc = [{ prompt: 'Berlin is the capital of', target: 'Germany' }];
    expect(parseLocality(formatLocality(loc))).toEqual(loc);
  });
});

describe('ImportReportView.svelte (rendered)', () => {
  // compile the real component with the app's Svelte plugin and render it on the server
  let vite: import('vite').ViteDevServer;
  let render: (c: unknown, o: { props: Record<string, unknown> }) => { body: string };
  let Component: unknown;

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const { svelte } = await import('@sveltejs/vite-plugin-svelte');
    vite = await createServer({
      root: path.join(ROOT, 'src-renderer'),
      configFile: false,
      logLevel: 'silent',
      plugins: [svelte({ configFile: false })],
      server: { middlewareMode: true, hmr: false, watch: null },
      appType: 'custom',
    });
    Component = (await vite.ssrLoadModule('/src/components/ImportReportView.svelte')).default;
    render = (await vite.ssrLoadModule('svelte/server')).render;
  });
  afterAll(async () => {
    await vite?.close();
  });

  const text = (html: string) => html.replace(/<!--[^]*?-->/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim();
  const show = (report: ImportReport) => render(Component, { props: { report } }).body;

  it('shows the summary, each row error and the record count', () => {
    const r = buildImportReport('mixed.jsonl', imported('mixed.jsonl', fixture('mixed.jsonl')));
    const html = show(r);
    expect(html).toContain('data-testid="import-summary"');
    expect(text(html)).toContain(r.summary);
    for (const row of r.rows.filter((x) => x.errors.length)) {
      expect(html).toContain(`data-row="${row.sourceRow}"`);
      // the rendered text contains each message (HTML-escaped quotes come back as text)
      const shown = text(html).replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      expect(shown).toContain(row.errors[0].replace(/\s+/g, ' '));
    }
    expect(text(html)).toContain(`${r.rowsRead} records read · format JSONL`);
  });

  it('a clean file has no error list and an "ok" summary', () => {
    const t = readFileSync(path.join(ROOT, 'e2e/fixtures/world-a-5.jsonl'), 'utf8');
    const html = show(buildImportReport('w.jsonl', imported('w.jsonl', t)));
    expect(html).not.toContain('import-row-errors');
    expect(html).toMatch(/class="[^"]*\bok\b[^"]*"[^>]*data-testid="import-summary"|data-testid="import-summary"[^>]*class="[^"]*\bok\b/);
  });

  it('a file-level error is listed and the summary is marked as an error', () => {
    const html = show(buildImportReport('missing-columns.csv', imported('missing-columns.csv', fixture('missing-columns.csv'))));
    expect(html).toContain('data-testid="import-file-errors"');
    expect(text(html)).toContain('Nothing imported from missing-columns.csv');
  });
});

describe('editing an invalid row', () => {
  it('an unparsed row goes into the queue with what the file had (its prompt a template), not as an empty request', () => {
    const r = buildImportReport('plain.csv', imported('plain.csv', 'prompt,subject,target_new\nThe capital of Ruritania is,Ruritania,\n'));
    expect(r.validCount).toBe(0);
    expect(r.rows[0].request).toBeNull();
    const { invalid } = toCreateInput(r.rows);
    expect(invalid[0].request).toMatchObject({ prompt: 'The capital of {} is', subject: 'Ruritania', targetNew: '' });
    // the editor opens with it: only the missing target is left to type
    const fixed = { ...invalid[0].request!, targetNew: 'Strelsau' };
    expect(revalidate(r.rows[0], fixed).errors).toEqual([]);
    expect(asTemplate('The capital of Ruritania is', 'Ruritania')).toBe('The capital of {} is');
    expect(asTemplate('{} lives in', 'X')).toBe('{} lives in');
    expect(asTemplate('Someone lives in', 'X')).toBe('Someone lives in');
  });
});

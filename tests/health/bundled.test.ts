import { FIXTURES, skipUnlessFixture } from '../shared';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderPrompt } from '../../src-main/engine/eval/tasks/render';
import { goldAnswers, loadTaskFile } from '../../src-main/engine/eval/tasks/schema';
import { runTask } from '../../src-main/engine/eval/tasks/score';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tasksDir = join(root, 'resources/tasks');

const PAPER = {
  rte: '{s1} entails the {s2}. True or False? answer:',
  nq: 'Refer to the passage below and answer the following question. Passage: {doc} Question: {q}',
  samsum: '{dialogue} TL;DR:',
  sst2: "For each snippet of text, label the sentiment of the text as positive or negative. The answer should be exact 'positive' or 'negative'. text: {text} answer:",
} as const;

describe('bundled task samples', () => {
  it.each(Object.entries(PAPER))('%s.json loads, validates, 200 examples, paper prompt', (id, template) => {
    const defs = loadTaskFile(join(tasksDir, `${id}.json`));
    expect(defs).toHaveLength(1);
    const d = defs[0];
    expect(d.id).toBe(id);
    expect(d.template).toBe(template);
    expect(d.examples).toHaveLength(200);
    expect(d.source).toMatch(/seed/);
    expect(d.license.length).toBeGreaterThan(0);
    expect(d.notes?.length).toBeGreaterThan(0);
    for (const ex of d.examples) expect(renderPrompt(d, ex).length).toBeGreaterThan(template.length - 20);
  });

  it('metrics, labels and extraction per task', () => {
    const get = (id: string) => loadTaskFile(join(tasksDir, `${id}.json`))[0];
    expect(get('rte')).toMatchObject({ kind: 'nli', metric: 'accuracy', labels: ['True', 'False'], extract: 'label_match' });
    expect(get('sst2')).toMatchObject({ kind: 'sentiment', metric: 'accuracy', labels: ['positive', 'negative'] });
    expect(get('nq')).toMatchObject({ kind: 'qa', metric: 'exact_match', extract: 'first_line' });
    expect(get('samsum')).toMatchObject({ kind: 'summarization', metric: 'rouge', extract: 'first_line' });
    // NQ doc policy: empty passage, documented in notes
    const nq = get('nq');
    expect(nq.examples.every((e) => e.doc === '')).toBe(true);
    expect(nq.notes).toMatch(/empty string/);
    expect(renderPrompt(nq, nq.examples[0])).toMatch(/Passage: {2}Question: \S/);
    // both labels represented in the classification samples
    for (const id of ['rte', 'sst2']) {
      const d = get(id);
      const counts = new Map<string, number>();
      for (const e of d.examples) counts.set(String(e[d.answerField]), (counts.get(String(e[d.answerField])) ?? 0) + 1);
      expect([...counts.keys()].sort()).toEqual([...d.labels!].sort());
      for (const c of counts.values()) expect(c).toBeGreaterThan(60);
    }
    // distinct source rows (sampling without replacement)
    for (const [id, key] of [['rte', 'idx'], ['nq', 'line'], ['samsum', 'row'], ['sst2', 'idx']] as const) {
      const d = get(id);
      expect(new Set(d.examples.map((e) => e[key])).size).toBe(200);
    }
  });

  it('LICENSES.md names every dataset and its licence', () => {
    const md = readFileSync(join(tasksDir, 'LICENSES.md'), 'utf8');
    for (const s of ['rte.json', 'nq.json', 'samsum.json', 'sst2.json', 'world-a.json', 'CC BY-SA 3.0', 'CC BY-NC-ND 4.0', 'GLUE'])
      expect(md).toContain(s);
  });
});

describe('world-a task file', () => {
  const defs = loadTaskFile(join(tasksDir, 'world-a.json'));

  it('holds four task defs with 100 examples each', () => {
    expect(defs.map((d) => d.id)).toEqual(['world-a-nli', 'world-a-qa', 'world-a-summarization', 'world-a-sentiment']);
    for (const d of defs) {
      expect(d.examples).toHaveLength(100);
      expect(d.template).toBe('{prompt}');
      expect(d.answerField).toBe('answer');
    }
    expect(defs.map((d) => d.metric)).toEqual(['accuracy', 'exact_match', 'rouge', 'accuracy']);
  });

  it('uses the paper formats', () => {
    const [nli, qa, sum, sent] = defs;
    expect(nli.examples.every((e) => String(e.prompt).endsWith('. True or False? answer:'))).toBe(true);
    expect(qa.examples.every((e) => String(e.prompt).startsWith('Refer to the passage below and answer the following question. Passage: '))).toBe(true);
    expect(sum.examples.every((e) => String(e.prompt).endsWith(' TL;DR:'))).toBe(true);
    expect(sent.examples.every((e) => String(e.prompt).startsWith('For each snippet of text, label the sentiment'))).toBe(true);
  });

  it('an oracle generator (gold + newline + junk) scores 1 on every task; a silent one scores 0', async () => {
    for (const d of defs) {
      const gold = new Map(d.examples.map((e) => [renderPrompt(d, e), goldAnswers(d, e)[0]]));
      const oracle = await runTask(d, async (ps) => ps.map((p) => ` ${gold.get(p)}\nRefer to the passage`));
      expect(oracle.score).toBe(1);
      const silent = await runTask(d, async (ps) => ps.map(() => '<|endoftext|>'));
      expect(silent.score).toBe(0);
    }
  });

  const fixture = resolve(FIXTURES, 'world-a/tasks.jsonl');
  it.skipIf(!existsSync(fixture))(`matches fixtures/world-a/tasks.jsonl exactly${skipUnlessFixture('world-a/tasks.jsonl')}`, () => {
    const rows = readFileSync(fixture, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { task: string; prompt: string; answer: string });
    for (const d of defs) {
      const kind = d.id.replace('world-a-', '');
      const want = rows.filter((r) => r.task === kind).map((r) => ({ prompt: r.prompt, answer: r.answer }));
      expect(d.examples).toEqual(want);
    }
  });
});

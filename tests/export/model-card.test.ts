// The export's README.md: the base card's licence metadata survives, the edits are stated, the base's
// description is kept only under a heading that says it is the base's.
import { describe, expect, it } from 'vitest';
import { exportModelCard, splitFrontMatter } from '../../src-main/engine/export/model-card';

const BASE = ['---', 'license: mit', 'tags:', '- gpt2', '---', '# GPT-2 XL', '', 'The original model | with a pipe.', ''].join('\n');

describe('export model card', () => {
  it('splits YAML front matter only at the very start', () => {
    expect(splitFrontMatter(BASE).front).toBe('license: mit\ntags:\n- gpt2');
    expect(splitFrontMatter(BASE).body.startsWith('# GPT-2 XL')).toBe(true);
    expect(splitFrontMatter('# t\n---\na: 1\n---\n').front).toBeNull();
  });

  it('keeps the base front matter first, states every edit, and marks the base card as the base', () => {
    const card = exportModelCard({
      baseName: 'gpt2-xl',
      arch: 'gpt2',
      baseCard: BASE,
      edits: [
        { id: 7, seq: 3, method: 'eac-rome', layers: [17], caseIds: ['c|1'] },
        { id: 9, seq: 4, method: 'memit', layers: [13, 14], caseIds: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], approximate: true },
      ],
      editedTensors: ['h.17.mlp.c_proj.weight'],
      createdAt: '2026-11-27T00:00:00.000Z',
    });
    expect(card.startsWith('---\nlicense: mit\ntags:\n- gpt2\n---\n')).toBe(true);
    expect(card).toContain('# gpt2-xl — edited with EAC Studio');
    expect(card).toContain('with 2 fact edit(s)');
    expect(card).toContain('| 3 | 7 | eac-rome | 17 | c\\|1 |');
    expect(card).toContain('| 4 | 9 (approximate removal before it) | memit | 13, 14 | a, b, c, d, e, f, … (7) |');
    const base = card.indexOf("## The base model's card");
    expect(base).toBeGreaterThan(card.indexOf('| 4 |'));
    expect(card.indexOf('# GPT-2 XL')).toBeGreaterThan(base);
  });

  it('has no base section when the base folder had no card', () => {
    const card = exportModelCard({ baseName: 'm', arch: 'llama', baseCard: null, edits: [], editedTensors: [], createdAt: 't' });
    expect(card).not.toContain("base model's card");
    expect(card.startsWith('# m — edited with EAC Studio')).toBe(true);
    expect(card).toContain('Edited tensors: none.');
    // nothing left out: no line about it
    expect(card).not.toContain('Left out');
  });

  it('names every left-out file with its reason in one line', () => {
    const card = exportModelCard({
      baseName: 'm',
      arch: 'gpt2',
      baseCard: null,
      edits: [],
      editedTensors: [],
      omitted: [
        { file: 'tf_model.h5', reason: 'TensorFlow / Keras weights: unedited weights a loader could use instead of the edited safetensors' },
        { file: 'original/', reason: 'a sub-folder: an export copies only the top-level files of the model folder' },
      ],
      createdAt: 't',
    });
    const lines = card.split('\n').filter((l) => l.includes('Left out'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('`tf_model.h5` (TensorFlow / Keras weights)');
    expect(lines[0]).toContain('`original/` (a sub-folder)');
    expect(lines[0]).toContain('unedited base model');
    expect(lines[0]).toContain('only top-level files are copied');
  });
});

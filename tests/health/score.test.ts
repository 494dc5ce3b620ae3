import { describe, expect, it } from 'vitest';
import { parseTaskDef, type TaskDef } from '../../src-main/engine/eval/tasks/schema';
import { AbortError, isAbortError, retention, runTask, type Generate } from '../../src-main/engine/eval/tasks/score';

function nliTask(n: number): TaskDef {
  return parseTaskDef({
    id: 'nli-fake',
    name: 'fake NLI',
    kind: 'nli',
    metric: 'accuracy',
    template: '{s1} entails the {s2}. True or False? answer:',
    answerField: 'label',
    maxNewTokens: 3,
    labels: ['True', 'False'],
    extract: 'label_match',
    source: 'test',
    license: 'CC0',
    examples: Array.from({ length: n }, (_, i) => ({ s1: `p${i}`, s2: `h${i}`, label: i % 3 === 0 ? 'False' : 'True' })),
  });
}

/** Recording fake generator: the example index is the first number in the prompt ("p7 entails ..."). */
function fake(task: TaskDef, answer: (i: number, gold: string) => string) {
  const calls: { prompts: string[]; maxNewTokens: number }[] = [];
  const generate: Generate = async (prompts, maxNewTokens) => {
    calls.push({ prompts, maxNewTokens });
    return prompts.map((p) => {
      const i = Number(/\d+/.exec(p)![0]);
      return answer(i, String(task.examples[i][task.answerField]));
    });
  };
  return { calls, generate };
}

describe('runTask', () => {
  it('exact score, batches, progress and prompts', async () => {
    const task = nliTask(10);
    // correct (echo the gold, with the usual leading space and trailing junk) for even i, flipped for odd i
    const { calls, generate } = fake(task, (i, g) => (i % 2 === 0 ? ` ${g}.\nNext` : g === 'True' ? ' false' : ' TRUE'));
    const progress: [number, number][] = [];
    const r = await runTask(task, generate, { batchSize: 4, onProgress: (d, t) => progress.push([d, t]) });
    expect(r.taskId).toBe('nli-fake');
    expect(r.metric).toBe('accuracy');
    expect(r.n).toBe(10);
    expect(r.score).toBe(0.5);
    expect(calls.map((c) => c.prompts.length)).toEqual([4, 4, 2]);
    expect(calls.every((c) => c.maxNewTokens === 3)).toBe(true);
    expect(calls[0].prompts[1]).toBe('p1 entails the h1. True or False? answer:');
    expect(progress).toEqual([
      [0, 10],
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
    expect(r.examples[0]).toEqual({
      prompt: 'p0 entails the h0. True or False? answer:',
      output: ' False.\nNext',
      extracted: 'False',
      gold: ['False'],
      score: 1,
    });
    expect(r.examples[1].extracted).toBe('False');
    expect(r.examples[1].score).toBe(0);
    expect(r.examples.map((e) => e.score)).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]);
  });

  it('default batch size 8; n takes the first n examples deterministically', async () => {
    const task = nliTask(20);
    const a = fake(task, (_i, g) => g);
    const all = await runTask(task, a.generate);
    expect(a.calls.map((c) => c.prompts.length)).toEqual([8, 8, 4]);
    expect(all.score).toBe(1);

    const b = fake(task, (i, g) => (i < 2 ? g : 'nope'));
    const r = await runTask(task, b.generate, { n: 3 });
    expect(r.n).toBe(3);
    expect(r.examples.map((e) => e.prompt)).toEqual(task.examples.slice(0, 3).map((e) => `${e.s1} entails the ${e.s2}. True or False? answer:`));
    expect(r.score).toBeCloseTo(2 / 3, 12);

    const c = fake(task, (_i, g) => g);
    expect((await runTask(task, c.generate, { n: 500 })).n).toBe(20);
    await expect(runTask(task, c.generate, { n: 0 })).rejects.toMatchObject({ code: 'bad_params' });
    await expect(runTask(task, c.generate, { batchSize: 0 })).rejects.toMatchObject({ code: 'bad_params' });
  });

  it('exact_match and rouge tasks score through the metric', async () => {
    const qa = parseTaskDef({
      id: 'qa', name: 'qa', kind: 'qa', metric: 'exact_match', template: 'Q{i}: {q}', answerField: 'answers',
      maxNewTokens: 5, extract: 'first_line', source: '', license: '',
      examples: [
        { i: 0, q: 'who', answers: ['Bobby Scott', 'Bob Russell'] },
        { i: 1, q: 'when', answers: ['December 1972'] },
        { i: 2, q: 'where', answers: ['Paris'] },
        { i: 3, q: 'what', answers: ['a cat'] },
      ],
    });
    const outs = [' Bob Russell.\nQ: next', '\n14 December 1972', ' the Paris', ' dog</s>'];
    const r = await runTask(qa, async (ps) => ps.map((p) => outs[Number(/^Q(\d+)/.exec(p)![1])]));
    expect(r.examples.map((e) => e.score)).toEqual([1, 0, 1, 0]);
    expect(r.score).toBe(0.5);

    const sum = parseTaskDef({
      id: 'sum', name: 'sum', kind: 'summarization', metric: 'rouge', template: '{d} TL;DR:', answerField: 's',
      maxNewTokens: 20, extract: 'first_line', source: '', license: '',
      examples: [
        { d: 'd0', s: 'the cat sat on the mat' },
        { d: 'd1', s: 'A and B meet at six.' },
      ],
    });
    const r2 = await runTask(sum, async (ps) => ps.map((p) => (p.startsWith('d0') ? ' the cat lay on the mat\njunk' : ' A and B meet at six.')));
    expect(r2.examples[0].score).toBeCloseTo((5 / 6 + 3 / 5 + 5 / 6) / 3, 12);
    expect(r2.examples[1].score).toBe(1);
    expect(r2.score).toBeCloseTo(((5 / 6 + 3 / 5 + 5 / 6) / 3 + 1) / 2, 12);
  });

  it('cancellation after a batch throws an AbortError and stops generating', async () => {
    const task = nliTask(20);
    const ac = new AbortController();
    const { calls, generate } = fake(task, (_i, g) => g);
    const run = runTask(task, generate, {
      batchSize: 5,
      signal: ac.signal,
      onProgress: (done) => {
        if (done === 5) ac.abort();
      },
    });
    await expect(run).rejects.toSatisfy((e: unknown) => isAbortError(e) && e instanceof AbortError);
    expect(calls).toHaveLength(1);
  });

  it('an already-aborted signal never calls generate', async () => {
    const task = nliTask(4);
    const ac = new AbortController();
    ac.abort();
    let called = 0;
    await expect(
      runTask(task, async (ps) => {
        called++;
        return ps;
      }, { signal: ac.signal }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(called).toBe(0);
  });

  it('abort during a generate call: signal is passed on; results of an ignoring generator are dropped', async () => {
    const task = nliTask(16);
    const ac = new AbortController();
    const seen: (AbortSignal | undefined)[] = [];
    // generator that ignores the signal and finishes its batch anyway
    const ignoring: Generate = async (ps, _m, signal) => {
      seen.push(signal);
      ac.abort();
      return ps.map(() => 'True');
    };
    const progress: number[] = [];
    await expect(runTask(task, ignoring, { signal: ac.signal, onProgress: (d) => progress.push(d) })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(seen).toEqual([ac.signal]);
    expect(progress).toEqual([0]);

    // generator that honours the signal by rejecting with its own error: normalised to AbortError
    const ac2 = new AbortController();
    const honouring: Generate = async () => {
      ac2.abort();
      throw new Error('session interrupted');
    };
    await expect(runTask(task, honouring, { signal: ac2.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('generator errors and wrong output counts surface', async () => {
    const task = nliTask(3);
    await expect(runTask(task, async () => { throw new Error('OOM'); })).rejects.toThrow('OOM');
    await expect(runTask(task, async (ps) => ps.slice(1))).rejects.toThrow(/returned 2 outputs for 3 prompts/);
  });
});

describe('retention', () => {
  it('percent of baseline', () => {
    expect(retention(0.5, 0.8)).toBeCloseTo(62.5, 12);
    expect(retention(0.8, 0.8)).toBe(100);
    expect(retention(0.9, 0.6)).toBeCloseTo(150, 12);
    expect(retention(0, 0.7)).toBe(0);
  });

  it('baseline 0 handled explicitly', () => {
    expect(retention(0, 0)).toBe(100);
    expect(retention(0.2, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects negative or non-finite inputs', () => {
    expect(() => retention(-0.1, 0.5)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => retention(0.5, Number.NaN)).toThrow(expect.objectContaining({ code: 'internal' }));
  });
});

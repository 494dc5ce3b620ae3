// Health checks on the resident model: batched greedy generation with the KV cache, never a reload.
import { FILE_LIMITS, jsonErrorMessage, readTextFile } from '../fs-safe';
import type { LoadedModel } from '../runtime/model';
import { loadTaskFile, parseTaskFile, runTask, type Generate, type TaskDef, type TaskResult } from './tasks';
import { EacError } from '../errors';

/** A task file that cannot be read as tasks: code 'bad_task', the one problem also in detail.issues (as the schema's errors). */
const badTask = (message: string) => new EacError('bad_task', message, { detail: { issues: [message] } });

/**
 * Batched greedy generation on the resident model (never a reload). A row stops at EOS; the decoded
 * continuation is cut at the first line break that follows some text (the fixture models and the
 * paper's prompts put one answer per line). Prompts longer than the context leaves room for are
 * truncated from the left, keeping a leading BOS, so the instruction at the end survives.
 */
export function modelGenerate(model: LoadedModel): Generate {
  return async (prompts, maxNewTokens, signal) => {
    const room = Math.max(1, model.cfg.maxPositions - maxNewTokens);
    const bos = model.cfg.bosTokenId;
    const rows = prompts.map((p) => {
      const ids = model.encode(p);
      if (ids.length <= room) return ids;
      return ids[0] === bos ? [ids[0], ...ids.slice(ids.length - room + 1)] : ids.slice(ids.length - room);
    });
    const eos = model.cfg.eosTokenId;
    const out = await model.generate(rows, maxNewTokens, { stopIds: eos === undefined ? [] : [eos], signal });
    return out.map((ids) => cutAfterFirstLine(model.tok.decode(ids, true)));
  };
}

export function cutAfterFirstLine(text: string): string {
  const lead = /^\s*/u.exec(text)![0].length;
  const m = /\r\n|\r|\n/.exec(text.slice(lead));
  return m ? text.slice(0, lead + m.index) : text;
}

const PAPER_TASKS: Record<string, Pick<TaskDef, 'kind' | 'metric' | 'extract' | 'maxNewTokens' | 'labels'>> = {
  nli: { kind: 'nli', metric: 'accuracy', extract: 'label_match', maxNewTokens: 3, labels: ['True', 'False'] },
  qa: { kind: 'qa', metric: 'exact_match', extract: 'first_line', maxNewTokens: 10 },
  summarization: { kind: 'summarization', metric: 'rouge', extract: 'first_line', maxNewTokens: 32 },
  sentiment: { kind: 'sentiment', metric: 'accuracy', extract: 'label_match', maxNewTokens: 3, labels: ['positive', 'negative'] },
};

/**
 * Task definitions from a task JSON file, or from a JSONL of pre-rendered {task, prompt, answer}
 * rows (the world-a tasks.jsonl format) grouped by task name.
 */
export function loadHealthTasks(file: string): TaskDef[] {
  if (!/\.jsonl$/i.test(file)) return loadTaskFile(file);
  const groups = new Map<string, { prompt: string; answer: string }[]>();
  readTextFile(file, FILE_LIMITS.tasks, 'the task file')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (!line.trim()) return;
      let row: { task?: unknown; prompt?: unknown; answer?: unknown };
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw badTask(`${file} line ${i + 1}: ${jsonErrorMessage(e, line).replace(/ at line 1, column /, ' at column ')}`);
      }
      if (typeof row.task !== 'string' || typeof row.prompt !== 'string' || typeof row.answer !== 'string')
        throw badTask(`${file} line ${i + 1}: expected {"task", "prompt", "answer"} strings`);
      const g = groups.get(row.task) ?? [];
      g.push({ prompt: row.prompt, answer: row.answer });
      groups.set(row.task, g);
    });
  const defs = [...groups].map(([task, examples]) => {
    const known = PAPER_TASKS[task];
    if (!known) throw badTask(`${file}: unknown task ${JSON.stringify(task.slice(0, 40))} (known: ${Object.keys(PAPER_TASKS).join(', ')}); use a task JSON file for custom tasks`);
    return { id: task, name: task, template: '{prompt}', answerField: 'answer', source: file, license: 'as the file', ...known, examples };
  });
  return parseTaskFile(defs, file);
}

/**
 * Which examples a health run scores: the first n of the task file (the bundled samples are already
 * shuffled). Recorded with every run so a retention is only ever computed against a baseline of the
 * same (task, example count, sample seed).
 */
export const HEALTH_SAMPLE_SEED = 0;

/**
 * THE health runner: scores tasks on the resident model (live edits applied) with batched greedy
 * generation. `eac edit`'s sequence, the app's health jobs and the queue's health checks all run it;
 * jobs/studio/health-core.ts records its results in the ledger against matching baselines.
 */
export async function runHealth(
  model: LoadedModel,
  tasks: TaskDef[],
  opts: { n?: number; batchSize?: number; signal?: AbortSignal; onProgress?: (task: string, done: number, total: number) => void } = {},
): Promise<TaskResult[]> {
  const gen = modelGenerate(model);
  const out: TaskResult[] = [];
  for (const t of tasks)
    out.push(await runTask(t, gen, { n: opts.n, batchSize: opts.batchSize ?? 16, signal: opts.signal, onProgress: (d, tot) => opts.onProgress?.(t.id, d, tot) }));
  return out;
}

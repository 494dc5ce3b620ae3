/**
 * Running a health task against a model through a model-agnostic `Generate` callback
 * (greedy decoding on the resident model; the engine supplies it, tests supply fakes).
 */
import { AbortError, EacError, internalError, isCancelled } from '../../errors';
import { extractAnswer } from './extract';
import { scoreExample } from './metrics';
import { renderPrompt } from './render';
import { goldAnswers, type TaskDef } from './schema';

/** Greedy continuations (without the prompt) for a batch of prompts, in order. */
export type Generate = (prompts: string[], maxNewTokens: number, signal?: AbortSignal) => Promise<string[]>;

export interface TaskExampleResult {
  prompt: string;
  output: string;
  extracted: string;
  gold: string[];
  score: number;
}

export interface TaskResult {
  taskId: string;
  metric: string;
  /** Mean example score in [0, 1]. */
  score: number;
  n: number;
  examples: TaskExampleResult[];
}

export interface RunTaskOptions {
  /** Use the first n examples (file order; the bundled samples are already shuffled). Default: all. */
  n?: number;
  /** Prompts per generate() call. Default 8. */
  batchSize?: number;
  /** Called with (0, total) before the first batch and after every batch. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export const DEFAULT_BATCH_SIZE = 8;

/** Thrown when a run is cancelled through its AbortSignal: the one cancellation shape (engine/errors.ts). */
export { AbortError };

/** Any cancellation (code 'cancelled' or a DOM / Node AbortError): errors.ts isCancelled. */
export const isAbortError = isCancelled;

function checkAborted(signal: AbortSignal | undefined, taskId: string): void {
  if (signal?.aborted) throw new AbortError('cancelled', `health task "${taskId}" aborted`, { cause: signal.reason });
}

export async function runTask(task: TaskDef, generate: Generate, opts: RunTaskOptions = {}): Promise<TaskResult> {
  const { signal, onProgress } = opts;
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new EacError('bad_params', `health batch size must be a positive integer (got ${batchSize})`);
  if (opts.n !== undefined && (!Number.isInteger(opts.n) || opts.n < 1))
    throw new EacError('bad_params', `health example count n must be a positive integer (got ${opts.n})`);
  const total = Math.min(opts.n ?? task.examples.length, task.examples.length);
  const chosen = task.examples.slice(0, total);
  const prompts = chosen.map((ex) => renderPrompt(task, ex));
  const results: TaskExampleResult[] = [];

  checkAborted(signal, task.id);
  onProgress?.(0, total);
  for (let start = 0; start < total; start += batchSize) {
    checkAborted(signal, task.id);
    const batch = prompts.slice(start, start + batchSize);
    let outputs: string[];
    try {
      outputs = await generate(batch, task.maxNewTokens, signal);
    } catch (e) {
      if (signal?.aborted && !isAbortError(e)) throw new AbortError('cancelled', `health task "${task.id}" aborted`, { cause: e });
      throw e;
    }
    // A generator that ignores the signal still finishes its batch; drop the result.
    checkAborted(signal, task.id);
    if (!Array.isArray(outputs) || outputs.length !== batch.length)
      throw internalError(
        `generate returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs for ${batch.length} prompts`,
      );
    outputs.forEach((output, k) => {
      const ex = chosen[start + k];
      const gold = goldAnswers(task, ex);
      const extracted = extractAnswer(output, task.extract, { labels: task.labels, extraStop: task.stop });
      results.push({ prompt: batch[k], output, extracted, gold, score: scoreExample(task.metric, extracted, gold) });
    });
    onProgress?.(results.length, total);
  }

  const score = results.length ? results.reduce((a, r) => a + r.score, 0) / results.length : 0;
  return { taskId: task.id, metric: task.metric, score, n: results.length, examples: results };
}

/**
 * Retention: score as a percentage of the baseline (pre-edit) score.
 * Baseline 0 is handled explicitly: a score of 0 retains everything there was (100);
 * a positive score over a zero baseline is an unbounded gain (Infinity — show it as "n/a" or "↑").
 * Scores are means of per-example scores in [0, 1]: a negative or non-finite one is a bug (internalError).
 */
export function retention(score: number, baseline: number): number {
  if (!Number.isFinite(score) || !Number.isFinite(baseline) || score < 0 || baseline < 0)
    throw internalError(`retention needs finite non-negative scores (got ${score}, ${baseline})`);
  if (baseline === 0) return score === 0 ? 100 : Number.POSITIVE_INFINITY;
  return (score / baseline) * 100;
}

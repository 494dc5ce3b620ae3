/**
 * Answer extraction from a greedy continuation (the text generated after the prompt).
 *
 * Steps, in order:
 *  1. cut at the first stop string (default EOS texts of GPT-2 / LLaMA-2 / LLaMA-3 / ChatML /
 *     Gemma / Phi, plus the task's own `stop` strings);
 *  2. strip leading whitespace, newlines included (models often answer " True" or "\nTrue");
 *  3. by mode:
 *     - full:        the rest, trimmed;
 *     - first_line:  up to the first line break, trimmed;
 *     - first_word:  the first whitespace-separated word, surrounding punctuation removed
 *                    ("True." → "True", "'positive'" → "positive");
 *     - label_match: the first word as above, matched case-insensitively against the labels:
 *                    returns the label as spelled in `labels` ("TRUE" → "True"), or the word
 *                    itself when it is no label (then it scores 0 against any gold).
 */
import type { ExtractMode } from './schema';
import { internalError } from '../../errors';

export const DEFAULT_STOP_STRINGS: readonly string[] = [
  '<|endoftext|>', // GPT-2
  '</s>', // LLaMA-2 / SentencePiece
  '<|eot_id|>', // LLaMA-3 instruct
  '<|end_of_text|>', // LLaMA-3
  '<|im_end|>', // ChatML
  '<end_of_turn>', // Gemma
  '<eos>', // Gemma
  '<|end|>', // Phi-3
];

export interface ExtractOptions {
  labels?: readonly string[];
  /** Stop strings used instead of DEFAULT_STOP_STRINGS. */
  stop?: readonly string[];
  /** Stop strings used in addition to `stop` (or the defaults). */
  extraStop?: readonly string[];
}

/** Leading/trailing punctuation and symbols (Unicode classes P and S) stripped from a first word. */
const EDGE_PUNCT = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu;

export function cutAtStop(text: string, stops: readonly string[]): string {
  let cut = text.length;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && i < cut) cut = i;
  }
  return text.slice(0, cut);
}

function firstLine(s: string): string {
  const m = /\r\n|\r|\n/.exec(s);
  return (m ? s.slice(0, m.index) : s).trim();
}

function firstWord(s: string): string {
  const w = s.trim().split(/\s+/u, 1)[0] ?? '';
  return w.replace(EDGE_PUNCT, '');
}

/** Match a word against labels, case-insensitively; returns the canonical label or undefined. */
export function matchLabel(word: string, labels: readonly string[]): string | undefined {
  const w = word.trim().toLowerCase();
  if (!w) return undefined;
  return labels.find((l) => l.trim().toLowerCase() === w)?.trim();
}

export function extractAnswer(output: string, mode: ExtractMode, opts: ExtractOptions = {}): string {
  const stops = [...(opts.stop ?? DEFAULT_STOP_STRINGS), ...(opts.extraStop ?? [])];
  const s = cutAtStop(output, stops).replace(/^\s+/u, '');
  switch (mode) {
    case 'full':
      return s.trim();
    case 'first_line':
      return firstLine(s);
    case 'first_word':
      return firstWord(s);
    case 'label_match': {
      if (!opts.labels || opts.labels.length === 0) throw internalError('label_match extraction needs labels');
      const w = firstWord(s);
      return matchLabel(w, opts.labels) ?? w;
    }
    default:
      throw internalError(`unknown extract mode ${JSON.stringify(mode)}`);
  }
}

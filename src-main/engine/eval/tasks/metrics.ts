import { internalError } from '../../errors';
/**
 * Health-task metrics. All scores are in [0, 1]; a task's score is the mean of its examples'.
 *
 * - accuracy:    extracted answer equals a gold answer, trimmed and case-insensitive
 *                (label_match extraction has already mapped it to the canonical label).
 * - exact_match: SQuAD v1.1 `normalize_answer` (lower-case, delete ASCII punctuation, delete the
 *                articles a/an/the as whole words, collapse whitespace), equal to ANY gold answer.
 * - rouge:       mean of ROUGE-1, ROUGE-2 and ROUGE-L F1 (each the best over the gold answers).
 *
 * ROUGE follows Google's `rouge_score` package (the reference used by HF `evaluate`), with
 * use_stemmer=False:
 *   tokens  = lower-case, every run of characters outside [a-z0-9] becomes a space, split on
 *             whitespace (punctuation and non-ASCII letters drop out, exactly as rouge_score);
 *   ROUGE-N = clipped n-gram overlap; P = overlap / #hyp n-grams, R = overlap / #ref n-grams,
 *             F = 2PR / (P + R), 0 when P + R = 0 (so an empty hypothesis or reference scores 0,
 *             and two empty strings score 0 too, as in rouge_score);
 *   ROUGE-L = sentence-level LCS over the whole text (rouge_score "rougeL", not "rougeLsum"):
 *             P = LCS / |hyp|, R = LCS / |ref|, F as above.
 *
 * Why not js-rouge (installed): its defaults differ from the reference in ways that change
 * scores — case-sensitive comparison, Penn-Treebank tokens with punctuation kept as tokens
 * ("mat." ≠ "mat" and "." counts as a unigram), contraction splitting ("cannot" → "can not"),
 * summary-level union-LCS for ROUGE-L (= rougeLsum, sentence-split), and it throws on empty
 * strings. Its counting agrees with ours on pre-normalised single-sentence text (the tests
 * cross-check that), so the difference is all preprocessing / ROUGE-L variant.
 */

// ---------------------------------------------------------------- accuracy

export function accuracyScore(extracted: string, gold: readonly string[]): number {
  const e = extracted.trim().toLowerCase();
  return gold.some((g) => g.trim().toLowerCase() === e) ? 1 : 0;
}

// ---------------------------------------------------------------- exact match (SQuAD)

/** Python's string.punctuation. */
const PUNCT = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** Python `\b(a|an|the)\b` on str patterns: word characters are Unicode letters, digits, underscore. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** SQuAD v1.1 normalize_answer: lower → remove punctuation → remove articles → collapse whitespace. */
export function normalizeAnswer(s: string): string {
  let t = s.toLowerCase();
  let out = '';
  for (const ch of t) if (!PUNCT.has(ch)) out += ch;
  t = out.replace(ARTICLES, ' ');
  return t.split(/\s+/u).filter(Boolean).join(' ');
}

export function exactMatchScore(extracted: string, gold: readonly string[]): number {
  const e = normalizeAnswer(extracted);
  return gold.some((g) => normalizeAnswer(g) === e) ? 1 : 0;
}

// ---------------------------------------------------------------- ROUGE

export interface PRF {
  precision: number;
  recall: number;
  f: number;
}

export interface RougeScores {
  rouge1: PRF;
  rouge2: PRF;
  rougeL: PRF;
  /** Mean of the three F1 values: the summarisation task's per-example score. */
  mean: number;
}

/** rouge_score's default tokenizer (no stemming). */
export function rougeTokenize(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')
    .filter(Boolean);
}

function prf(overlap: number, nHyp: number, nRef: number): PRF {
  const precision = overlap / Math.max(nHyp, 1);
  const recall = overlap / Math.max(nRef, 1);
  const f = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f };
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** ROUGE-N on already-tokenised text. */
export function rougeNTokens(hyp: readonly string[], ref: readonly string[], n: number): PRF {
  const h = ngramCounts(hyp, n);
  const r = ngramCounts(ref, n);
  let overlap = 0;
  for (const [k, c] of h) overlap += Math.min(c, r.get(k) ?? 0);
  return prf(overlap, Math.max(hyp.length - n + 1, 0), Math.max(ref.length - n + 1, 0));
}

/** Length of the longest common subsequence (O(|a|·|b|) time, O(|b|) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Uint32Array(b.length + 1);
  let cur = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** ROUGE-L (sentence-level LCS) on already-tokenised text. */
export function rougeLTokens(hyp: readonly string[], ref: readonly string[]): PRF {
  return prf(lcsLength(hyp, ref), hyp.length, ref.length);
}

/** ROUGE-1/2/L of a hypothesis against one reference. */
export function rouge(hypothesis: string, reference: string): RougeScores {
  const h = rougeTokenize(hypothesis);
  const r = rougeTokenize(reference);
  const rouge1 = rougeNTokens(h, r, 1);
  const rouge2 = rougeNTokens(h, r, 2);
  const rougeL = rougeLTokens(h, r);
  return { rouge1, rouge2, rougeL, mean: (rouge1.f + rouge2.f + rougeL.f) / 3 };
}

/**
 * Per-example summarisation score: mean of ROUGE-1/2/L F1. With several gold answers each of the
 * three F1 values is the best over the golds first (rouge_score's score_multi), then averaged.
 */
export function rougeScore(extracted: string, gold: readonly string[]): number {
  let r1 = 0;
  let r2 = 0;
  let rl = 0;
  for (const g of gold) {
    const s = rouge(extracted, g);
    r1 = Math.max(r1, s.rouge1.f);
    r2 = Math.max(r2, s.rouge2.f);
    rl = Math.max(rl, s.rougeL.f);
  }
  return (r1 + r2 + rl) / 3;
}

// ---------------------------------------------------------------- dispatch

export type MetricName = 'accuracy' | 'exact_match' | 'rouge';

export function scoreExample(metric: MetricName, extracted: string, gold: readonly string[]): number {
  switch (metric) {
    case 'accuracy':
      return accuracyScore(extracted, gold);
    case 'exact_match':
      return exactMatchScore(extracted, gold);
    case 'rouge':
      return rougeScore(extracted, gold);
    default:
      throw internalError(`unknown metric ${JSON.stringify(metric)}`);
  }
}

// The text the key statistics are computed over: samples of a corpus file, tokenised.
import path from 'node:path';
import { resourcesDir } from '../../paths';
import type { LoadedModel } from '../../runtime/model';
import { StatsError } from '../stats-npz';
import { FILE_LIMITS, jsonErrorMessage, readRegularFile } from '../../fs-safe';

export function defaultCorpusPath(): string {
  return path.join(resourcesDir(), 'corpus', 'default.txt');
}

/** Text samples of a corpus file (see StatsOptions.corpusPath), trimmed, empty ones dropped. */
export function readCorpusSamples(file: string): string[] {
  let text: string;
  try {
    // a regular file of bounded size: a FIFO or device under the corpus name fails at once
    text = readRegularFile(file, FILE_LIMITS.corpus, 'the statistics corpus').toString('utf8');
  } catch (e) {
    throw new StatsError('bad-corpus', `cannot read the statistics corpus ${file}: ${(e as Error).message}`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r?\n/);
  if (/\.(jsonl|ndjson)$/i.test(file)) {
    const out: string[] = [];
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new StatsError('bad-corpus', `${file}:${i + 1}: ${jsonErrorMessage(e, line).replace(/ at line 1, column /, ' at column ')}`);
      }
      const t = (obj as { text?: unknown } | null)?.text;
      if (typeof t !== 'string') throw new StatsError('bad-corpus', `${file}:${i + 1}: expected an object with a string "text" field`);
      if (t.trim()) out.push(t.trim());
    });
    return out;
  }
  const blank = lines.map((l) => l.trim() === '');
  const first = blank.indexOf(false);
  const last = blank.lastIndexOf(false);
  const paragraphs = first >= 0 && blank.slice(first, last + 1).some((b) => b);
  if (!paragraphs) return lines.map((l) => l.trim()).filter((l) => l.length > 0);
  const out: string[] = [];
  let cur: string[] = [];
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || blank[i]) {
      if (cur.length) out.push(cur.join('\n').trim());
      cur = [];
    } else cur.push(lines[i]);
  }
  return out.filter((s) => s.length > 0);
}

/**
 * Token ids of one sample, the first `maxTokens` of them. Very long samples are cut (at a space) to
 * 32 characters per kept token before tokenising, which leaves those first tokens unchanged.
 */
export function sampleTokens(model: LoadedModel, text: string, maxTokens: number): number[] {
  const limit = maxTokens * 32;
  if (text.length > limit) {
    const sp = text.lastIndexOf(' ', limit);
    text = text.slice(0, sp > limit / 2 ? sp : limit);
  }
  return model.encode(text).slice(0, maxTokens);
}

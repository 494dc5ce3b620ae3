// Context templates on disk, beside the statistics cache (cacheDir/templates/<key>.json). They are
// a pure function of the model's weights, the [length, n] list, the seed and the generation code,
// so they are generated once per model and reused by every later process: generating them costs
// 15 batched decoding steps (25 s on GPT-2 XL with this machine's 2 cores, minutes on LLaMA-3-8B),
// paid again by every new process before this cache. The key holds the model's import hash
// (stats/model-hash.ts), so a changed weight file never reuses them. A missing, corrupt or stale
// entry is regenerated; a foreign file under the entry's name (FIFO, folder, oversized) is refused
// as the statistics cache refuses it.
import fs from 'node:fs';
import path from 'node:path';
import type { LoadedModel } from '../runtime/model';
import { writeFileAtomic } from './atomic-write';
import { readCacheMeta, sha256 } from './stats/cache';
import { modelContentHash } from './stats/model-hash';

/** Bump when generateTemplates changes what it produces for the same model, lengths and seed. */
// v2: seed word and continuation decoded together (v1 glued them: "Thefavorite" on LLaMA)
export const TEMPLATES_FORMAT = 'eac-templates-v2';

interface TemplatesEntry {
  format: typeof TEMPLATES_FORMAT;
  key: string;
  lengths: [number, number][];
  seed: number;
  templates: string[];
}

export async function templatesPath(
  model: Pick<LoadedModel, 'ck'>,
  cacheDir: string,
  lengths: [number, number][],
  seed: number,
  lengthCounts: 'new-tokens' | 'total' = 'new-tokens',
): Promise<{ file: string; key: string }> {
  const modelHash = await modelContentHash(model, cacheDir);
  const key = sha256(JSON.stringify({ format: TEMPLATES_FORMAT, model: modelHash, lengths, seed, ...(lengthCounts === 'total' ? { lengthCounts } : {}) })).slice(0, 40);
  return { file: path.join(cacheDir, 'templates', `${key}.json`), key };
}

/** The cached templates, or null when there are none usable (never a partial list: `expected` is the count the generator makes). */
export function readTemplates(file: string, key: string, expected: number): string[] | null {
  const e = readCacheMeta<TemplatesEntry>(file, 'the context templates cache');
  if (!e || e.format !== TEMPLATES_FORMAT || e.key !== key || !Array.isArray(e.templates)) return null;
  if (e.templates.length !== expected || !e.templates.every((t) => typeof t === 'string' && t.endsWith('{}'))) return null;
  return e.templates;
}

export function writeTemplates(file: string, key: string, lengths: [number, number][], seed: number, templates: string[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const entry: TemplatesEntry = { format: TEMPLATES_FORMAT, key, lengths, seed, templates };
  writeFileAtomic(file, JSON.stringify(entry));
}

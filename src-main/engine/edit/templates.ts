// Context templates (ROME rome/rome_main.py `get_context_templates`, `CONTEXT_TEMPLATES_CACHE`;
// MEMIT memit/memit_main.py the same): the "{}" template plus short texts the model generates from
// seed words, which k* and v* average over, and the per-context-type weights MEMIT's compute_ks
// gives their keys.
import type { LoadedModel } from '../runtime/model';
import { seededRandom } from '../runtime/model';
import { readTemplates, templatesPath, writeTemplates } from './templates-cache';

/**
 * ROME's context templates: "{}" plus short texts the model itself generates from a few seed
 * words (top-k 5 sampling, fixed seed so runs are reproducible). Kept on the model for this
 * process and, with `cacheDir`, on disk for later ones (templates-cache.ts).
 */
export async function contextTemplates(
  model: LoadedModel,
  lengths: [number, number][],
  seed: number,
  opts: { cacheDir?: string; lengthCounts?: 'new-tokens' | 'total' } = {},
): Promise<string[]> {
  const counts = opts.lengthCounts ?? 'new-tokens';
  const key = JSON.stringify([lengths, seed, counts]);
  // owned by the model (freed with it), not a module-level map
  const cache = model.caches.getOrCreate('templates.contextTemplates', () => new Map<string, string[]>());
  const hit = cache.get(key);
  if (hit) return hit;
  const disk = opts.cacheDir ? await templatesPath(model, opts.cacheDir, lengths, seed, counts) : null;
  const stored = disk && readTemplates(disk.file, disk.key, 1 + typeSizes(lengths).reduce((a, b) => a + b, 0));
  if (stored) {
    cache.set(key, stored);
    return stored;
  }
  // always from the unedited model, so an edit does not depend on how many edits came before it in
  // this process (a resumed queue must reproduce an uninterrupted one bit for bit)
  const live = new Map(model.factors);
  model.factors.clear();
  let out: string[];
  try {
    out = await generateTemplates(model, lengths, seededRandom(seed), counts);
  } finally {
    for (const [l, f] of live) model.factors.set(l, f);
  }
  cache.set(key, out);
  if (disk) writeTemplates(disk.file, disk.key, lengths, seed, out);
  return out;
}

/** ROME's seed words (rome/rome_main.py get_context_templates). */
const SEED_WORDS = ['The', 'Therefore', 'Because', 'I', 'You'];

/** Generated rows per seed word for a [length, n] entry: n spread over the seed words, at least one. */
function rowsPerSeedWord(n: number): number {
  return Math.max(1, Math.floor(n / SEED_WORDS.length));
}

/** Templates each [length, n] entry yields (one context type each), in generation order. */
function typeSizes(lengths: [number, number][]): number[] {
  return lengths.map(([, n]) => rowsPerSeedWord(n) * SEED_WORDS.length);
}

/**
 * The text of one generated row: the seed word's ids and the generated ids decoded together, as
 * ROME's generate_fast decodes the whole sequence. Gluing the seed word to the decoded continuation
 * instead loses the space a SentencePiece tokenizer drops from the first piece it decodes
 * ("Thefavorite sport of …" on LLaMA).
 */
export function templateText(model: LoadedModel, seedIds: number[], generated: number[]): string {
  return model.tok.decode([...seedIds, ...generated], true).replace(/[{}]/g, ' ').replace(/\s+/g, ' ').trim() + '. {}';
}

async function generateTemplates(model: LoadedModel, lengths: [number, number][], rand: () => number, counts: 'new-tokens' | 'total'): Promise<string[]> {
  const starts = SEED_WORDS;
  const out = ['{}'];
  const seedIds = starts.map((s) => model.encode(s));
  // ROME's generate_fast stops when the padded sequence, prompt included, reaches max_out_len
  const promptLen = Math.max(...seedIds.map((ids) => ids.length));
  for (const [entryLen, n] of lengths) {
    const len = counts === 'total' ? Math.max(1, entryLen - promptLen) : entryLen;
    const per = rowsPerSeedWord(n);
    // One batched generation per length (all seed words at once: on GPT-2 XL 15 decoding steps
    // instead of 75). The draws are taken in the order a call per seed word took them (seed word,
    // then step, then row) and handed to each (row, step), so the templates do not depend on the
    // batching.
    const draws = Float64Array.from({ length: starts.length * per * len }, () => rand());
    const rows = seedIds.flatMap((ids) => Array.from({ length: per }, () => ids));
    const gen = await model.generate(rows, len, {
      stopIds: [],
      sample: {
        topK: 5,
        rand: (row, step) => draws[Math.floor(row / per) * per * len + step * per + (row % per)],
      },
    });
    gen.forEach((g, row) => out.push(templateText(model, seedIds[Math.floor(row / per)], g)));
  }
  return out;
}

/**
 * Weight of each context row when keys are averaged per context type, as MEMIT's compute_ks
 * (memit/compute_ks.py) does: the mean of each type's mean. Row 0 is "{}" (a type of its own), then
 * one type per [length, n] entry, in the order generateTemplates emits them.
 */
export function contextTypeWeights(lengths: [number, number][]): number[] {
  const sizes = [1, ...typeSizes(lengths)];
  return sizes.flatMap((s) => Array.from({ length: s }, () => 1 / (sizes.length * s)));
}

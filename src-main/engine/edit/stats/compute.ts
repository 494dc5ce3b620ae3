// keyStats: E[k kᵀ] at chosen layers over a corpus, cached; importStatsIntoCache: ROME's .npz.
import path from 'node:path';
import type { LoadedModel } from '../../runtime/model';
import { Alloc, defaultAlloc } from '../alloc';
import { importNpzStats, StatsError } from '../stats-npz';
import { abortError, accumulateKeys, KeyMomentAccumulator } from './accumulate';
import { cachedStatsMeta, importedStatsKey, readCachedStats, sha256, statsKey, writeCachedStats } from './cache';
import { defaultCorpusPath, readCorpusSamples, sampleTokens } from './corpus';
import { modelContentHash } from './model-hash';
import { StatsCheckpoint, type CheckpointPolicy } from './partial';
import { FILE_LIMITS, readRegularFile } from '../../fs-safe';
import { EacError } from '../../errors';

export interface StatsOptions {
  /**
   * Plain text (.txt and anything not .jsonl: samples are paragraphs split by blank lines, or single
   * lines when the file has no blank lines) or JSONL (.jsonl/.ndjson) with a "text" field.
   * Default: resources/corpus/default.txt.
   */
  corpusPath?: string;
  /** number of text samples (ROME's mom2_n_samples); the first `samples` of the corpus are used */
  samples: number;
  /** tokens kept from the start of each sample; default min(model maxPositions, 256) */
  maxTokensPerSample?: number;
  /** samples per forward pass; default 8 */
  batchSize?: number;
  cacheDir: string;
  /** (samples done, samples total) */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * Use statistics imported with `importStatsIntoCache(model, layer, npz, cacheDir, samplesLabel)`
   * where they exist for a layer (samplesLabel = this value); other layers are computed.
   */
  importedLabel?: string | number;
  /** where the n² buffers come from (tests count them) */
  alloc?: Alloc;
  /** rank-update column block and token capacity of the accumulation (tests use small ones) */
  accumulate?: { block?: number; tokenCapacity?: number };
  /**
   * How often the accumulation is checkpointed (stats/partial.ts; default every two minutes, and on
   * cancel). A later call with the same model, corpus, samples, layers and batching goes on from the
   * checkpoint. `false`: no checkpoints.
   */
  checkpoint?: CheckpointPolicy | false;
}

export interface KeyStats {
  layer: number;
  dim: number;
  /** tokens */
  count: number;
  /** dim*dim, E[k kᵀ] */
  mom2: Float64Array;
  /** cache key */
  key: string;
  /** 'computed' now; 'cache' from a previous computation; 'npz' imported from ROME's layer_stats */
  source: 'computed' | 'cache' | 'npz';
  /** the cache the entry lives in (a Cholesky factor of it is persisted beside it) */
  cacheDir: string;
}

function checkLayers(model: LoadedModel, layers: number[]): number[] {
  const L = model.cfg.layers;
  for (const l of layers)
    if (!Number.isInteger(l) || l < 0 || l >= L) throw new StatsError('bad-layer', `layer ${l} does not exist (the model has layers 0..${L - 1})`);
  return [...new Set(layers)].sort((a, b) => a - b);
}

/**
 * The cache keys a layer's statistics may live under, in the order they are taken: statistics
 * imported under `importedLabel` (importStatsIntoCache) first, then those computed from this corpus
 * and these settings. keyStats reads the first that exists, cachedStatsRefs finds it by its meta.
 */
function candidateStatsKeys(
  modelHash: string,
  layer: number,
  corpusSha: string,
  samples: number,
  maxTokens: number,
  importedLabel: string | number | undefined,
): { key: string; imported: boolean }[] {
  const computed = { key: statsKey(modelHash, layer, corpusSha, samples, maxTokens), imported: false };
  return importedLabel === undefined ? [computed] : [{ key: importedStatsKey(modelHash, layer, importedLabel), imported: true }, computed];
}

/**
 * The cache entries keyStats would read for `layers`, found from their metas alone — key, token
 * count, folder — without reading C (d_ff² f64: 1.5 GiB at LLaMA-3-8B's 14 336). A solve whose
 * factor is already beside the statistics needs nothing more (SolveCache.prepareFromDisk), so C is
 * never read for it. Layers without an intact-looking entry are left out (keyStats computes them).
 */
export async function cachedStatsRefs(
  model: LoadedModel,
  layers: number[],
  opts: Pick<StatsOptions, 'corpusPath' | 'samples' | 'maxTokensPerSample' | 'cacheDir' | 'importedLabel'>,
): Promise<Map<number, { key: string; count: number; cacheDir: string }>> {
  const out = new Map<number, { key: string; count: number; cacheDir: string }>();
  const maxTokens = opts.maxTokensPerSample ?? Math.min(model.cfg.maxPositions, 256);
  let corpusBytes: Buffer;
  try {
    corpusBytes = readRegularFile(path.resolve(opts.corpusPath ?? defaultCorpusPath()), FILE_LIMITS.corpus, 'the statistics corpus');
  } catch {
    return out; // keyStats reports the corpus
  }
  const corpusSha = sha256(corpusBytes);
  const modelHash = await modelContentHash(model, opts.cacheDir);
  const dim = model.cfg.ffn;
  for (const l of layers) {
    for (const { key } of candidateStatsKeys(modelHash, l, corpusSha, opts.samples, maxTokens, opts.importedLabel)) {
      const meta = cachedStatsMeta(opts.cacheDir, key, dim);
      if (meta) {
        out.set(l, { key, count: meta.count, cacheDir: opts.cacheDir });
        break;
      }
    }
  }
  return out;
}

/**
 * E[k kᵀ] at `layers` over the first `opts.samples` samples of a corpus, in one pass for all
 * layers not already cached. Cached per (model import hash, layer, corpus sha256, samples,
 * maxTokens). Always statistics of the unedited checkpoint (live edit factors are not applied).
 * Memory: one float64 n² buffer per computed layer (accumulated in place) plus panels.
 */
export async function keyStats(model: LoadedModel, layers: number[], opts: StatsOptions): Promise<Map<number, KeyStats>> {
  const ls = checkLayers(model, layers);
  // the settings come from the profile (stats.samples, stats.maxTokensPerSample), the CLI (eac stats --samples,
  // --max-tokens) or a studio request: a wrong one is the caller's input, said in the caller's words where it can be
  if (!Number.isInteger(opts.samples) || opts.samples <= 0) throw new EacError('bad_params', `key statistics: the number of samples must be a positive integer, got ${opts.samples}`);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new EacError('bad_params', `key statistics: the batch size must be a positive integer, got ${batchSize}`);
  const maxTokens = opts.maxTokensPerSample ?? Math.min(model.cfg.maxPositions, 256);
  if (!Number.isInteger(maxTokens) || maxTokens <= 0) throw new EacError('bad_params', `key statistics: the tokens per sample (maxTokensPerSample, --max-tokens) must be a positive integer, got ${maxTokens}`);
  if (maxTokens > model.cfg.maxPositions)
    throw new EacError(
      'bad_params',
      `key statistics: ${maxTokens} tokens per sample (maxTokensPerSample, --max-tokens) exceed the model's ${model.cfg.maxPositions} positions; use at most ${model.cfg.maxPositions}`,
    );
  if (opts.signal?.aborted) throw abortError();
  const alloc = opts.alloc ?? defaultAlloc;
  const dim = model.cfg.ffn;
  const cacheDir = opts.cacheDir;
  const corpusPath = path.resolve(opts.corpusPath ?? defaultCorpusPath());
  let corpusBytes: Buffer;
  try {
    corpusBytes = readRegularFile(corpusPath, FILE_LIMITS.corpus, 'the statistics corpus');
  } catch (e) {
    throw new StatsError('bad-corpus', `cannot read the statistics corpus ${corpusPath}: ${(e as Error).message}`);
  }
  const corpusSha = sha256(corpusBytes);
  const modelHash = await modelContentHash(model, cacheDir);
  const result = new Map<number, KeyStats>();
  const missing: number[] = [];
  for (const l of ls) {
    let found = false;
    for (const { key, imported } of candidateStatsKeys(modelHash, l, corpusSha, opts.samples, maxTokens, opts.importedLabel)) {
      const hit = readCachedStats(cacheDir, key, dim, alloc);
      if (!hit) continue;
      result.set(l, { layer: l, dim, count: hit.meta.count, mom2: hit.mom2, key, source: imported || hit.meta.origin === 'npz' ? 'npz' : 'cache', cacheDir });
      found = true;
      break;
    }
    if (!found) missing.push(l);
  }
  if (!missing.length) {
    opts.onProgress?.(opts.samples, opts.samples);
    return new Map(ls.map((l) => [l, result.get(l)!]));
  }

  const samples = readCorpusSamples(corpusPath).slice(0, opts.samples);
  if (!samples.length) throw new StatsError('empty-corpus', `the statistics corpus ${corpusPath} has no text samples`);
  const total = samples.length;
  const acc = new Map(missing.map((l) => [l, new KeyMomentAccumulator(dim, { alloc, ...opts.accumulate })]));
  const first = acc.get(missing[0])!;
  const checkpoint =
    opts.checkpoint === false
      ? null
      : new StatsCheckpoint(
          cacheDir,
          { model: modelHash, corpus: corpusSha, samples: opts.samples, maxTokens, layers: missing, dim, batchSize, capacity: first.capacity, block: first.blockSize },
          acc,
          opts.checkpoint,
        );
  // a run cut off before goes on where its last checkpoint left it
  const from = checkpoint?.restore() ?? { c: 0, row: 0, done: 0, count: 0 };
  let done = from.done;
  opts.onProgress?.(done, total);
  let count = from.count;
  // tokenise a chunk at a time and batch rows of similar length together (less padding)
  const chunkSize = batchSize * 32;
  for (let c = from.c; c < total; c += chunkSize) {
    if (opts.signal?.aborted) throw abortError();
    const rows = samples
      .slice(c, c + chunkSize)
      .map((s) => sampleTokens(model, s, maxTokens))
      .filter((r) => r.length > 0)
      .sort((a, b) => a.length - b.length);
    const skipped = Math.min(chunkSize, total - c) - rows.length;
    count += await accumulateKeys(
      model,
      acc,
      rows,
      batchSize,
      opts.signal,
      (n, row) => {
        done += n;
        opts.onProgress?.(done, total);
        // on cancel too: the work so far is kept for the next run
        checkpoint?.maybeSave({ c, row, done }, opts.signal?.aborted === true);
      },
      c === from.c ? from.row : 0,
    );
    done += skipped;
  }
  if (count === 0) throw new StatsError('empty-corpus', `the statistics corpus ${corpusPath} produced no tokens`);
  if (opts.signal?.aborted) throw abortError();
  for (const l of missing) {
    const mom2 = await acc.get(l)!.finish();
    const key = statsKey(modelHash, l, corpusSha, opts.samples, maxTokens);
    writeCachedStats(cacheDir, mom2, {
      key,
      layer: l,
      dim,
      count,
      origin: 'computed',
      model: modelHash,
      corpus: { path: corpusPath, sha256: corpusSha },
      samples: opts.samples,
      samplesUsed: total,
      maxTokens,
    });
    result.set(l, { layer: l, dim, count, mom2, key, source: 'computed', cacheDir });
  }
  // the finished entries are written: the checkpoint has done its work
  checkpoint?.remove();
  if (done < total) opts.onProgress?.(total, total);
  return new Map(ls.map((l) => [l, result.get(l)!]));
}

/**
 * Bring ROME's precomputed statistics (layer_stats .npz of this model's layer) into the cache under
 * `samplesLabel` (ROME's mom2_n_samples, e.g. 100000); `keyStats(..., { importedLabel })` then uses
 * them. Throws StatsError (see importNpzStats) when the file does not fit the model.
 */
export async function importStatsIntoCache(
  model: LoadedModel,
  layer: number,
  npzFile: string,
  cacheDir: string,
  samplesLabel: string | number,
): Promise<KeyStats> {
  checkLayers(model, [layer]);
  const dim = model.cfg.ffn;
  const { mom2, count, sha256: npzSha256 } = importNpzStats(npzFile, dim);
  for (let i = 0; i < mom2.length; i++)
    if (!Number.isFinite(mom2[i])) throw new StatsError('bad-npy', `${npzFile}: 'mom2.mom2' contains non-finite values`);
  const modelHash = await modelContentHash(model, cacheDir);
  const key = importedStatsKey(modelHash, layer, samplesLabel);
  writeCachedStats(cacheDir, mom2, {
    key,
    layer,
    dim,
    count,
    origin: 'npz',
    model: modelHash,
    // the hash of the bytes that were parsed (the file is not read a second time)
    corpus: { path: path.resolve(npzFile), sha256: npzSha256 },
    samples: String(samplesLabel),
  });
  return { layer, dim, count, mom2, key, source: 'npz', cacheDir };
}

// Key statistics: C = E[k kᵀ] (uncentred second moment, ROME's layer_stats "mom2") of the MLP
// down-projection input k at chosen layers, over a text corpus; cached on disk; importable from
// ROME's .npz; plus Cholesky factors of (regularised) C, persisted beside the statistics.
// This file re-exports the pieces, each in a file named for what it holds:
//   stats/compute.ts     keyStats, cachedStatsRefs, importStatsIntoCache, KeyStats, StatsOptions
//   stats/accumulate.ts  in-place symmetric rank-k accumulation of Σ k kᵀ
//   stats/cache.ts       cache keys and files (.bin + .json meta)
//   stats/corpus.ts      corpus samples and their tokens
//   stats/model-hash.ts  the model part of a cache key (import hashes, checkpoint/hash.ts)
//   solve-cache.ts       SolveCache: factors in memory and on disk, statistics-time checks
//   atomic-write.ts      writeFileAtomic, readFileInto
export { importNpzStats, StatsError, type StatsErrorCode } from './stats-npz';
export { keyStats, cachedStatsRefs, importStatsIntoCache, type KeyStats, type StatsOptions } from './stats/compute';
export { KeyMomentAccumulator, accumulateKeys, type AccumulatorOptions } from './stats/accumulate';
export { statsKey, importedStatsKey, readCachedStats, listCachedStats, STATS_FORMAT, type StatsMeta } from './stats/cache';
export { defaultCorpusPath, readCorpusSamples, sampleTokens } from './stats/corpus';
export { modelContentHash, clearModelHashMemo } from './stats/model-hash';
export {
  SolveCache,
  solveKey,
  solveRef,
  ridgeShift,
  sampleWarnings,
  BLOCKED_CHOLESKY_MIN,
  type SolveCacheOptions,
  type SolveStats,
  type SolvePreparation,
  type FactorMeta,
} from './solve-cache';
export { writeFileAtomic, readFileInto } from './atomic-write';

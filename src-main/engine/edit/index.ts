// Public surface of the editing engine.
import os from 'node:os';
import path from 'node:path';
import type { LoadedModel } from '../runtime/model';
import type { StatsProvider } from './methods';
import type { EditProfile } from './profile';
import { cachedStatsRefs, keyStats } from './stats';

export { Editor, type EditOptions } from './editor';
export { LiveEdits, stackDeltas, denseDelta } from './live';
export { PreservedKeys, preservedKeysOf, type PreservedKeyBlock } from './preserved-keys';
export { loadProfile, parseProfile, bundledProfiles, checkProfileFits, type EditProfile } from './profile';
export { requestMetrics, teacherForced, normSnapshots } from './metrics';
export { keyStats, importStatsIntoCache, modelContentHash } from './stats';
export * from './types';

export function defaultCacheDir(): string {
  return process.env.EAC_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'eac-studio');
}

export interface StatsSettings {
  cacheDir?: string;
  corpusPath?: string;
  samples?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  importedLabel?: string | number;
}

/** Key statistics per the profile (sample count, tokens per sample), cached on disk. */
export function statsProvider(model: LoadedModel, profile: EditProfile, s: StatsSettings = {}): StatsProvider {
  const cacheDir = s.cacheDir ?? defaultCacheDir();
  const provider = async (layers: number[]) => {
    const m = await keyStats(model, layers, {
      cacheDir,
      corpusPath: s.corpusPath ?? profile.stats.corpus,
      samples: s.samples ?? profile.stats.samples,
      maxTokensPerSample: profile.stats.maxTokensPerSample,
      onProgress: s.onProgress,
      signal: s.signal,
      importedLabel: s.importedLabel,
    });
    return new Map([...m].map(([l, k]) => [l, { mom2: k.mom2, key: k.key, count: k.count, cacheDir: k.cacheDir }]));
  };
  const refs = (layers: number[]) =>
    cachedStatsRefs(model, layers, {
      cacheDir,
      corpusPath: s.corpusPath ?? profile.stats.corpus,
      samples: s.samples ?? profile.stats.samples,
      maxTokensPerSample: profile.stats.maxTokensPerSample,
      importedLabel: s.importedLabel,
    });
  return Object.assign(provider, { cacheDir, refs });
}

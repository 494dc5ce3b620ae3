// The on-disk statistics cache. Layout under cacheDir:
//   model-hashes.json          per-file import hashes (checkpoint/hash.ts)
//   stats/<key>.bin            E[k kᵀ] as dim*dim float64, little-endian, row-major
//   stats/<key>.json           meta (written last: the commit marker; carries the .bin's sha256)
//   stats/<key>.chol-<r>.bin   Cholesky factor of C + ridge (solve-cache.ts), packed lower triangle
//   stats/<key>.chol-<r>.json  its meta
// Files are written to a temp name, fsynced and renamed, so a crash never leaves a half file under
// the real name; a .bin that does not match its meta (size, sha256) is ignored and recomputed.
// Every cache file is opened as a regular file only (engine/fs-safe): something we never write
// there — a FIFO, a directory, a meta far larger than ours — is refused at once with its
// CheckpointError ('not_regular_file', 'file_too_large') instead of blocking or being written over.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../../checkpoint/errors';
import { readTextFile } from '../../fs-safe';
import { Alloc, defaultAlloc } from '../alloc';
import { bytesOf, readFileInto, regularFileSize, writeFileAtomic } from '../atomic-write';

export const STATS_FORMAT = 'eac-keystats-v1';

export interface StatsMeta {
  format: typeof STATS_FORMAT;
  key: string;
  layer: number;
  dim: number;
  count: number;
  /** sha256 of the .bin */
  sha256: string;
  origin: 'computed' | 'npz';
  model: string;
  /** corpus file and its sha256 (computed), or the .npz file and its sha256 (imported) */
  corpus: { path: string; sha256: string };
  samples: number | string;
  samplesUsed?: number;
  maxTokens?: number;
  created: string;
}

export function sha256(data: Uint8Array | string): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function keyOf(desc: Record<string, unknown>, layer: number): string {
  return `l${layer}-${sha256(JSON.stringify({ format: STATS_FORMAT, ...desc, layer })).slice(0, 40)}`;
}

/** Cache key of statistics computed from a corpus (modelHash: the model's import hash). */
export function statsKey(modelHash: string, layer: number, corpusSha256: string, samples: number, maxTokens: number): string {
  return keyOf({ model: modelHash, corpus: corpusSha256, samples, maxTokens }, layer);
}

/** Cache key of statistics imported from an .npz under a samples label. */
export function importedStatsKey(modelHash: string, layer: number, samplesLabel: string | number): string {
  return keyOf({ model: modelHash, corpus: 'imported-npz', samples: String(samplesLabel) }, layer);
}

export function statsPaths(cacheDir: string, key: string) {
  const dir = path.join(cacheDir, 'stats');
  return { dir, bin: path.join(dir, `${key}.bin`), meta: path.join(dir, `${key}.json`) };
}

/** Cap on a cache meta .json: ours are under 1 KiB. */
export const CACHE_META_LIMIT = 1 << 20;

/** A cache file we did not write (see the top of this file): refused, not ignored. */
export function isForeignCacheFile(e: unknown): boolean {
  return e instanceof CheckpointError && (e.code === 'not_regular_file' || e.code === 'file_too_large');
}

/**
 * A cache meta .json, parsed; null when it is missing, unreadable or not JSON (the entry is then
 * recomputed). Throws the CheckpointError of a foreign file (isForeignCacheFile).
 */
export function readCacheMeta<T>(file: string, what = 'the statistics cache meta'): T | null {
  let text: string;
  try {
    text = readTextFile(file, CACHE_META_LIMIT, what);
  } catch (e) {
    if (isForeignCacheFile(e)) throw e;
    return null;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

/** The meta of a cached entry when its fields fit (format, key, dim, a positive count); the .bin is not read. */
export function cachedStatsMeta(cacheDir: string, key: string, dim: number): StatsMeta | null {
  const meta = readCacheMeta<StatsMeta>(statsPaths(cacheDir, key).meta);
  return meta && meta.format === STATS_FORMAT && meta.key === key && meta.dim === dim && meta.count > 0 ? meta : null;
}

/**
 * A cached entry, or null when missing or not intact (size, sha256, meta fields). The .bin is read
 * straight into the returned matrix: one n² buffer, its expected size (dim²·8 bytes) checked before
 * the allocation. A foreign file under the entry's names throws (see readCacheMeta).
 */
export function readCachedStats(cacheDir: string, key: string, dim: number, alloc: Alloc = defaultAlloc): { mom2: Float64Array; meta: StatsMeta } | null {
  const p = statsPaths(cacheDir, key);
  const meta = cachedStatsMeta(cacheDir, key, dim);
  if (!meta) return null;
  try {
    if (regularFileSize(p.bin, 'the statistics cache .bin') !== dim * dim * 8) return null;
    const mom2 = alloc.f64(dim * dim, 'C (cached)');
    // little-endian hosts only (every platform ORT ships for)
    if (readFileInto(p.bin, bytesOf(mom2), 'the statistics cache .bin') !== meta.sha256) return null;
    return { mom2, meta };
  } catch (e) {
    if (isForeignCacheFile(e)) throw e;
    return null;
  }
}

export function writeCachedStats(cacheDir: string, mom2: Float64Array, meta: Omit<StatsMeta, 'sha256' | 'format' | 'created'>): void {
  const p = statsPaths(cacheDir, meta.key);
  const digest = writeFileAtomic(p.bin, bytesOf(mom2));
  const full: StatsMeta = { format: STATS_FORMAT, ...meta, sha256: digest, created: new Date().toISOString() };
  writeFileAtomic(p.meta, JSON.stringify(full, null, 1));
}

/**
 * Metas of every intact-looking entry in cacheDir/stats (the .bin is not verified here). A foreign
 * file is left out of the list without being read (using that entry reports it: readCachedStats).
 */
export function listCachedStats(cacheDir: string): StatsMeta[] {
  const dir = path.join(cacheDir, 'stats');
  if (!fs.existsSync(dir)) return [];
  const out: StatsMeta[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    let m: StatsMeta | null;
    try {
      m = readCacheMeta<StatsMeta>(path.join(dir, f));
    } catch {
      continue;
    }
    if (m?.format === STATS_FORMAT) out.push(m);
  }
  return out;
}

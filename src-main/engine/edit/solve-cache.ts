// Cholesky factors of (regularised) key statistics C, computed once and reused: in memory (LRU,
// bounded by entries and bytes) and on disk beside the statistics they factorise, so no process
// refactorises what another already did. The factor of C + ridge·tr(C)/n·I (ROME's mom2 ridge;
// MEMIT uses ridge 0) is built in one new n² buffer — the copy of C's lower triangle with the shift
// on the diagonal, factorised in place — so C and its factor are the only n² buffers of a solve.
//
// A SolveCache is an instance, not a module global: whoever owns the loaded model owns its cache
// and drops it with the model.
import path from 'node:path';
import { Alloc, defaultAlloc } from './alloc';
import { bytesOf, readFileInto, regularFileSize, writeFileAtomic } from './atomic-write';
import { choleskyBlockedInPlace } from './cholesky-ort';
import { choleskyInPlace, choleskySolve, NotPositiveDefiniteError } from './linalg';
import { nullspaceBasis, symmetricEigen, type SymmetricEigen } from './eigen';
import { isForeignCacheFile, readCacheMeta, sha256, statsPaths, type StatsMeta } from './stats/cache';
import { StatsError } from './stats-npz';
import { internalError } from '../errors';

/** Key of a regularised matrix in a SolveCache, e.g. solveKey(stats.key, 'ridge=0.0001'). */
export function solveKey(statsKeyValue: string, regulariser: string | number): string {
  return `${statsKeyValue}|${regulariser}`;
}

/** Above this size the O(n³) part of a factorisation runs on onnxruntime. */
export const BLOCKED_CHOLESKY_MIN = 1024;

const FACTOR_FORMAT = 'eac-cholesky-v1';
const EIGEN_FORMAT = 'eac-eigen-v1';

/** AlphaEdit's Û for one statistics entry and threshold: the eigenvectors of C below it, as rows [rows, n]. */
export interface Nullspace {
  key: string;
  /** the statistics entry it comes from */
  statsKey: string;
  n: number;
  rows: number;
  basis: Float64Array;
  threshold: number;
  /** where the eigendecomposition came from */
  source: 'memory' | 'disk' | 'computed';
}

export interface EigenMeta {
  format: typeof EIGEN_FORMAT;
  statsKey: string;
  statsSha256: string;
  dim: number;
  /** sha256 of the .bin: n eigenvalues (ascending) then the n eigenvectors as rows, float64 little-endian */
  sha256: string;
  seconds: number;
  created: string;
}

/** The diagonal shift ROME's ridge adds: ridge · tr(C) / n. */
export function ridgeShift(C: Float64Array, n: number, ridge: number): number {
  if (!(ridge > 0)) return 0;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += C[i * n + i];
  return (ridge * tr) / n;
}

/** What a solve needs to know about a statistics entry (KeyStats has all of it). */
export interface SolveStats {
  key: string;
  /**
   * C itself; needed only to factorise. A reference without it ({ key, count, cacheDir }, see
   * `solveRef`) finds the factor in memory or on disk, so C can be freed once `prepare` has run.
   */
  mom2?: Float64Array;
  /** tokens behind the statistics (checked against n) */
  count?: number;
  /** the statistics cache the entry came from: the factor is persisted beside it */
  cacheDir?: string;
}

export interface FactorMeta {
  format: typeof FACTOR_FORMAT;
  statsKey: string;
  /** sha256 of the statistics .bin it factorises (a re-imported entry under the same key invalidates it) */
  statsSha256: string;
  ridge: number;
  shift: number;
  dim: number;
  /** sha256 of the .bin: the packed lower triangle, row by row, float64 little-endian */
  sha256: string;
  seconds: number;
  created: string;
}

export interface SolvePreparation {
  key: string;
  /** where the factor came from */
  source: 'memory' | 'disk' | 'factorised';
  /** clear, user-facing notes (e.g. fewer tokens than d_ff with a ridge) */
  warnings: string[];
}

interface SolveEntry {
  n: number;
  L: Float64Array;
  /** of the matrix factorised; null when the entry was loaded for a reference without C */
  fingerprint: number | null;
}

function fingerprint(A: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += A[i * n + i] * (1 + (i % 7)) + A[i * n + ((i * 31 + 17) % n)];
  return s;
}

function factorPaths(cacheDir: string, statsKeyValue: string, ridge: number) {
  const base = statsPaths(cacheDir, statsKeyValue);
  const tag = sha256(`ridge=${ridge}`).slice(0, 12);
  return { stats: base, bin: path.join(base.dir, `${statsKeyValue}.chol-${tag}.bin`), meta: path.join(base.dir, `${statsKeyValue}.chol-${tag}.json`) };
}

function eigenPaths(cacheDir: string, statsKeyValue: string) {
  const base = statsPaths(cacheDir, statsKeyValue);
  return { bin: path.join(base.dir, `${statsKeyValue}.eig.bin`), meta: path.join(base.dir, `${statsKeyValue}.eig.json`) };
}

function statsSha(cacheDir: string, statsKeyValue: string): string | null {
  return readCacheMeta<StatsMeta>(statsPaths(cacheDir, statsKeyValue).meta)?.sha256 ?? null;
}

/** Packed lower triangle of L, row by row (what goes on disk: half of n²). */
function* packedRows(L: Float64Array, n: number): Iterable<Uint8Array> {
  for (let i = 0; i < n; i++) yield bytesOf(L.subarray(i * n, i * n + i + 1));
}

/**
 * Reads a packed lower triangle into `L` (n × n): the packed rows land at the front of L's own
 * buffer and are moved to their rows from the last row up (row i's packed start i(i+1)/2 ≤ i·n, so
 * no unread row is overwritten). Returns the sha256 of the packed bytes. No buffer besides L.
 */
function readPacked(file: string, L: Float64Array, n: number): string {
  const packed = (n * (n + 1)) / 2;
  const digest = readFileInto(file, bytesOf(L.subarray(0, packed)), 'the persisted Cholesky factor');
  for (let i = n - 1; i >= 1; i--) {
    const src = (i * (i + 1)) / 2;
    L.copyWithin(i * n, src, src + i + 1);
    L.fill(0, i * n + i + 1, i * n + n);
  }
  L.fill(0, 1, n);
  return digest;
}

export interface SolveCacheOptions {
  /** entries kept in memory (least recently used dropped first; default 8) */
  maxEntries?: number;
  /**
   * bytes of factors kept in memory (default 1 GiB). A factor that is persisted on disk and would
   * exceed this is not kept: it is read back (≈ a second per GB) when a solve needs it, instead of
   * staying resident through an edit's optimisation. Factors with nowhere to persist are always kept.
   */
  maxBytes?: number;
  /** where n² buffers come from (tests count them) */
  alloc?: Alloc;
  /** panel width of the blocked factorisation */
  block?: number;
}

/**
 * Cholesky factors per (stats key, regulariser) — the caller folds the regulariser into the key,
 * e.g. with `solveKey` — computed once and reused. Passing a different matrix under a known key is
 * an error, not a silent wrong answer.
 */
export class SolveCache {
  private entries = new Map<string, SolveEntry>();
  /** Û per (stats key, threshold); the full decomposition lives on disk only */
  private nullspaces = new Map<string, Nullspace>();
  /** eigendecompositions run by this cache */
  eigendecompositions = 0;
  /** factorisations run by this cache */
  factorisations = 0;
  /** factors read from disk by this cache */
  loads = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly alloc: Alloc;
  private readonly block: number | undefined;

  constructor(opts: SolveCacheOptions | number = {}) {
    const o = typeof opts === 'number' ? { maxEntries: opts } : opts;
    this.maxEntries = o.maxEntries ?? 8;
    this.maxBytes = o.maxBytes ?? 1 << 30;
    this.alloc = o.alloc ?? defaultAlloc;
    this.block = o.block;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.nullspaces.clear();
  }

  /**
   * AlphaEdit's null-space basis of a statistics entry: the eigenvectors of C with eigenvalue <
   * `threshold`. The eigendecomposition runs once per statistics entry: it is persisted beside the
   * Cholesky factor (whole, so another threshold reads it back instead of decomposing again) when
   * the entry has a cache folder, and Û is kept in memory per threshold (the last few).
   */
  async nullspace(stats: SolveStats, threshold: number, n: number, onProgress?: (fraction: number) => void): Promise<Nullspace> {
    const out = this.findNullspace(stats, threshold, n, onProgress);
    if (!out) throw new StatsError('not-positive-definite', `no eigendecomposition of ${stats.key} in memory or beside the statistics, and no statistics to decompose`);
    return out;
  }

  /**
   * `nullspace` for a reference without C: from memory or from the eigendecomposition beside the
   * statistics; null when neither exists or the file fails its check (the caller then reads C).
   */
  async nullspaceWithoutC(ref: SolveStats, threshold: number, n: number): Promise<Nullspace | null> {
    return this.findNullspace({ key: ref.key, count: ref.count, cacheDir: ref.cacheDir }, threshold, n);
  }

  /** The null space from memory, from disk, or decomposed from C; null when none is there and C is not given. */
  private findNullspace(stats: SolveStats, threshold: number, n: number, onProgress?: (fraction: number) => void): Nullspace | null {
    const key = `${stats.key}|nullspace<${threshold}`;
    const hit = this.nullspaces.get(key);
    if (hit) {
      if (hit.n !== n) throw internalError(`SolveCache: null space ${key} was made for ${hit.n} dimensions, asked for ${n}`);
      this.nullspaces.delete(key);
      this.nullspaces.set(key, hit);
      return { ...hit, source: 'memory' };
    }
    const dir = stats.cacheDir;
    const paths = dir ? eigenPaths(dir, stats.key) : null;
    const expectSha = dir ? statsSha(dir, stats.key) : null;
    let eig: SymmetricEigen | null = paths && expectSha ? this.loadEigen(paths, stats.key, expectSha, n) : null;
    let source: Nullspace['source'] = 'disk';
    if (!eig) {
      if (!stats.mom2) return null;
      const t0 = performance.now();
      eig = symmetricEigen(stats.mom2, n, onProgress);
      this.eigendecompositions++;
      source = 'computed';
      if (paths && expectSha) {
        const digest = writeFileAtomic(paths.bin, [bytesOf(eig.values), bytesOf(eig.vectors)]);
        const meta: EigenMeta = { format: EIGEN_FORMAT, statsKey: stats.key, statsSha256: expectSha, dim: n, sha256: digest, seconds: (performance.now() - t0) / 1000, created: new Date().toISOString() };
        writeFileAtomic(paths.meta, JSON.stringify(meta, null, 1));
      }
    }
    const { rows, basis } = nullspaceBasis(eig, threshold);
    const out: Nullspace = { key, statsKey: stats.key, n, rows, basis, threshold, source };
    this.nullspaces.set(key, out);
    while (this.nullspaces.size > Math.max(1, Math.min(this.maxEntries, 8))) this.nullspaces.delete(this.nullspaces.keys().next().value as string);
    return out;
  }

  private loadEigen(paths: ReturnType<typeof eigenPaths>, statsKeyValue: string, statsSha256: string, n: number): SymmetricEigen | null {
    const meta = readCacheMeta<EigenMeta>(paths.meta, 'the eigendecomposition meta');
    if (!meta || meta.format !== EIGEN_FORMAT || meta.statsKey !== statsKeyValue || meta.statsSha256 !== statsSha256 || meta.dim !== n) return null;
    const all = new Float64Array(n + n * n);
    try {
      if (readFileInto(paths.bin, bytesOf(all), 'the persisted eigendecomposition') !== meta.sha256) return null;
    } catch (e) {
      if (isForeignCacheFile(e)) throw e;
      return null;
    }
    return { n, values: all.subarray(0, n), vectors: all.subarray(n) };
  }

  private remember(key: string, entry: SolveEntry, persisted: boolean): void {
    if (persisted && entry.L.byteLength > this.maxBytes) return;
    this.entries.set(key, entry);
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.L.byteLength;
    while (this.entries.size > this.maxEntries || (this.entries.size > 1 && bytes > this.maxBytes)) {
      const oldest = this.entries.keys().next().value as string;
      bytes -= this.entries.get(oldest)!.L.byteLength;
      this.entries.delete(oldest);
    }
  }

  private hit(key: string, A: Float64Array | undefined, n: number): Float64Array | null {
    const hit = this.entries.get(key);
    if (!hit) return null;
    if (hit.n !== n || (A && hit.fingerprint !== null && hit.fingerprint !== fingerprint(A, n)))
      throw internalError(`SolveCache: key ${key} was factorised for a different ${hit.n}x${hit.n} matrix; include the regulariser/stats in the key`);
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.L;
  }

  /** Factor of A (plain JS, in one copy of A), cached under `key`. */
  cholesky(key: string, A: Float64Array, n: number): Float64Array {
    const cached = this.hit(key, A, n);
    if (cached) return cached;
    const L = this.copyLower(A, n, 0);
    choleskyInPlace(L, n);
    this.factorisations++;
    this.remember(key, { n, L, fingerprint: fingerprint(A, n) }, false);
    return L;
  }

  /** As `cholesky`, with large matrices factorised on onnxruntime (in place, panels only). */
  async choleskyAsync(key: string, A: Float64Array, n: number): Promise<Float64Array> {
    const cached = this.hit(key, A, n);
    if (cached) return cached;
    const L = await this.factorise(A, n, 0);
    this.remember(key, { n, L, fingerprint: fingerprint(A, n) }, false);
    return L;
  }

  /** A⁻¹B, B row-major [n, cols]. */
  solve(key: string, A: Float64Array, n: number, B: Float64Array, cols: number): Float64Array {
    return choleskySolve(this.cholesky(key, A, n), n, B, cols);
  }

  /** The lower triangle of A with `shift` added to the diagonal, in a new n² buffer. */
  private copyLower(A: Float64Array, n: number, shift: number): Float64Array {
    if (A.length !== n * n) throw internalError(`SolveCache: A has ${A.length} elements, expected ${n * n}`);
    const L = this.alloc.f64(n * n, 'Cholesky factor');
    for (let i = 0; i < n; i++) {
      L.set(A.subarray(i * n, i * n + i + 1), i * n);
      L[i * n + i] += shift;
    }
    return L;
  }

  private async factorise(A: Float64Array, n: number, shift: number): Promise<Float64Array> {
    const L = this.copyLower(A, n, shift);
    if (n > BLOCKED_CHOLESKY_MIN) await choleskyBlockedInPlace(L, n, { alloc: this.alloc, block: this.block });
    else choleskyInPlace(L, n);
    this.factorisations++;
    return L;
  }

  /**
   * Factor of C + ridge·tr(C)/n·I for a statistics entry, keyed solveKey(stats.key, `ridge=R`):
   * from memory, else from disk beside the statistics (when `stats.cacheDir` is set and the
   * persisted factor matches the statistics' sha256), else factorised and persisted (atomically).
   * A C that is not positive definite throws StatsError 'not-positive-definite'.
   */
  async factor(stats: SolveStats, ridge: number, n: number): Promise<Float64Array> {
    return (await this.factorWithSource(stats, ridge, n)).L;
  }

  private async factorWithSource(stats: SolveStats, ridge: number, n: number): Promise<{ L: Float64Array; source: SolvePreparation['source'] }> {
    const key = solveKey(stats.key, `ridge=${ridge}`);
    const cached = this.hit(key, stats.mom2, n);
    if (cached) return { L: cached, source: 'memory' };
    const fp = stats.mom2 ? fingerprint(stats.mom2, n) : null;
    const dir = stats.cacheDir;
    const paths = dir ? factorPaths(dir, stats.key, ridge) : null;
    const expectSha = dir ? statsSha(dir, stats.key) : null;
    if (paths && expectSha) {
      const L = this.loadFactor(paths, stats.key, expectSha, ridge, n);
      if (L) {
        this.loads++;
        this.remember(key, { n, L, fingerprint: fp }, true);
        return { L, source: 'disk' };
      }
    }
    if (!stats.mom2)
      throw new StatsError('not-positive-definite', `no Cholesky factor of ${key} in memory or beside the statistics, and no statistics to factorise (was prepare() run?)`);
    const shift = ridgeShift(stats.mom2, n, ridge);
    const t0 = performance.now();
    let L: Float64Array;
    try {
      L = await this.factorise(stats.mom2, n, shift);
    } catch (e) {
      if (e instanceof NotPositiveDefiniteError) throw notPdError(e, stats, ridge, n);
      throw e;
    }
    const seconds = (performance.now() - t0) / 1000;
    let persisted = false;
    if (paths && expectSha) {
      const digest = writeFileAtomic(paths.bin, packedRows(L, n));
      const meta: FactorMeta = { format: FACTOR_FORMAT, statsKey: stats.key, statsSha256: expectSha, ridge, shift, dim: n, sha256: digest, seconds, created: new Date().toISOString() };
      writeFileAtomic(paths.meta, JSON.stringify(meta, null, 1));
      persisted = true;
    }
    this.remember(key, { n, L, fingerprint: fp }, persisted);
    return { L, source: 'factorised' };
  }

  private loadFactor(paths: ReturnType<typeof factorPaths>, statsKeyValue: string, statsSha256: string, ridge: number, n: number): Float64Array | null {
    // missing or not intact: null (factorised again); a foreign file (stats/cache.ts) throws
    const meta = readCacheMeta<FactorMeta>(paths.meta, 'the Cholesky factor meta');
    if (!meta || meta.format !== FACTOR_FORMAT || meta.statsKey !== statsKeyValue || meta.statsSha256 !== statsSha256 || meta.ridge !== ridge || meta.dim !== n) return null;
    try {
      if (regularFileSize(paths.bin, 'the persisted Cholesky factor') !== ((n * (n + 1)) / 2) * 8) return null;
    } catch (e) {
      if (isForeignCacheFile(e)) throw e;
      return null;
    }
    const L = this.alloc.f64(n * n, 'Cholesky factor (persisted)');
    try {
      if (readPacked(paths.bin, L, n) !== meta.sha256) return null;
    } catch (e) {
      if (isForeignCacheFile(e)) throw e;
      return null;
    }
    return L;
  }

  /**
   * `prepare` for a reference without C ({ key, count, cacheDir }, from the statistics metas): the
   * factor from memory or from beside the statistics, checked as `factor` checks it; null when
   * there is none (the caller then reads C and calls `prepare`). C is never read for a solve whose
   * factor exists — at LLaMA-3-8B's d_ff that is 1.5 GiB of host memory during the edit saved.
   */
  async prepareWithoutC(ref: SolveStats, ridge: number, n: number): Promise<SolvePreparation | null> {
    if (!ref.cacheDir) return null;
    const key = solveKey(ref.key, `ridge=${ridge}`);
    const warnings = sampleWarnings(ref, ridge, n);
    if (this.hit(key, undefined, n)) return { key, source: 'memory', warnings };
    const expectSha = statsSha(ref.cacheDir, ref.key);
    const L = expectSha ? this.loadFactor(factorPaths(ref.cacheDir, ref.key, ridge), ref.key, expectSha, ridge, n) : null;
    if (!L) return null;
    this.loads++;
    this.remember(key, { n, L, fingerprint: null }, true);
    return { key, source: 'disk', warnings };
  }

  /**
   * At statistics time, before any edit work: checks the token count against n (fewer tokens than
   * d_ff make C singular: an error without a ridge, a warning with one) and makes sure the factor of
   * C + ridge exists — loaded or factorised and persisted — so a C that is not positive definite is
   * reported now (StatsError 'insufficient-samples' / 'not-positive-definite') and not after the
   * optimisation. The factor is kept in memory only within the cache's byte budget.
   */
  async prepare(stats: SolveStats, ridge: number, n: number): Promise<SolvePreparation> {
    const warnings = sampleWarnings(stats, ridge, n);
    const { source } = await this.factorWithSource(stats, ridge, n);
    return { key: solveKey(stats.key, `ridge=${ridge}`), source, warnings };
  }
}

/**
 * What the update step needs of a statistics entry once `prepare` has made its factor: without C
 * when the factor is persisted (C can then be freed during an edit's optimisation), the entry
 * itself otherwise.
 */
export function solveRef(stats: SolveStats): SolveStats {
  return stats.cacheDir ? { key: stats.key, count: stats.count, cacheDir: stats.cacheDir } : stats;
}

/**
 * The sample-count check: throws StatsError 'insufficient-samples' when C has fewer tokens than
 * n and no ridge (C is then singular); returns a warning when a ridge makes it solvable anyway.
 */
export function sampleWarnings(stats: Pick<SolveStats, 'count' | 'key'>, ridge: number, n: number): string[] {
  const count = stats.count;
  if (count === undefined || count >= n) return [];
  const remedy = `compute the statistics over at least ${n} tokens (more samples or longer samples; \`eac stats compute --samples N\`) or import ROME's precomputed layer_stats (\`eac stats import\`)`;
  if (!(ridge > 0))
    throw new StatsError(
      'insufficient-samples',
      `key statistics ${stats.key} cover ${count} tokens, fewer than d_ff = ${n}: C = E[kkᵀ] has rank at most ${count} and is singular, and this solve uses no ridge. ${remedy[0].toUpperCase()}${remedy.slice(1)}.`,
    );
  return [
    `key statistics ${stats.key} cover ${count} tokens, fewer than d_ff = ${n}: C is singular and only the ridge (${ridge}·tr(C)/n) makes it solvable, so the edit direction is dominated by the ridge; ${remedy}.`,
  ];
}

function notPdError(e: NotPositiveDefiniteError, stats: SolveStats, ridge: number, n: number): StatsError {
  const few = stats.count !== undefined && stats.count < n ? ` They cover only ${stats.count} tokens for d_ff = ${n}.` : '';
  const err = new StatsError(
    'not-positive-definite',
    `key statistics ${stats.key} are not positive definite with ridge ${ridge} (pivot ${e.pivot} at index ${e.index} of ${n}).${few} ` +
      `Use more statistics samples, or a profile with a larger mom2 ridge.`,
  );
  (err as Error & { cause?: unknown }).cause = e;
  return err;
}

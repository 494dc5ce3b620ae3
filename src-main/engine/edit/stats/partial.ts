// Checkpoints of a key-statistics accumulation in progress, so a run cut off at 320 of 400 samples
// (a kill, a crash, a cancel) goes on from its last checkpoint instead of from sample 0.
//
// Layout under cacheDir/stats, beside the finished entries (cache.ts):
//   <pkey>.json                    meta (written last: the commit marker; names the files below with
//                                  their sha256 and where the run was)
//   <pkey>-<tag>-l<layer>.sum.bin  the layer's float64 Σ k kᵀ so far (n², as accumulated)
//   <pkey>-<tag>-l<layer>.keys.bin its float32 key block with the keys gathered since the last flush
// Every save writes new files under a fresh tag, then the meta, then removes the previous save's
// files: a crash at any point leaves the previous checkpoint (or none) intact and named by the meta.
// A checkpoint is used only when its meta matches this run exactly (pkey covers the model, corpus,
// samples, token limit, layers, batch size and the accumulator's grouping) and every file's sha256
// matches; anything else starts from zero. The state is saved as it is (no flush), so the resumed
// run adds the same numbers in the same order: its C is bit-identical to an uninterrupted run's.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readFileInto, writeFileAtomic } from '../atomic-write';
import type { KeyMomentAccumulator } from './accumulate';
import { isForeignCacheFile, readCacheMeta, sha256 } from './cache';
import { internalError } from '../../errors';

export const PARTIAL_FORMAT = 'eac-keystats-partial-v1';

/** What must be equal for a checkpoint to continue this run. */
export interface PartialDesc {
  model: string;
  corpus: string;
  samples: number;
  maxTokens: number;
  layers: number[];
  dim: number;
  batchSize: number;
  /** the accumulators' token capacity and column block (they decide how the sums are grouped) */
  capacity: number;
  block: number;
}

/** Where a run was: `c` the first sample of its chunk, `row` the sorted rows of that chunk done, `done` samples counted. */
export interface PartialPosition {
  c: number;
  row: number;
  done: number;
}

interface PartialMeta extends PartialPosition {
  format: typeof PARTIAL_FORMAT;
  key: string;
  desc: PartialDesc;
  /** tokens added so far (every layer sees the same tokens) */
  count: number;
  pending: number;
  files: { layer: number; sum: string; sumSha256: string; keys: string; keysSha256: string }[];
  created: string;
}

/** When to checkpoint: after `everySamples` samples or `everyMs` since the last one, whichever first. */
export interface CheckpointPolicy {
  everySamples?: number;
  /** default 120 000 (two minutes) */
  everyMs?: number;
}

export const DEFAULT_CHECKPOINT_MS = 120_000;

export function partialKey(desc: PartialDesc): string {
  return `partial-${sha256(JSON.stringify({ format: PARTIAL_FORMAT, ...desc })).slice(0, 40)}`;
}

export class StatsCheckpoint {
  readonly key: string;
  private readonly dir: string;
  private readonly metaFile: string;
  private lastSamples = 0;
  private lastAt = Date.now();
  /** files of the checkpoint this run wrote last (removed when the next one is committed) */
  private current: string[] = [];
  /** checkpoints written by this run */
  saves = 0;

  constructor(
    cacheDir: string,
    private readonly desc: PartialDesc,
    private readonly acc: Map<number, KeyMomentAccumulator>,
    private readonly policy: CheckpointPolicy = {},
  ) {
    this.key = partialKey(desc);
    this.dir = path.join(cacheDir, 'stats');
    this.metaFile = path.join(this.dir, `${this.key}.json`);
  }

  /**
   * Loads the checkpoint of this exact run into the accumulators, verified; the position to go on
   * from, or null (no checkpoint, or one that does not match or is damaged: the accumulators are
   * then zero and the run starts over). A foreign file under the meta's name throws (cache.ts).
   */
  restore(): (PartialPosition & { count: number }) | null {
    const m = readCacheMeta<PartialMeta>(this.metaFile, 'the statistics checkpoint');
    if (!m || m.format !== PARTIAL_FORMAT || m.key !== this.key || JSON.stringify(m.desc) !== JSON.stringify(this.desc)) return null;
    const ok = (x: unknown, max: number) => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max;
    if (!ok(m.c, this.desc.samples) || !ok(m.row, this.desc.samples) || !ok(m.done, this.desc.samples) || !ok(m.count, Number.MAX_SAFE_INTEGER) || !Array.isArray(m.files)) return null;
    // the key block's gathered count is below its capacity (restored() holds that as an invariant)
    if (![...this.acc.values()].every((a) => ok(m.pending, a.capacity - 1))) return null;
    try {
      for (const [layer, a] of this.acc) {
        const f = m.files.find((x) => x.layer === layer);
        if (!f || path.basename(f.sum) !== f.sum || path.basename(f.keys) !== f.keys) throw internalError('files');
        const t = a.stateTargets();
        if (readFileInto(path.join(this.dir, f.sum), t.sum, 'the statistics checkpoint') !== f.sumSha256) throw internalError('sha');
        if (readFileInto(path.join(this.dir, f.keys), t.keys, 'the statistics checkpoint') !== f.keysSha256) throw internalError('sha');
        a.restored(m.pending, m.count);
      }
    } catch (e) {
      this.reset();
      if (isForeignCacheFile(e)) throw e;
      return null;
    }
    this.current = m.files.flatMap((f) => [f.sum, f.keys]);
    this.lastSamples = m.done;
    return { c: m.c, row: m.row, done: m.done, count: m.count };
  }

  /** Zeroes the accumulators (a failed restore may have read part of a checkpoint into them). */
  private reset(): void {
    for (const a of this.acc.values()) {
      const t = a.stateTargets();
      t.sum.fill(0);
      t.keys.fill(0);
      a.restored(0, 0);
    }
  }

  /** Saves now when the policy says so (or `force`, e.g. on cancel). */
  maybeSave(pos: PartialPosition, force = false): boolean {
    const p = this.policy;
    const due =
      force ||
      (p.everySamples !== undefined && pos.done - this.lastSamples >= p.everySamples) ||
      Date.now() - this.lastAt >= (p.everyMs ?? DEFAULT_CHECKPOINT_MS);
    if (!due || pos.done <= this.lastSamples) return false;
    this.save(pos);
    return true;
  }

  /** Writes the state at `pos` (new files, then the meta), then removes the previous checkpoint's files. */
  save(pos: PartialPosition): void {
    const tag = `${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    const files: PartialMeta['files'] = [];
    let state: ReturnType<KeyMomentAccumulator['stateParts']> | undefined;
    for (const [layer, a] of this.acc) {
      state = a.stateParts();
      const sum = `${this.key}-${tag}-l${layer}.sum.bin`;
      const keys = `${this.key}-${tag}-l${layer}.keys.bin`;
      files.push({
        layer,
        sum,
        sumSha256: writeFileAtomic(path.join(this.dir, sum), state.sum),
        keys,
        keysSha256: writeFileAtomic(path.join(this.dir, keys), state.keys),
      });
    }
    if (!state) return;
    const meta: PartialMeta = {
      format: PARTIAL_FORMAT,
      key: this.key,
      desc: this.desc,
      ...pos,
      count: state.count,
      pending: state.pending,
      files,
      created: new Date().toISOString(),
    };
    writeFileAtomic(this.metaFile, JSON.stringify(meta, null, 1));
    for (const f of this.current) fs.rmSync(path.join(this.dir, f), { force: true });
    this.current = files.flatMap((f) => [f.sum, f.keys]);
    this.lastSamples = pos.done;
    this.lastAt = Date.now();
    this.saves++;
  }

  /**
   * Removes the checkpoint once the finished entries are written: the meta first (so no reader
   * trusts files that are going), then every file of this key (including those of a save a crash
   * cut short). All are files this module wrote, named by the checkpoint key.
   */
  remove(): void {
    fs.rmSync(this.metaFile, { force: true });
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const f of names) if (f.startsWith(`${this.key}-`) && (f.endsWith('.bin') || f.includes('.bin.tmp-'))) fs.rmSync(path.join(this.dir, f), { force: true });
    this.current = [];
  }
}

// C = Σ_t k_t k_tᵀ accumulated in place: one float64 n² buffer per layer, updated with symmetric
// rank-t updates (lower triangle only) from blocks of keys, so no per-batch n² matrix ever exists.
// The keys of up to `tokenCapacity` real tokens are gathered (transposed, float32, n × cap) and
// then added on onnxruntime one block of columns at a time: columns [c0, c1) of C from row c0 down
// get Kᵀ[c0..n) · Kᵀ[c0..c1)ᵀ, an (n − c0) × block product — the largest temporary.
import * as ort from 'onnxruntime-node';
import type { ForwardSpec } from '../../models/forward';
import { batchFeeds, LoadedModel, makeBatch } from '../../runtime/model';
import { Alloc, defaultAlloc } from '../alloc';
import { matmulABt } from '../cholesky-ort';
import { AbortError, cancelledError, internalError } from '../../errors';
import { bytesOf } from '../atomic-write';

export interface AccumulatorOptions {
  alloc?: Alloc;
  /** tokens gathered before an update (default: 64 MiB of float32 keys, between 64 and 2048) */
  tokenCapacity?: number;
  /** column block of an update (default 512) */
  block?: number;
}

export function abortError(): AbortError {
  return cancelledError('key statistics cancelled');
}

export class KeyMomentAccumulator {
  /** Σ k kᵀ, lower triangle while accumulating; E[k kᵀ] (symmetric) after `finish` */
  readonly sum: Float64Array;
  /** tokens added */
  count = 0;
  private readonly kt: Float32Array;
  private readonly cap: number;
  private readonly block: number;
  private readonly alloc: Alloc;
  private pending = 0;
  private finished = false;

  constructor(
    readonly n: number,
    opts: AccumulatorOptions = {},
  ) {
    this.alloc = opts.alloc ?? defaultAlloc;
    this.cap = opts.tokenCapacity ?? Math.max(64, Math.min(2048, Math.floor((64 << 20) / (4 * n))));
    // at most a quarter of the columns per block, so even a small n never gets an n² product
    this.block = Math.max(1, Math.min(opts.block ?? 512, Math.ceil(n / 4)));
    this.sum = this.alloc.f64(n * n, 'C accumulator');
    this.kt = this.alloc.f32(n * this.cap, 'key block');
  }

  /** Adds k kᵀ for the key at src[offset .. offset+n). */
  async add(src: Float32Array, offset: number): Promise<void> {
    if (this.finished) throw internalError('KeyMomentAccumulator: add after finish');
    const { n, cap, kt } = this;
    const p = this.pending;
    for (let r = 0; r < n; r++) kt[r * cap + p] = src[offset + r];
    this.pending++;
    this.count++;
    if (this.pending === cap) await this.flush();
  }

  /** Adds the gathered keys to the sum (lower triangle). */
  async flush(): Promise<void> {
    const t = this.pending;
    if (t === 0) return;
    const { n, cap, block, sum } = this;
    // keys of a partial block: close the gaps so row r of Kᵀ is kt[r*t .. r*t+t)
    if (t < cap) for (let r = 1; r < n; r++) this.kt.copyWithin(r * t, r * cap, r * cap + t);
    const KT = this.kt.subarray(0, n * t);
    for (let c0 = 0; c0 < n; c0 += block) {
      const c1 = Math.min(n, c0 + block);
      const cb = c1 - c0;
      const Y = await matmulABt(KT.subarray(c0 * t, n * t), n - c0, KT.subarray(c0 * t, c1 * t), cb, t, this.alloc);
      for (let i = c0; i < n; i++) {
        const row = i * n;
        const yrow = (i - c0) * cb - c0;
        const jEnd = Math.min(c1 - 1, i);
        for (let j = c0; j <= jEnd; j++) sum[row + j] += Y[yrow + j];
      }
    }
    this.pending = 0;
  }

  /**
   * The accumulation state as bytes, without copying: the float64 sum (lower triangle meaningful)
   * and the float32 key block with its `pending` gathered keys. Saved and restored as they are, a
   * resumed accumulation adds the same numbers in the same order as one that never stopped (a flush
   * here would regroup the sums and change the last bits).
   */
  stateParts(): { sum: Uint8Array; keys: Uint8Array; pending: number; count: number } {
    if (this.finished) throw internalError('KeyMomentAccumulator: state after finish');
    return { sum: bytesOf(this.sum), keys: bytesOf(this.kt), pending: this.pending, count: this.count };
  }

  /** Bytes to read a saved state into (see stateParts); then `restored(pending, count)`. */
  stateTargets(): { sum: Uint8Array; keys: Uint8Array } {
    return { sum: bytesOf(this.sum), keys: bytesOf(this.kt) };
  }

  restored(pending: number, count: number): void {
    if (!Number.isInteger(pending) || pending < 0 || pending >= this.cap) throw internalError(`KeyMomentAccumulator: pending keys ${pending} out of range 0..${this.cap - 1} (StatsCheckpoint.restore checks a saved count)`);
    this.pending = pending;
    this.count = count;
  }

  /** the token capacity of the key block (part of what makes two accumulations add in the same order) */
  get capacity(): number {
    return this.cap;
  }

  get blockSize(): number {
    return this.block;
  }

  /** Flushes, then turns the sum into E[k kᵀ] in place (divides by the count, mirrors the lower triangle). */
  async finish(): Promise<Float64Array> {
    await this.flush();
    this.finished = true;
    const { n, sum } = this;
    const inv = this.count > 0 ? 1 / this.count : 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < i; j++) {
        const v = sum[i * n + j] * inv;
        sum[i * n + j] = v;
        sum[j * n + i] = v;
      }
      sum[i * n + i] *= inv;
    }
    return sum;
  }
}

/**
 * Runs the unedited model over `rows` (token ids), `batchSize` rows per forward pass, and adds the
 * MLP key of every real token at each layer to that layer's accumulator; returns the tokens added.
 * `from` (a multiple of batchSize) skips the rows a resumed run already added; `onBatch` gets the
 * rows of the batch and the index after it, and is awaited (a checkpoint is written there).
 */
export async function accumulateKeys(
  model: LoadedModel,
  acc: Map<number, KeyMomentAccumulator>,
  rows: number[][],
  batchSize: number,
  signal: AbortSignal | undefined,
  onBatch: (rowsDone: number, rowEnd: number) => void | Promise<void>,
  from = 0,
): Promise<number> {
  const layers = [...acc.keys()];
  const spec: ForwardSpec = { tapKeys: layers, logits: 'none', dtype: 'float32' };
  const session = await model.session({ ...spec, kvCache: false });
  // statistics describe the unedited model, whatever edits are live
  const factors = model.factorFeeds('float32', { base: true });
  const n = model.cfg.ffn;
  let count = 0;
  for (let i = from; i < rows.length; i += batchSize) {
    if (signal?.aborted) throw abortError();
    const chunk = rows.slice(i, i + batchSize);
    const b = makeBatch(chunk);
    const out: Record<string, ort.Tensor> = await session.run({ ...batchFeeds(b, 'float32'), ...factors });
    for (const l of layers) {
      const keys = out[`key_${l}`].data as Float32Array;
      const a = acc.get(l)!;
      for (let p = 0; p < b.B * b.T; p++) if (b.real[p]) await a.add(keys, p * n);
    }
    for (const r of chunk) count += r.length;
    await onBatch(chunk.length, i + chunk.length);
  }
  return count;
}

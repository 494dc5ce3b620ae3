// Every float of a weight file checked for NaN / Inf in the same pass that hashes it (issue 19).
//
// The open-time check (checkSampledFinite) reads three 4 KiB windows per tensor; a NaN anywhere else went unseen
// until `logits` printed NaN. The import reads every byte anyway for its sha256 (hash.ts), so the scan rides on
// those chunks: no second read. A value is not finite exactly when its exponent bits are all ones, so the scan
// tests bits, without converting to float: F32 0x7f800000, F16 0x7c00, BF16 0x7f80, F64 0x7ff00000 (high word).
// Chunks arrive at any byte position: an element split across two chunks is carried over. Typed-array views
// read the host's byte order; safetensors is little-endian and so is every platform the app ships for.
import { CheckpointError } from './errors';
import type { TensorEntry } from './checkpoint';
import { DTYPE_BYTES, FLOAT_DTYPES } from './dtype';

/** The float tensors of one file, in file order (they never overlap: the loader refuses overlap). */
export function floatTensorsOf(tensors: Iterable<TensorEntry>, file: string): TensorEntry[] {
  return [...tensors].filter((t) => t.file === file && FLOAT_DTYPES.has(t.dtype) && t.byteLength > 0).sort((a, b) => a.offset - b.offset);
}

/** Index (within `count` elements from byte `from` of `buf`) of the first non-finite value, or -1. */
function firstNonFinite(buf: Uint8Array, from: number, count: number, dtype: TensorEntry['dtype']): number {
  const at = buf.byteOffset + from;
  if (dtype === 'F32' || dtype === 'F64') {
    const words = dtype === 'F32' ? 1 : 2;
    const hi = words - 1; // F64: the exponent is in the high (second, little-endian) word
    const mask = dtype === 'F32' ? 0x7f800000 : 0x7ff00000;
    if (at % 4 === 0) {
      const u = new Uint32Array(buf.buffer, at, count * words);
      for (let i = 0; i < count; i++) if ((u[i * words + hi] & mask) === mask) return i;
    } else {
      const v = new DataView(buf.buffer, at, count * 4 * words);
      for (let i = 0; i < count; i++) if ((v.getUint32((i * words + hi) * 4, true) & mask) === mask) return i;
    }
    return -1;
  }
  const mask = dtype === 'F16' ? 0x7c00 : 0x7f80;
  if (at % 4 === 0) {
    // two 16-bit values per 32-bit load: half the loop iterations of the 16-bit view (BF16 LLaMA weights are the
    // bulk of what gets scanned)
    const pairs = count >>> 1;
    const u = new Uint32Array(buf.buffer, at, pairs);
    for (let i = 0; i < pairs; i++) {
      const w = u[i];
      if ((w & mask) === mask) return 2 * i;
      if (((w >>> 16) & mask) === mask) return 2 * i + 1;
    }
    if (count & 1) return (new Uint16Array(buf.buffer, at + 4 * pairs, 1)[0] & mask) === mask ? count - 1 : -1;
    return -1;
  }
  if (at % 2 === 0) {
    const u = new Uint16Array(buf.buffer, at, count);
    for (let i = 0; i < count; i++) if ((u[i] & mask) === mask) return i;
  } else {
    const v = new DataView(buf.buffer, at, count * 2);
    for (let i = 0; i < count; i++) if ((v.getUint16(i * 2, true) & mask) === mask) return i;
  }
  return -1;
}

/** NaN or Inf, read from the element's bits (mantissa zero: Inf). */
function kindOf(el: Uint8Array, dtype: TensorEntry['dtype']): 'NaN' | 'infinite' {
  const v = new DataView(el.buffer, el.byteOffset, el.byteLength);
  let mantissaZero: boolean;
  if (dtype === 'F32') mantissaZero = (v.getUint32(0, true) & 0x007fffff) === 0;
  else if (dtype === 'F64') mantissaZero = (v.getUint32(4, true) & 0x000fffff) === 0 && v.getUint32(0, true) === 0;
  else if (dtype === 'F16') mantissaZero = (v.getUint16(0, true) & 0x03ff) === 0;
  else mantissaZero = (v.getUint16(0, true) & 0x007f) === 0;
  return mantissaZero ? 'infinite' : 'NaN';
}

/**
 * Feed it the chunks of one file in order (`update`); it throws CheckpointError 'non_finite' at the first NaN / Inf,
 * naming the file, the tensor and the element index. `finish` checks that every tensor was covered.
 */
export class FiniteScanner {
  private next = 0; // index into tensors of the first one not yet fully scanned
  private carry: Uint8Array;
  private carried = 0;
  private pos = 0; // file position of the next chunk
  constructor(
    private readonly file: string,
    private readonly tensors: TensorEntry[],
  ) {
    this.carry = new Uint8Array(8);
  }

  private fail(t: TensorEntry, index: number, el: Uint8Array): never {
    const unit = DTYPE_BYTES[t.dtype];
    throw new CheckpointError(
      'non_finite',
      `${this.file}: tensor "${t.name}" holds ${kindOf(el, t.dtype)} values (element ${index} of ${t.byteLength / unit}, ` +
        `found by the full scan at import); the checkpoint is corrupt (a broken download or an overflowing conversion): ` +
        `re-download or re-export it`,
      { detail: { tensor: t.name, element: index } },
    );
  }

  update(chunk: Uint8Array): void {
    const start = this.pos;
    const end = start + chunk.byteLength;
    this.pos = end;
    while (this.next < this.tensors.length) {
      const t = this.tensors[this.next];
      const unit = DTYPE_BYTES[t.dtype];
      const tEnd = t.offset + t.byteLength;
      if (t.offset >= end) return; // starts in a later chunk
      let p = Math.max(start, t.offset); // file position of the next unchecked byte of t
      // an element begun in the previous chunk
      if (this.carried > 0) {
        const need = unit - this.carried;
        const take = Math.min(need, end - p);
        this.carry.set(chunk.subarray(p - start, p - start + take), this.carried);
        this.carried += take;
        p += take;
        if (this.carried < unit) return; // still incomplete (a chunk shorter than an element)
        const el = this.carry.subarray(0, unit);
        if (firstNonFinite(el, 0, 1, t.dtype) === 0) this.fail(t, (p - unit - t.offset) / unit, el.slice());
        this.carried = 0;
      }
      const stop = Math.min(end, tEnd);
      const whole = Math.floor((stop - p) / unit);
      if (whole > 0) {
        const bad = firstNonFinite(chunk, p - start, whole, t.dtype);
        if (bad >= 0) {
          const at = p - start + bad * unit;
          this.fail(t, (p - t.offset) / unit + bad, chunk.slice(at, at + unit));
        }
        p += whole * unit;
      }
      if (p < stop) {
        // the chunk ends inside an element: keep its first bytes
        this.carry.set(chunk.subarray(p - start, stop - start), 0);
        this.carried = stop - p;
        return;
      }
      if (stop === tEnd) this.next++;
      else return; // the tensor goes on in the next chunk
    }
  }

  /** Throws when the file ended before its last tensor did (the loader's checks make this unreachable for a file that did not change). */
  finish(): void {
    if (this.next < this.tensors.length)
      throw new CheckpointError('file_truncated', `${this.file}: the file ended inside tensor "${this.tensors[this.next].name}" while it was hashed`);
  }
}

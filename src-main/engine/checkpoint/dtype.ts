export type StDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<StDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export const FLOAT_DTYPES: ReadonlySet<StDType> = new Set<StDType>(['F64', 'F32', 'F16', 'BF16']);

export function isStDType(s: unknown): s is StDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** bfloat16 bit patterns -> float32 (exact). */
export function bf16ToF32(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) bits[i] = u16[i] << 16;
  return out;
}

/** float32 -> bfloat16 bit patterns, round-to-nearest-even; NaN stays a (quiet) NaN. */
export function f32ToBf16(f: Float32Array): Uint16Array {
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    scratchF32[0] = f[i];
    const b = scratchU32[0];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0) {
      out[i] = (b >>> 16) | 0x0040;
      continue;
    }
    const lsb = (b >>> 16) & 1;
    // b + 0x7fff + lsb stays below 2^32 for every non-NaN pattern
    out[i] = (b + 0x7fff + lsb) >>> 16;
  }
  return out;
}

let F16_TABLE: Float32Array | null = null;

function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 0x1f) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    t[h] = sign * v;
  }
  F16_TABLE = t;
  return t;
}

/** IEEE half bit patterns -> float32 (exact, subnormals included). */
export function f16ToF32(u16: Uint16Array): Float32Array {
  const t = f16Table();
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = t[u16[i]];
  return out;
}

function f32BitsToF16(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x0200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half; // a carry into the exponent gives the smallest normal, which is right
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry may give inf, which is right
  return sign | half;
}

/** float32 -> IEEE half bit patterns, round-to-nearest-even (overflow to inf, subnormals kept). */
export function f32ToF16(f: Float32Array): Uint16Array {
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    scratchF32[0] = f[i];
    out[i] = f32BitsToF16(scratchU32[0]);
  }
  return out;
}

let BF16_TO_F16: Uint16Array | null = null;

/**
 * bfloat16 bit patterns -> IEEE half bit patterns in place (round-to-nearest-even through f32, which
 * holds every bf16 exactly). A 64 Ki-entry table makes it one load per element: converting
 * LLaMA-3-8B's 8 G weights once while uploading them to a WebGPU device (which has no bf16) costs
 * seconds instead of minutes. Returns how many finite values overflowed to ±inf (|x| > 65504);
 * values below f16's smallest subnormal (6e-8) become ±0.
 */
export function bf16ToF16InPlace(u16: Uint16Array): number {
  if (!BF16_TO_F16) {
    const t = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f32BitsToF16((h << 16) >>> 0);
    BF16_TO_F16 = t;
  }
  const t = BF16_TO_F16;
  let overflow = 0;
  for (let i = 0; i < u16.length; i++) {
    const h = u16[i];
    const o = t[h];
    // finite bf16 (exponent not all ones) that became ±inf in f16
    if ((o & 0x7fff) === 0x7c00 && (h & 0x7f80) !== 0x7f80) overflow++;
    u16[i] = o;
  }
  return overflow;
}

/** Little-endian tensor bytes of `dtype` -> Float32Array (numeric conversion for integer types). */
export function bytesToF32(bytes: Uint8Array, dtype: StDType): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  if (!HOST_LE) return bytesToF32DataView(bytes, dtype, n);
  const width = DTYPE_BYTES[dtype];
  // typed-array views need an aligned offset; copy when the buffer is not aligned
  let buf = bytes;
  if (bytes.byteOffset % width !== 0) buf = new Uint8Array(bytes);
  const ab = buf.buffer;
  const off = buf.byteOffset;
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab.slice(off, off + buf.byteLength));
    case 'F64':
      return Float32Array.from(new Float64Array(ab, off, n));
    case 'F16':
      return f16ToF32(new Uint16Array(ab, off, n));
    case 'BF16':
      return bf16ToF32(new Uint16Array(ab, off, n));
    case 'I64': {
      const src = new BigInt64Array(ab, off, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(ab, off, n));
    case 'I16':
      return Float32Array.from(new Int16Array(ab, off, n));
    case 'I8':
      return Float32Array.from(new Int8Array(ab, off, n));
    case 'U8':
      return Float32Array.from(new Uint8Array(ab, off, n));
    case 'BOOL': {
      const src = new Uint8Array(ab, off, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] ? 1 : 0;
      return out;
    }
  }
}

function bytesToF32DataView(bytes: Uint8Array, dtype: StDType, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  const t = dtype === 'F16' ? f16Table() : null;
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F32': out[i] = dv.getFloat32(i * 4, true); break;
      case 'F64': out[i] = dv.getFloat64(i * 8, true); break;
      case 'F16': out[i] = t![dv.getUint16(i * 2, true)]; break;
      case 'BF16': scratchU32[0] = dv.getUint16(i * 2, true) << 16; out[i] = scratchF32[0]; break;
      case 'I64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'I32': out[i] = dv.getInt32(i * 4, true); break;
      case 'I16': out[i] = dv.getInt16(i * 2, true); break;
      case 'I8': out[i] = dv.getInt8(i); break;
      case 'U8': out[i] = dv.getUint8(i); break;
      case 'BOOL': out[i] = dv.getUint8(i) ? 1 : 0; break;
    }
  }
  return out;
}

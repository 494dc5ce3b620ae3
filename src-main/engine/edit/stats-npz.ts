// Reader for ROME / EasyEdit `layer_stats` .npz files (numpy savez: a zip of .npy arrays).
// ROME saves `CombinedStat.state_dict()`: 'mom2.mom2' = Σ k kᵀ (a SUM, [d_ff, d_ff]), 'mom2.count'
// = number of tokens, 'mom2.constructor' (a string array, ignored). E[k kᵀ] = sum / count.
import { eacErrorClass } from '../errors';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { readRegularFile } from '../fs-safe';

export type StatsErrorCode =
  | 'not-zip'
  | 'corrupt-zip'
  | 'unsupported-compression'
  | 'missing-key'
  | 'bad-npy'
  | 'unsupported-dtype'
  | 'bad-shape'
  | 'bad-count'
  | 'bad-layer'
  | 'bad-corpus'
  | 'empty-corpus'
  /** fewer statistics tokens than d_ff where the solve has no ridge: C is singular */
  | 'insufficient-samples'
  /** C (+ the profile's ridge) has a non-positive pivot */
  | 'not-positive-definite';

export class StatsError extends eacErrorClass<StatsErrorCode>('StatsError') {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

/** The zip record signatures (APPNOTE 4.3), little-endian uint32 at the start of each record. */
const SIG = {
  eocd: 0x06054b50,
  eocd64: 0x06064b50,
  eocd64Locator: 0x07064b50,
  central: 0x02014b50,
  local: 0x04034b50,
} as const;
/** A 32-bit size or offset field at this value means "see the zip64 extra field". */
const U32_MAX = 0xffffffff;

function u64(buf: Buffer, off: number): number {
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new StatsError('corrupt-zip', `zip field at ${off} is too large`);
  return Number(v);
}

/** Central directory of a zip held in memory (zip64 aware). */
export function listZip(buf: Buffer, label = 'file'): ZipEntry[] {
  if (buf.length < 22 || buf.readUInt32LE(0) !== SIG.local) {
    // an empty zip starts with the EOCD itself; anything else is not a zip
    if (!(buf.length >= 22 && buf.readUInt32LE(0) === SIG.eocd))
      throw new StatsError('not-zip', `${label} is not a zip/npz file (no zip signature); expected numpy .npz from ROME's layer_stats`);
  }
  // End of central directory: last 22 bytes + up to 64 KiB comment
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === SIG.eocd) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new StatsError('not-zip', `${label} is not a complete zip file (no end-of-central-directory record; truncated?)`);
  let count = buf.readUInt16LE(eocd + 10);
  let cdSize = buf.readUInt32LE(eocd + 12);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== SIG.eocd64Locator) throw new StatsError('corrupt-zip', `${label}: zip64 locator missing`);
    const e64 = u64(buf, loc + 8);
    if (e64 + 56 > buf.length || buf.readUInt32LE(e64) !== SIG.eocd64) throw new StatsError('corrupt-zip', `${label}: zip64 end record missing`);
    count = u64(buf, e64 + 32);
    cdSize = u64(buf, e64 + 40);
    cdOffset = u64(buf, e64 + 48);
  }
  if (cdOffset + cdSize > buf.length) throw new StatsError('corrupt-zip', `${label}: central directory lies outside the file (truncated?)`);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== SIG.central) throw new StatsError('corrupt-zip', `${label}: bad central directory entry ${n}`);
    const method = buf.readUInt16LE(p + 10);
    const crc32 = buf.readUInt32LE(p + 16);
    let compressedSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let localHeaderOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    // zip64 extended information: present fields appear in this order, only where the 32-bit one is saturated
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === U32_MAX) (size = u64(buf, q)), (q += 8);
        if (compressedSize === U32_MAX) (compressedSize = u64(buf, q)), (q += 8);
        if (localHeaderOffset === U32_MAX) localHeaderOffset = u64(buf, q);
      }
      e += 4 + len;
    }
    entries.push({ name, method, compressedSize, size, crc32, localHeaderOffset });
    p = eEnd + commentLen;
  }
  return entries;
}

/** Uncompressed bytes of one entry (stored or deflated), CRC-checked. */
export function readZipEntry(buf: Buffer, entry: ZipEntry, label = 'file'): Buffer {
  const h = entry.localHeaderOffset;
  if (h + 30 > buf.length || buf.readUInt32LE(h) !== SIG.local) throw new StatsError('corrupt-zip', `${label}: bad local header for ${entry.name}`);
  const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
  const end = start + entry.compressedSize;
  if (end > buf.length) throw new StatsError('corrupt-zip', `${label}: entry ${entry.name} runs past the end of the file (truncated?)`);
  const raw = buf.subarray(start, end);
  let data: Buffer;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = zlib.inflateRawSync(raw);
    } catch (e) {
      throw new StatsError('corrupt-zip', `${label}: entry ${entry.name} does not inflate: ${(e as Error).message}`);
    }
  } else
    throw new StatsError(
      'unsupported-compression',
      `${label}: entry ${entry.name} uses zip compression method ${entry.method}; only stored (0) and deflate (8) are supported — re-save with numpy.savez or savez_compressed`,
    );
  if (data.length !== entry.size) throw new StatsError('corrupt-zip', `${label}: entry ${entry.name} is ${data.length} bytes, the directory says ${entry.size}`);
  const crc = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (crc && crc(data) >>> 0 !== entry.crc32 >>> 0) throw new StatsError('corrupt-zip', `${label}: entry ${entry.name} fails its CRC check`);
  return data;
}

export interface NpyArray {
  dtype: '<f4' | '<f8' | '<i8';
  shape: number[];
  /** values in C order, as float64 */
  data: Float64Array;
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/** Parse one .npy (v1/v2/v3 header; dtypes <f4 <f8 <i8; C or Fortran order). */
export function parseNpy(buf: Buffer, label = 'array'): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) throw new StatsError('bad-npy', `${label} is not a .npy array (bad magic)`);
  const major = buf[6];
  let headerLen: number;
  let off: number;
  if (major === 1) (headerLen = buf.readUInt16LE(8)), (off = 10);
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new StatsError('bad-npy', `${label}: truncated .npy header`);
    headerLen = buf.readUInt32LE(8);
    off = 12;
  } else throw new StatsError('bad-npy', `${label}: unsupported .npy format version ${major}.${buf[7]}`);
  if (off + headerLen > buf.length) throw new StatsError('bad-npy', `${label}: truncated .npy header`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', off, off + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new StatsError('bad-npy', `${label}: cannot read the .npy header ${JSON.stringify(header.trim())}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(v) || v < 0) throw new StatsError('bad-npy', `${label}: bad shape (${shapeText})`);
      return v;
    });
  const width = descr === '<f4' ? 4 : descr === '<f8' || descr === '<i8' ? 8 : 0;
  if (!width)
    throw new StatsError('unsupported-dtype', `${label} has dtype '${descr}'; supported: '<f4' (float32), '<f8' (float64), '<i8' (int64)`);
  const n = shape.reduce((a, b) => a * b, 1);
  const start = off + headerLen;
  if (buf.length - start < n * width)
    throw new StatsError('bad-npy', `${label}: ${buf.length - start} data bytes for shape (${shape.join(', ')}) of ${descr}, expected ${n * width}`);
  const data = new Float64Array(n);
  if (descr === '<f4') for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i);
  else if (descr === '<f8') for (let i = 0; i < n; i++) data[i] = buf.readDoubleLE(start + 8 * i);
  else for (let i = 0; i < n; i++) data[i] = Number(buf.readBigInt64LE(start + 8 * i));
  if (fortran === 'True' && shape.length > 1) return { dtype: descr as NpyArray['dtype'], shape, data: fortranToC(data, shape) };
  return { dtype: descr as NpyArray['dtype'], shape, data };
}

function fortranToC(src: Float64Array, shape: number[]): Float64Array {
  const nd = shape.length;
  const out = new Float64Array(src.length);
  const idx = new Array(nd).fill(0);
  const fStride = new Array(nd);
  fStride[0] = 1;
  for (let d = 1; d < nd; d++) fStride[d] = fStride[d - 1] * shape[d - 1];
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fStride[d];
    out[c] = src[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** All arrays of an .npz held in memory, by key (file name without `.npy`), parsed lazily. */
export function readNpz(buf: Buffer, label = 'file'): Map<string, () => NpyArray> {
  const out = new Map<string, () => NpyArray>();
  for (const e of listZip(buf, label)) {
    if (e.name.endsWith('/')) continue;
    const key = e.name.replace(/\.npy$/, '');
    out.set(key, () => parseNpy(readZipEntry(buf, e, label), `${label}:${e.name}`));
  }
  return out;
}

/**
 * The most bytes a layer-statistics .npz for MLP width `dim` may have: its one big array, 'mom2.mom2'
 * (dim² float64: 328 MB for GPT-2 XL's 6400, 1.6 GB for LLaMA-3-8B's 14336), twice over (room for
 * a second array of the same size) plus 64 MiB for headers and small arrays. The file is read whole,
 * so anything larger is refused before a byte is read.
 */
export function npzByteLimit(dim: number): number {
  return 2 * dim * dim * 8 + 64 * 1024 * 1024;
}

/**
 * ROME/EasyEdit layer statistics: E[k kᵀ] = 'mom2.mom2' / 'mom2.count' as a [dim, dim] float64
 * matrix, and the sha256 of the file as read. Throws StatsError with code not-zip | missing-key
 * (lists the keys found) | bad-shape (dim expected vs found) | unsupported-dtype | bad-npy |
 * corrupt-zip | bad-count; and CheckpointError (engine/fs-safe) 'not_regular_file' for a FIFO,
 * directory or device under the name (at once, never blocking), 'file_too_large' above npzByteLimit,
 * 'not_found'.
 */
export function importNpzStats(file: string, dim: number): { mom2: Float64Array; count: number; sha256: string } {
  const buf = readRegularFile(file, npzByteLimit(dim), 'the statistics .npz');
  const digest = crypto.createHash('sha256').update(buf).digest('hex');
  const arrays = readNpz(buf, file);
  const need = (key: string): NpyArray => {
    const get = arrays.get(key);
    if (!get) {
      const found = [...arrays.keys()];
      throw new StatsError(
        'missing-key',
        `${file} has no '${key}' array (found: ${found.length ? found.map((k) => `'${k}'`).join(', ') : 'none'}); expected ROME layer_stats keys 'mom2.mom2' and 'mom2.count'`,
      );
    }
    return get();
  };
  const sum = need('mom2.mom2');
  if (sum.shape.length !== 2 || sum.shape[0] !== dim || sum.shape[1] !== dim)
    throw new StatsError(
      'bad-shape',
      `${file}: 'mom2.mom2' has shape [${sum.shape.join(', ')}], expected [${dim}, ${dim}] (this model's MLP width d_ff = ${dim}; stats from another model or layer?)`,
    );
  const c = need('mom2.count');
  if (c.data.length !== 1) throw new StatsError('bad-count', `${file}: 'mom2.count' should be a scalar, found shape [${c.shape.join(', ')}]`);
  const count = c.data[0];
  if (!(count > 0) || !Number.isFinite(count)) throw new StatsError('bad-count', `${file}: 'mom2.count' is ${count}, expected a positive token count`);
  const mom2 = sum.data;
  for (let i = 0; i < mom2.length; i++) mom2[i] /= count;
  return { mom2, count, sha256: digest };
}

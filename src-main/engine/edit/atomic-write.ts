// Files that readers see whole or not at all, and reads of big binary files straight into the
// typed array that will hold them (no intermediate Buffer of the same size).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openRegularFile } from '../fs-safe';
import { EacError } from '../errors';

/**
 * Write a file so that readers see either the old content or the new, never a part: the parts are
 * written in order to a temp name, fsynced and renamed over the real name. Returns the sha256 of
 * what was written.
 */
export function writeFileAtomic(file: string, data: Uint8Array | string | Iterable<Uint8Array>): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  const h = crypto.createHash('sha256');
  const parts: Iterable<Uint8Array> = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const buf of parts) {
      // in slices: one write(2) is capped at ~2 GiB
      for (let off = 0; off < buf.length; ) {
        const n = fs.writeSync(fd, buf, off, Math.min(buf.length - off, 1 << 28));
        h.update(buf.subarray(off, off + n));
        off += n;
      }
    }
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return h.digest('hex');
}

/** Bytes of a typed array, without copying. */
export function bytesOf(a: Float64Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The size of `file` without reading it; it must be a regular file (see readFileInto). */
export function regularFileSize(file: string, what = 'the file'): number {
  const { fd, size } = openRegularFile(file, what);
  fs.closeSync(fd);
  return size;
}

/**
 * Reads `file` into `into` (exactly its byte length; a different file size is an error) in 64 MiB
 * reads, returning the sha256 of the bytes read. Peak memory is `into` itself. The file must be a
 * regular file (engine/fs-safe openRegularFile: a FIFO or directory under its name fails at once
 * with CheckpointError 'not_regular_file'); its size is checked on the open descriptor before any
 * read, so the expected length is the cap. A size other than expected, or a file that ends early while it is
 * read, is EacError 'io_error' (every caller reads a cache it wrote and recomputes the entry then).
 */
export function readFileInto(file: string, into: Uint8Array, what = 'the file'): string {
  const { fd, size } = openRegularFile(file, what);
  try {
    if (size !== into.length) throw new EacError('io_error', `${what} ${file} is ${size} bytes, expected ${into.length}`, { detail: { size, expected: into.length } });
    const h = crypto.createHash('sha256');
    for (let off = 0; off < size; ) {
      const n = fs.readSync(fd, into, off, Math.min(size - off, 1 << 26), off);
      if (n <= 0) throw new EacError('io_error', `${what} ${file} ended at byte ${off} while it was read (expected ${size} bytes)`);
      h.update(into.subarray(off, off + n));
      off += n;
    }
    return h.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}

// Weight-file integrity without re-reading 16 GB on every open.
//
// A full sha256 of every weight file (plus config.json and tokenizer.json) is taken once, at import
// (the first open of a workspace, the first `eac stats` of a model, or `eac verify`), and recorded
// with the file's size, mtime and a *sampled hash* — the sha256 of a few fixed 1 MiB windows (the
// start, ¼, ½, ¾ and the last MiB). A later open stats the file and re-reads only those windows;
// the recorded full hash is trusted when size, mtime and sampled hash all match, and the file is
// fully re-hashed when any of them differs. `eac verify` re-hashes everything on request.
//
// The full read also checks every float of the file's tensors for NaN / Inf (finite-scan.ts) and refuses the model
// with 'non_finite' naming the tensor and element; a record is written only for a file that passed, marked
// `finite`, so a later open that trusts the record relies on that full scan (the sampled check at open,
// checkpoint.ts, stays as the cheap first line for models never imported).
//
// Records live in memory for the process and, given a cache directory, in
// <cacheDir>/model-hashes.json keyed by the file's real path (the CLI has no ledger; the studio's
// ledger keeps the import hashes as fileHashes and this file keeps what makes the check cheap).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Checkpoint } from './checkpoint';
import { CheckpointError } from './errors';
import { FiniteScanner, floatTensorsOf } from './finite-scan';
import { FILE_LIMITS, readTextFile } from '../fs-safe';

/** Size of each sampled window. */
export const SAMPLE_WINDOW = 1 << 20;
const SIDECAR = 'model-hashes.json';
// 3: records carry `finite` (every float scanned); version-2 records lack the scan, so those files are re-read once
const SIDECAR_VERSION = 3;

/** Byte offsets of the sampled windows of a file of `size` bytes (fixed, so a record can be re-checked). */
export function sampleOffsets(size: number): number[] {
  if (size <= 5 * SAMPLE_WINDOW) return [0];
  const last = size - SAMPLE_WINDOW;
  const at = [0, Math.floor(size / 4), Math.floor(size / 2), Math.floor((3 * size) / 4), last].map((o) => Math.min(last, o));
  return [...new Set(at)].sort((a, b) => a - b);
}

/**
 * The hashing primitives, on an object so tests can spy on them (`vi.spyOn(hashing, 'fullFile')`)
 * and count how many full reads an open costs.
 */
export const hashing = {
  /**
   * sha256 (hex) of the whole file, streamed; onBytes gets the size of each chunk read; onChunk sees each chunk in
   * order (the NaN / Inf scan): when it throws, reading stops and the promise rejects with its error.
   */
  fullFile(file: string, onBytes?: (n: number) => void, onChunk?: (chunk: Buffer) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const h = crypto.createHash('sha256');
      const s = fs.createReadStream(file, { highWaterMark: 1 << 22 });
      s.on('data', (chunk) => {
        const b = chunk as Buffer;
        try {
          onChunk?.(b);
        } catch (e) {
          s.destroy();
          reject(e);
          return;
        }
        h.update(b);
        onBytes?.(b.length);
      });
      s.on('error', reject);
      s.on('end', () => resolve(h.digest('hex')));
    });
  },
  /** sha256 (hex) of the sampled windows (whole file when it is at most 5 MiB), with the size mixed in. */
  sampledFile(file: string, size: number): string {
    const h = crypto.createHash('sha256');
    h.update(`eac-sampled-v1\n${size}\n`);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(size, size <= 5 * SAMPLE_WINDOW ? size : SAMPLE_WINDOW));
      for (const off of sampleOffsets(size)) {
        const len = Math.min(buf.length, size - off);
        let got = 0;
        while (got < len) {
          const n = fs.readSync(fd, buf, got, len - got, off + got);
          if (n <= 0) break;
          got += n;
        }
        h.update(buf.subarray(0, got));
      }
    } finally {
      fs.closeSync(fd);
    }
    return h.digest('hex');
  },
};

/** What is known about one file: its import hash and what makes re-checking it cheap. */
export interface FileRecord {
  size: number;
  mtimeMs: number;
  /** hashing.sampledFile at the time of the full hash */
  sampled: string;
  /** full sha256 */
  sha256: string;
  /** every float of the file's tensors was read at the full hash and none is NaN / Inf */
  finite?: true;
}

interface Sidecar {
  version: typeof SIDECAR_VERSION;
  files: Record<string, FileRecord>;
}

/** Files that define a model: its weight files, config.json and tokenizer.json (basenames, sorted). */
export function checkpointFileNames(ck: Pick<Checkpoint, 'dir' | 'files'>): string[] {
  const names = [...ck.files];
  for (const extra of ['config.json', 'tokenizer.json']) {
    if (!names.includes(extra) && fs.existsSync(path.join(ck.dir, extra))) names.push(extra);
  }
  return names.sort();
}

/**
 * sha256 (hex) of every weight file, streamed, plus config.json and tokenizer.json when present.
 * Keys are basenames. onProgress gets (doneBytes, totalBytes) as data is hashed. Always reads every
 * byte (import, `eac verify`); see `checkpointHashes` for the cheap re-check.
 */
export async function hashCheckpointFiles(
  ck: Pick<Checkpoint, 'dir' | 'files'>,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<Record<string, string>> {
  return (await checkpointHashes(ck, { full: true, onProgress })).hashes;
}

const memo = new Map<string, FileRecord>();

/** Forget the in-process records (tests; a process that wants the sidecar consulted again). */
export function clearHashMemo(): void {
  memo.clear();
}

export function sidecarPath(cacheDir: string): string {
  return path.join(cacheDir, SIDECAR);
}

function readSidecar(cacheDir: string): Sidecar {
  const fresh: Sidecar = { version: SIDECAR_VERSION, files: {} };
  let text: string;
  try {
    text = readTextFile(sidecarPath(cacheDir), FILE_LIMITS.index, 'the model hash records');
  } catch (e) {
    // a FIFO, a directory or an oversized file under the name is not ours: refused at once (never blocks)
    if (e instanceof CheckpointError && (e.code === 'not_regular_file' || e.code === 'file_too_large')) throw e;
    return fresh; // missing or unreadable: start afresh (files get hashed once)
  }
  try {
    const j = JSON.parse(text);
    if (j && j.version === SIDECAR_VERSION && j.files && typeof j.files === 'object') return j as Sidecar;
  } catch {
    /* corrupt */
  }
  return fresh; // corrupt or an older version
}

function writeSidecar(cacheDir: string, updates: Record<string, FileRecord>): void {
  fs.mkdirSync(cacheDir, { recursive: true });
  // re-read and merge so concurrent writers for other models are not lost; write atomically
  const latest = readSidecar(cacheDir);
  Object.assign(latest.files, updates);
  const file = sidecarPath(cacheDir);
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
  fs.writeFileSync(tmp, JSON.stringify(latest, null, 1));
  fs.renameSync(tmp, file);
}

export interface IntegrityOptions {
  /** where the sidecar lives; without it only the in-process records are used */
  cacheDir?: string;
  /** re-hash every file fully regardless of records (import, `eac verify`) */
  full?: boolean;
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface FileCheck {
  name: string;
  path: string;
  sha256: string;
  /** 'recorded': size, mtime and sampled hash matched a record; 'hashed': read fully now */
  how: 'recorded' | 'hashed';
  /** the record's hash when the file was fully hashed and differs from it (a changed file) */
  previous?: string;
  /** whether a record for this path existed before this call */
  hadRecord: boolean;
  record: FileRecord;
}

export interface IntegrityResult {
  /** basename → sha256 */
  hashes: Record<string, string>;
  files: FileCheck[];
  /** basenames fully read this time */
  rehashed: string[];
  /** basenames whose full hash differs from the one recorded for that path */
  changed: string[];
}

/**
 * sha256 of each model file (see checkpointFileNames), read fully only where no record matches the
 * file's size, mtime and sampled hash, or when `full`. Records are updated in memory and in the
 * sidecar. A changed file is reported in `changed` (with `previous`), not thrown: callers with an
 * import hash (the ledger, a statistics cache) decide what a change means.
 */
export async function checkpointHashes(
  ck: Pick<Checkpoint, 'dir' | 'files'> & Partial<Pick<Checkpoint, 'tensors'>>,
  opts: IntegrityOptions = {},
): Promise<IntegrityResult> {
  const names = checkpointFileNames(ck);
  const floats = (name: string) => (ck.tensors ? floatTensorsOf(ck.tensors.values(), name) : []);
  const entries = names.map((name) => {
    const abs = path.resolve(ck.dir, name);
    let real = abs;
    try {
      real = fs.realpathSync(abs);
    } catch {
      /* stat below reports the missing file */
    }
    const st = fs.statSync(real);
    return { name, real, size: st.size, mtimeMs: st.mtimeMs };
  });
  const sidecar = opts.cacheDir ? readSidecar(opts.cacheDir) : null;
  const files: FileCheck[] = [];
  const toHash: { e: (typeof entries)[number]; sampled: string; prev?: FileRecord }[] = [];
  for (const e of entries) {
    const sampled = hashing.sampledFile(e.real, e.size);
    const prev = memo.get(e.real) ?? sidecar?.files[e.real];
    const matches =
      prev && prev.size === e.size && prev.mtimeMs === e.mtimeMs && prev.sampled === sampled && /^[0-9a-f]{64}$/.test(prev.sha256) &&
      (prev.finite === true || floats(e.name).length === 0);
    if (matches && !opts.full) files.push({ name: e.name, path: e.real, sha256: prev.sha256, how: 'recorded', record: prev, hadRecord: true });
    else toHash.push({ e, sampled, prev });
  }
  const total = toHash.reduce((a, t) => a + t.e.size, 0);
  let done = 0;
  opts.onProgress?.(0, total);
  const updates: Record<string, FileRecord> = {};
  for (const { e, sampled, prev } of toHash) {
    const tensors = floats(e.name);
    const scan = tensors.length ? new FiniteScanner(path.join(ck.dir, e.name), tensors) : null;
    const sha256 = await hashing.fullFile(
      e.real,
      (n) => {
        done += n;
        opts.onProgress?.(done, total);
      },
      scan ? (chunk) => scan.update(chunk) : undefined,
    );
    scan?.finish();
    // the file may have changed while it was read: record what the sampled hash saw before, so a
    // write during hashing shows up as a mismatch next time rather than being trusted
    const record: FileRecord = { size: e.size, mtimeMs: e.mtimeMs, sampled, sha256, ...(scan ? { finite: true as const } : {}) };
    updates[e.real] = record;
    memo.set(e.real, record);
    files.push({ name: e.name, path: e.real, sha256, how: 'hashed', record, hadRecord: !!prev, ...(prev && prev.sha256 !== sha256 ? { previous: prev.sha256 } : {}) });
  }
  if (opts.cacheDir && Object.keys(updates).length) writeSidecar(opts.cacheDir, updates);
  for (const f of files) if (f.how === 'recorded') memo.set(f.path, f.record);
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    hashes: Object.fromEntries(files.map((f) => [f.name, f.sha256])),
    files,
    rehashed: files.filter((f) => f.how === 'hashed').map((f) => f.name),
    changed: files.filter((f) => f.previous !== undefined).map((f) => f.name),
  };
}

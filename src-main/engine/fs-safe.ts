// Reading files that come from untrusted folders (model folders, fact files, task and profile files).
//
// Every read goes through openRegularFile: the file is opened with O_NONBLOCK first and checked with
// fstat on the opened descriptor, so a FIFO, a device, a socket or a directory named like the file we
// expect is refused at once instead of blocking forever (a plain open(2) of a FIFO blocks until a
// writer appears; O_NONBLOCK makes it return, and checking the descriptor rather than the path leaves
// no window for a swap between the check and the read). Sizes are capped per kind of file, and JSON
// parse errors are reported without quoting the file's content (V8's messages quote ~10 characters).
import fs from 'node:fs';
import path from 'node:path';
import { CheckpointError, type CheckpointErrorCode } from './checkpoint/errors';

const MiB = 1024 * 1024;

/** Size caps per kind of file; each is far above any real file of that kind. */
export const FILE_LIMITS = {
  /** config.json, tokenizer_config.json, generation_config.json */
  config: 16 * MiB,
  /** model.safetensors.index.json (Llama-3-405B's is ~100 KB) */
  index: 64 * MiB,
  /** tokenizer.json (the largest common ones, multilingual vocabularies, are ~35 MB) */
  tokenizer: 128 * MiB,
  /** fact files (CounterFact in full is ~45 MB); below V8's ~512 M character string limit */
  facts: 256 * MiB,
  /** health task files */
  tasks: 64 * MiB,
  /** edit profiles */
  profile: 1 * MiB,
  /** key-statistics corpora (text or JSONL), read whole; below V8's string limit */
  corpus: 512 * MiB,
} as const;

/** What a non-regular file is, for messages ('a FIFO (named pipe)', 'a directory', ...). */
export function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function describeOpenError(file: string, what: string, e: NodeJS.ErrnoException): CheckpointError {
  if (e.code === 'ENOENT') return new CheckpointError('not_found', `${file}: ${what} does not exist`);
  if (e.code === 'ENXIO') return new CheckpointError('not_regular_file', `${file}: ${what} is a socket or device, not a regular file`);
  if (e.code === 'EACCES' || e.code === 'EPERM') return new CheckpointError('io_error', `${file}: ${what} is not readable (permission denied)`);
  if (e.code === 'EISDIR') return new CheckpointError('not_regular_file', `${file}: ${what} is a directory, not a file`);
  if (e.code === 'ELOOP') return new CheckpointError('io_error', `${file}: ${what} is a symlink loop`);
  return new CheckpointError('io_error', `${file}: cannot open ${what} (${e.code ?? e.message})`);
}

/**
 * Opens a file for reading only if it is a regular file (symlinks to regular files are followed).
 * Returns the descriptor and size; the caller closes it. Never blocks on a FIFO.
 */
export function openRegularFile(file: string, what = 'the file'): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    throw describeOpenError(file, what, e as NodeJS.ErrnoException);
  }
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw new CheckpointError('io_error', `${file}: cannot stat ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new CheckpointError('not_regular_file', `${file}: ${what} is ${kindOf(st)}, not a regular file; refusing to read it`);
  }
  return { fd, size: st.size };
}

/**
 * Reads a regular file of at most `maxBytes` bytes (see openRegularFile). `onProgress` (bytes read, total) is
 * called after each read of at most 16 MiB.
 */
export function readRegularFile(file: string, maxBytes: number, what = 'the file', onProgress?: (done: number, total: number) => void): Buffer {
  const { fd, size } = openRegularFile(file, what);
  try {
    if (size > maxBytes) {
      throw new CheckpointError(
        'file_too_large',
        `${file}: ${what} is ${fmtBytes(size)}, more than the ${fmtBytes(maxBytes)} this kind of file may have; refusing to read it`,
      );
    }
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    onProgress?.(0, size);
    while (done < size) {
      const n = fs.readSync(fd, buf, done, Math.min(size - done, 16 << 20), done);
      if (n === 0) break; // shrank while reading: use what is there
      done += n;
      onProgress?.(done, size);
    }
    return done === size ? buf : buf.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

/** UTF-8 text of a regular file (BOM removed). */
export function readTextFile(file: string, maxBytes: number, what = 'the file'): string {
  const text = readRegularFile(file, maxBytes, what).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024 / MiB).toFixed(1)} GiB`;
}

/**
 * A JSON.parse error message without the excerpt of the input V8 quotes ("Unexpected token 'r',
 * "root:x:0:0"... is not valid JSON"), with the line and column where V8 gives a position.
 */
export function jsonErrorMessage(e: unknown, text: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  const pos = /at position (\d+)/.exec(msg);
  let where = '';
  if (pos) {
    const p = Number(pos[1]);
    const before = text.slice(0, p);
    const line = before.split('\n').length;
    where = ` at line ${line}, column ${p - before.lastIndexOf('\n')}`;
  }
  let kind: string;
  if (/^Unexpected end of JSON input/.test(msg)) kind = 'the file ends in the middle of a JSON value';
  else if (/^Unexpected token/.test(msg)) kind = 'unexpected character';
  else if (/^Unexpected non-whitespace character after JSON/.test(msg)) kind = 'extra characters after the JSON value';
  else if (/^Bad control character in string literal/.test(msg)) kind = 'a control character inside a string';
  else if (/^Bad escaped character/.test(msg) || /^Bad Unicode escape/.test(msg)) kind = 'a bad escape sequence inside a string';
  else if (/^Unterminated string/.test(msg)) kind = 'an unterminated string';
  else if (/^Expected /.test(msg)) kind = msg.replace(/ in JSON at position \d+.*$/, '').replace(/ at position \d+.*$/, '');
  else if (/^Exponent part is missing|^No number after minus sign|^Unterminated fractional number/.test(msg)) kind = 'a malformed number';
  else kind = 'not valid JSON';
  return `not valid JSON: ${kind}${where}`;
}

/** JSON.parse that reports errors with jsonErrorMessage (no content quoted) as CheckpointError `code`. */
export function parseJson(text: string, file: string, code: CheckpointErrorCode = 'bad_json'): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(code, `${file}: ${jsonErrorMessage(e, text)}`);
  }
}

/** Reads and parses a JSON file that must be a regular file of at most `maxBytes`. */
export function readJsonFile(file: string, maxBytes: number, what = 'the file', code: CheckpointErrorCode = 'bad_json'): unknown {
  return parseJson(readTextFile(file, maxBytes, what), file, code);
}

/**
 * The real path of `file` if it lies inside one of `roots` (after resolving symlinks on both
 * sides); otherwise a CheckpointError('path_not_allowed') that names the roots but says nothing
 * about the file's content.
 */
export function assertInside(file: string, roots: string[], what: string): string {
  const abs = path.resolve(file);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    throw new CheckpointError('not_found', `${what} ${abs} does not exist`);
  }
  for (const r of roots) {
    let rr: string;
    try {
      rr = fs.realpathSync(path.resolve(r));
    } catch {
      continue;
    }
    const rel = path.relative(rr, real);
    if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)) return real;
  }
  throw new CheckpointError(
    'path_not_allowed',
    `${what} ${abs} is outside the folders this call may read (${roots.map((r) => path.resolve(r)).join(', ')}); copy the file into one of them`,
  );
}

// Reading a fact file from disk (CLI): a regular file of bounded size, never a FIFO or device. Bytes that are not
// UTF-8 are kept visible (utf8.ts) so the row and field that hold them are reported instead of imported as U+FFFD.
import path from 'node:path';
import { FILE_LIMITS, readRegularFile } from '../fs-safe';
import { parseFacts } from './parse';
import type { FactProgress, ParseOptions, ParseResult } from './types';
import { decodeUtf8Escaped } from './utf8';

/**
 * The text of a fact file; a FIFO, device or directory is refused at once (CheckpointError 'not_regular_file').
 * `onProgress` sees the bytes read of the file's size.
 */
export function readFactsFile(file: string, onProgress?: (p: FactProgress) => void): string {
  const progress = onProgress && ((done: number, total: number) => onProgress({ phase: 'read', done, total, unit: 'bytes' }));
  return decodeUtf8Escaped(readRegularFile(file, FILE_LIMITS.facts, 'the facts file', progress));
}

/** readFactsFile + parseFacts, named by the file's base name in messages; opts.onProgress sees both phases. */
export function parseFactsFile(file: string, opts: ParseOptions = {}): ParseResult {
  return parseFacts(path.basename(file), readFactsFile(file, opts.onProgress), opts);
}

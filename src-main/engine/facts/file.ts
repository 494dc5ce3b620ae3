// Reading a fact file from disk (CLI): a regular file of bounded size, never a FIFO or device.
import path from 'node:path';
import { FILE_LIMITS, readTextFile } from '../fs-safe';
import { parseFacts } from './parse';
import type { ParseOptions, ParseResult } from './types';

/** The text of a fact file; a FIFO, device or directory is refused at once (CheckpointError 'not_regular_file'). */
export function readFactsFile(file: string): string {
  return readTextFile(file, FILE_LIMITS.facts, 'the facts file');
}

/** readFactsFile + parseFacts, named by the file's base name in messages. */
export function parseFactsFile(file: string, opts: ParseOptions = {}): ParseResult {
  return parseFacts(path.basename(file), readFactsFile(file), opts);
}

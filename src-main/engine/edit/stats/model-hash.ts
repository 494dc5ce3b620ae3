// The model part of a statistics cache key: a hash over the import hashes of the model's files
// (checkpoint/hash.ts), so a cache lookup costs a stat and a few sampled MiB per file, not a full
// read of the weights — and statistics of a changed file are never reused.
import { checkpointHashes, clearHashMemo } from '../../checkpoint/hash';
import type { LoadedModel } from '../../runtime/model';
import { sha256 } from './cache';

/** Forget the in-process hash records (tests; a long-running process that wants to re-check files). */
export function clearModelHashMemo(): void {
  clearHashMemo();
}

/**
 * sha256 over the per-file sha256 of the weight files, config.json and tokenizer.json. Each file
 * is read fully once (its import); later calls trust the recorded hash while the file's size, mtime
 * and sampled hash are unchanged. With `cacheDir` the records persist in cacheDir/model-hashes.json
 * (shared with the studio's workspace open), so another process does not re-read the weights.
 */
export async function modelContentHash(model: Pick<LoadedModel, 'ck'>, cacheDir?: string): Promise<string> {
  const { files } = await checkpointHashes(model.ck, { cacheDir });
  return sha256(`eac-model-v1\n${files.map((f) => `${f.name}\t${f.sha256}\n`).join('')}`);
}

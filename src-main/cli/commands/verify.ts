// `eac verify --model DIR`: re-hash every weight file (and config.json, tokenizer.json) in full and
// compare with the import hashes recorded for it — the check that opens skip (they trust size,
// mtime and a sampled hash; see engine/checkpoint/hash.ts). Updates the records to what is on disk.
import path from 'node:path';
import { checkpointHashes, loadCheckpoint } from '../../engine/checkpoint';
import { defaultCacheDir } from '../../engine/edit';
import { defineCommand, optionalString, printJson, requireString } from '../command';

export default defineCommand({
  name: 'verify',
  summary: 're-hash a model folder in full and compare with the hashes recorded at import',
  usage: 'verify --model DIR [--cache-dir DIR] [--json]',
  help: [
    'Opens (workspace, `eac stats`, `eac edit`) hash each weight file in full once, at import, and',
    'afterwards only check its size, mtime and a sampled hash (five fixed 1 MiB windows). verify reads',
    'every byte again and reports each file as ok, changed (differs from its import hash) or new (no',
    'record yet), then records the hashes it found. Exit code 1 when a file changed.',
    'Records live in $EAC_CACHE_DIR/model-hashes.json (or --cache-dir DIR).',
    'Options: --model DIR, --cache-dir DIR, --json',
  ].join('\n'),
  options: {
    model: { type: 'string', multiple: true },
    'cache-dir': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(values, _positionals, io) {
    const dir = path.resolve(io.cwd, requireString(values, 'model'));
    const cacheOpt = optionalString(values, 'cache-dir');
    const cacheDir = cacheOpt ? path.resolve(io.cwd, cacheOpt) : (io.env.EAC_CACHE_DIR ?? defaultCacheDir());
    const ck = loadCheckpoint(dir);
    const t0 = performance.now();
    let last = -1;
    const res = await checkpointHashes(ck, {
      cacheDir,
      full: true,
      onProgress: values.json
        ? undefined
        : (d, t) => {
            const pct = Math.floor((100 * d) / Math.max(1, t));
            if (pct !== last) io.err(`\rhashing ${pct}%${d === t ? '\n' : ''}`);
            last = pct;
          },
    });
    const files = res.files.map((f) => ({
      file: f.name,
      bytes: f.record.size,
      sha256: f.sha256,
      status: f.previous !== undefined ? 'changed' : f.hadRecord ? 'ok' : 'new',
      ...(f.previous !== undefined ? { recorded: f.previous } : {}),
    }));
    const changed = files.filter((f) => f.status === 'changed').length;
    if (values.json) printJson(io, { model: ck.dir, cache_dir: cacheDir, seconds: (performance.now() - t0) / 1000, changed, files });
    else {
      for (const f of files)
        io.out(`${f.status.padEnd(7)}  ${f.file}  ${f.sha256}${f.status === 'changed' ? `  (recorded ${f.recorded})` : ''}\n`);
      io.out(changed ? `${changed} file(s) changed since they were recorded\n` : `all ${files.length} files verified\n`);
    }
    return changed ? 1 : 0;
  },
});

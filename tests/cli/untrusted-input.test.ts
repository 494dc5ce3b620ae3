// Hostile files through the real `eac` binary: FIFOs fail at once (never block), a header-only fact
// file is an error with exit 2, a config.json claiming 1e9 layers fails naming the file and field.
// Each child runs under a watchdog (execFile timeout): a hang kills it and fails the test as a hang.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../engine/helpers';
import { FIXTURES } from '../shared';

const BIN = path.join(REPO, 'bin/eac.mjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-cli-untrusted-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const WATCHDOG_MS = 60_000;

function eac(args: string[]): Promise<{ code: number; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: tmp, env: { ...process.env, EAC_CACHE_DIR: path.join(tmp, 'cache'), EAC_DATA_DIR: path.join(tmp, 'data') }, timeout: WATCHDOG_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number; killed?: boolean }) | null;
        resolve({ code: e ? Number(e.code ?? 1) : 0, stdout, stderr, killed: !!e?.killed });
      },
    ),
  );
}

/** A copy of the GPT-2 fixture folder (weights copied: links out of the folder are refused). */
function modelCopy(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d);
  for (const f of fs.readdirSync(path.join(FIXTURES, 'gpt2-world-a'))) fs.copyFileSync(path.join(FIXTURES, 'gpt2-world-a', f), path.join(d, f));
  return d;
}

const model = path.join(FIXTURES, 'gpt2-world-a');

describe('eac on hostile input files', () => {
  it('a FIFO as --facts fails at once with exit 2 naming it (no writer ever opens it)', async () => {
    const fifo = path.join(tmp, 'facts.csv');
    execFileSync('mkfifo', [fifo]);
    const r = await eac(['edit', '--model', model, '--facts', fifo, '--method', 'rome']);
    expect(r.killed, 'eac hung on the FIFO').toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(fifo);
    expect(r.stderr).toMatch(/FIFO \(named pipe\), not a regular file/);
  });

  it('a header-only CSV is an error (exit 2, "no data rows"), not "done: 0 edits"', async () => {
    const csv = path.join(tmp, 'header-only.csv');
    fs.writeFileSync(csv, 'prompt,subject,target_new\n');
    const r = await eac(['edit', '--model', model, '--facts', csv, '--method', 'rome']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no valid edit requests to run .*header row but no data rows/);
    expect(r.stdout).not.toMatch(/done:/);
  });

  it('a FIFO named tokenizer.json fails the open with a clear error (exit 2)', async () => {
    const d = modelCopy('fifo-tokenizer');
    fs.rmSync(path.join(d, 'tokenizer.json'));
    execFileSync('mkfifo', [path.join(d, 'tokenizer.json')]);
    const r = await eac(['info', '--model', d]);
    expect(r.killed, 'eac hung on the FIFO').toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(d, 'tokenizer.json'));
    expect(r.stderr).toMatch(/FIFO/);
  });

  it('a 4 KB tokenizer.json whose 40 Replace normalizers each double every space is refused at open (tokenizer_unsafe), not a hang', async () => {
    // issue 19: `generate` ran for > 100 s at 0.9 GB on this file; the watchdog of this file fails the test if it hangs
    for (const shape of ['flat', 'nested'] as const) {
      const d = modelCopy(`space-bomb-${shape}`);
      const tok = JSON.parse(fs.readFileSync(path.join(d, 'tokenizer.json'), 'utf8'));
      const double = { type: 'Replace', pattern: { String: ' ' }, content: '  ' };
      if (shape === 'flat') tok.normalizer = { type: 'Sequence', normalizers: Array.from({ length: 40 }, () => double) };
      else {
        // 20 Sequences deep, two doublings each (deeper nesting is refused on its own, as too deep)
        let node: unknown = { type: 'Sequence', normalizers: [double, double] };
        for (let i = 1; i < 20; i++) node = { type: 'Sequence', normalizers: [double, node, double] };
        tok.normalizer = node;
      }
      expect(JSON.stringify(tok.normalizer).length).toBeLessThan(4096);
      fs.writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(tok));
      const r = await eac(['generate', '--model', d, '--prompt', 'a b c d', '--max-new-tokens', '2']);
      expect(r.killed, `eac generate hung on the ${shape} space bomb`).toBe(false);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(path.join(d, 'tokenizer.json'));
      expect(r.stderr).toMatch(/can make text 2\^42× longer \(Replace " " -> "  " ×2 \(40 times\), ByteLevel ×3\): a 100000-character input could become about 2\^58 characters/);
      expect(r.stderr).toMatch(/fix tokenizer.json .* or use the model's original tokenizer.json/);
    }
  });

  it('config.json with n_layer 1e9 fails naming config.json and n_layer (bounded by the tensors present)', async () => {
    const d = modelCopy('huge-layers');
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...cfg, n_layer: 1e9 }));
    const r = await eac(['info', '--model', d]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(path.join(d, 'config.json'));
    expect(r.stderr).toMatch(/n_layer is 1000000000, but the weight files hold tensors for \d+ layers/);
  });
});

/**
 * Runs `call` (an expression over `m`, the module at `mod`) in a child process under the watchdog: a
 * read that blocks (a FIFO opened without O_NONBLOCK blocks the whole thread) kills the child instead
 * of the test runner. stdout is 'read: <JSON of the result>' or '<error code>: <message>'.
 */
function inChild(mod: string, call: string): Promise<{ stdout: string; killed: boolean }> {
  const code = `import(${JSON.stringify(path.join(REPO, mod))}).then((m) => { try { const r = ${call}; console.log('read: ' + JSON.stringify(r)); } catch (e) { console.log(e.code + ': ' + e.message); } })`;
  return new Promise((resolve) =>
    execFile(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO, timeout: WATCHDOG_MS, killSignal: 'SIGKILL' }, (err, stdout) =>
      resolve({ stdout, killed: !!(err as { killed?: boolean } | null)?.killed }),
    ),
  );
}

/** A statistics cache folder whose entry `key` (dim 4) has a valid meta; returns the entry's paths. */
function statsEntry(name: string, key: string): { cacheDir: string; bin: string; meta: string } {
  const cacheDir = path.join(tmp, name);
  const dir = path.join(cacheDir, 'stats');
  fs.mkdirSync(dir, { recursive: true });
  const meta = path.join(dir, `${key}.json`);
  fs.writeFileSync(meta, JSON.stringify({ format: 'eac-keystats-v1', key, layer: 0, dim: 4, count: 1, sha256: '0'.repeat(64), origin: 'computed' }));
  return { cacheDir, bin: path.join(dir, `${key}.bin`), meta };
}

const js = JSON.stringify;

describe('other files the engine reads', () => {
  it('a FIFO as the statistics corpus fails at once (bad-corpus, naming the FIFO) instead of blocking', async () => {
    const fifo = path.join(tmp, 'corpus.txt');
    execFileSync('mkfifo', [fifo]);
    const r = await inChild('src-main/engine/edit/stats/corpus.ts', `m.readCorpusSamples(${js(fifo)})`);
    expect(r.killed, 'reading the FIFO corpus hung').toBe(false);
    expect(r.stdout).toMatch(/^bad-corpus: cannot read the statistics corpus .*corpus\.txt: .*FIFO/m);
  });

  it('a FIFO as an .npz to import fails at once (exit 2, not_regular_file naming it), before the model is hashed', async () => {
    const fifo = path.join(tmp, 'layer_stats.npz');
    execFileSync('mkfifo', [fifo]);
    const r = await eac(['stats', 'import', '--model', path.join(FIXTURES, 'gpt2-world-a'), '--layer', '0', '--npz', fifo, '--label', '100000']);
    expect(r.killed, 'eac hung on the FIFO .npz').toBe(false);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(fifo);
    expect(r.stderr).toMatch(/the statistics \.npz is a FIFO \(named pipe\), not a regular file/);
  });

  it('a folder as the .npz is refused (not_regular_file); one above the size any [dim, dim] statistics need is refused unread (file_too_large)', async () => {
    const dirNpz = path.join(tmp, 'folder.npz');
    fs.mkdirSync(dirNpz);
    const r = await inChild('src-main/engine/edit/stats-npz.ts', `m.importNpzStats(${js(dirNpz)}, 4)`);
    expect(r.killed).toBe(false);
    expect(r.stdout).toMatch(/^not_regular_file: .*folder\.npz: the statistics \.npz is a directory/m);
    // sparse: the size check is on fstat, before any read (npzByteLimit(4) is 64 MiB + 256 bytes)
    const big = path.join(tmp, 'big.npz');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 65 * 1024 * 1024);
    const b = await inChild('src-main/engine/edit/stats-npz.ts', `m.importNpzStats(${js(big)}, 4)`);
    expect(b.stdout).toMatch(/^file_too_large: .*big\.npz: the statistics \.npz is 65\.0 MiB, more than the 64\.0 MiB/m);
  });

  it('a FIFO in place of a statistics cache meta or .bin fails the lookup at once (not_regular_file), not a hang or a silent recompute', async () => {
    const a = statsEntry('cache-fifo-meta', 'l0-fifo');
    fs.rmSync(a.meta);
    execFileSync('mkfifo', [a.meta]);
    const r = await inChild('src-main/engine/edit/stats/cache.ts', `m.readCachedStats(${js(a.cacheDir)}, 'l0-fifo', 4)`);
    expect(r.killed, 'reading the FIFO meta hung').toBe(false);
    expect(r.stdout).toMatch(/^not_regular_file: .*l0-fifo\.json: the statistics cache meta is a FIFO/m);
    // the list leaves the foreign file out without reading it
    const l = await inChild('src-main/engine/edit/stats/cache.ts', `m.listCachedStats(${js(a.cacheDir)}).length`);
    expect(l.killed, 'listing next to the FIFO hung').toBe(false);
    expect(l.stdout).toMatch(/^read: 0$/m);

    const b = statsEntry('cache-fifo-bin', 'l0-fifobin');
    execFileSync('mkfifo', [b.bin]);
    const rb = await inChild('src-main/engine/edit/stats/cache.ts', `m.readCachedStats(${js(b.cacheDir)}, 'l0-fifobin', 4)`);
    expect(rb.killed, 'reading the FIFO .bin hung').toBe(false);
    expect(rb.stdout).toMatch(/^not_regular_file: .*l0-fifobin\.bin: the statistics cache \.bin is a FIFO/m);
    // a folder there is refused the same way; a regular .bin of the wrong size is only a miss (recomputed)
    fs.rmSync(b.bin);
    fs.mkdirSync(b.bin);
    const rd = await inChild('src-main/engine/edit/stats/cache.ts', `m.readCachedStats(${js(b.cacheDir)}, 'l0-fifobin', 4)`);
    expect(rd.stdout).toMatch(/^not_regular_file: .*is a directory/m);
    fs.rmSync(b.bin, { recursive: true });
    fs.writeFileSync(b.bin, Buffer.alloc(7));
    const rs = await inChild('src-main/engine/edit/stats/cache.ts', `m.readCachedStats(${js(b.cacheDir)}, 'l0-fifobin', 4)`);
    expect(rs.stdout).toMatch(/^read: null$/m);
  });

  it('a statistics cache meta far larger than any we write is refused unread (file_too_large)', async () => {
    const { readCachedStats, CACHE_META_LIMIT } = await import('../../src-main/engine/edit/stats/cache');
    const a = statsEntry('cache-big-meta', 'l0-big');
    fs.truncateSync(a.meta, CACHE_META_LIMIT + 1);
    expect(() => readCachedStats(a.cacheDir, 'l0-big', 4)).toThrow(expect.objectContaining({ code: 'file_too_large', message: expect.stringContaining('l0-big.json: the statistics cache meta is 1.0 MiB') }));
  });
});

// Weight integrity without re-hashing every open: a full sha256 at import, then size + mtime + a
// sampled hash; a changed file is re-hashed and caught, an unchanged one is not read in full (the
// hasher is spied on); the statistics key uses the import hash; `eac verify` re-hashes on request.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkpointHashes, clearHashMemo, hashing, loadCheckpoint, sampleOffsets, SAMPLE_WINDOW } from '../../src-main/engine/checkpoint';
import { modelContentHash } from '../../src-main/engine/edit/stats';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { REPO } from '../engine/helpers';
import { FIXTURES, skipUnlessFixture } from '../shared';

const SRC = path.join(FIXTURES, 'gpt2-world-a');
const have = fs.existsSync(path.join(SRC, 'model.safetensors'));
const skipped = skipUnlessFixture('gpt2-world-a/model.safetensors');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-integrity-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A private copy of the fixture model (its files get modified). */
function copyModel(): string {
  const dir = path.join(tmp, `model-${n++}`);
  fs.cpSync(SRC, dir, { recursive: true });
  return dir;
}

/** Flips one byte of a file in place; with keepMtime the file's mtime is restored afterwards. */
function flipByte(file: string, offset: number, keepMtime = false): void {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, offset);
  b[0] ^= 0x5a;
  fs.writeSync(fd, b, 0, 1, offset);
  fs.closeSync(fd);
  if (keepMtime) fs.utimesSync(file, st.atime, st.mtime);
  else fs.utimesSync(file, st.atime, new Date(st.mtimeMs + 5000));
}

function fullReadsSpy() {
  return vi.spyOn(hashing, 'fullFile');
}

beforeEach(() => clearHashMemo()); // each test starts like a fresh process: only the sidecar is known
afterEach(() => vi.restoreAllMocks());

describe.skipIf(!have)(`import hash, then cheap re-checks${skipped}`, () => {
  it('the fixture is big enough for sampled windows (not hashed whole)', () => {
    const size = fs.statSync(path.join(SRC, 'model.safetensors')).size;
    expect(size).toBeGreaterThan(5 * SAMPLE_WINDOW);
    expect(sampleOffsets(size).length).toBe(5);
  });

  it('an unchanged file is not re-hashed on a later open; a touched and changed one is', async () => {
    const dir = copyModel();
    const cacheDir = path.join(tmp, 'cache-a');
    const ck = loadCheckpoint(dir);
    const first = await checkpointHashes(ck, { cacheDir });
    expect(first.rehashed).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    clearHashMemo();
    const spy = fullReadsSpy();
    const second = await checkpointHashes(ck, { cacheDir });
    expect(spy).not.toHaveBeenCalled();
    expect(second.hashes).toEqual(first.hashes);
    expect(second.rehashed).toEqual([]);

    const weights = path.join(dir, 'model.safetensors');
    flipByte(weights, 3 * SAMPLE_WINDOW + 12345); // outside the sampled windows: only the mtime tells
    clearHashMemo();
    const third = await checkpointHashes(ck, { cacheDir });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0][0]).toBe(fs.realpathSync(weights));
    expect(third.changed).toEqual(['model.safetensors']);
    expect(third.hashes['model.safetensors']).not.toBe(first.hashes['model.safetensors']);
    expect(third.hashes['config.json']).toBe(first.hashes['config.json']);
  });

  it('a byte flipped inside a sampled window is caught even with the mtime restored', async () => {
    const dir = copyModel();
    const cacheDir = path.join(tmp, 'cache-b');
    const ck = loadCheckpoint(dir);
    const first = await checkpointHashes(ck, { cacheDir });
    const weights = path.join(dir, 'model.safetensors');
    const size = fs.statSync(weights).size;
    flipByte(weights, sampleOffsets(size)[2] + 100, true);
    clearHashMemo();
    const spy = fullReadsSpy();
    const again = await checkpointHashes(ck, { cacheDir });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(again.changed).toEqual(['model.safetensors']);
    expect(again.hashes['model.safetensors']).not.toBe(first.hashes['model.safetensors']);
  });

  it('the statistics key uses the import hash: modelContentHash reads no weight file in full after import', async () => {
    const dir = copyModel();
    const cacheDir = path.join(tmp, 'cache-c');
    const model = { ck: loadCheckpoint(dir) };
    const h = await modelContentHash(model, cacheDir);
    clearHashMemo();
    const spy = fullReadsSpy();
    expect(await modelContentHash(model, cacheDir)).toBe(h);
    expect(spy).not.toHaveBeenCalled();
    flipByte(path.join(dir, 'model.safetensors'), 7 * SAMPLE_WINDOW + 1);
    clearHashMemo();
    expect(await modelContentHash(model, cacheDir)).not.toBe(h);
  });
});

describe.skipIf(!have)(`workspace open${skipped}`, () => {
  it('hashes in full at import only, and refuses a changed weight file naming it', async () => {
    const dir = copyModel();
    const wsDir = path.join(tmp, 'ws');
    const cacheDir = path.join(tmp, 'ws-cache');
    const dbFile = path.join(wsDir, 'ledger.sqlite');
    const open = () => Workspace.open({ modelDir: dir, dbFile, workspaceDir: wsDir, cacheDir, replayPending: false });
    const spy = fullReadsSpy();
    await (await open()).close();
    expect(spy).toHaveBeenCalledTimes(3); // import: config.json, model.safetensors, tokenizer.json
    spy.mockClear();
    clearHashMemo();
    await (await open()).close();
    expect(spy).not.toHaveBeenCalled();
    flipByte(path.join(dir, 'model.safetensors'), 4 * SAMPLE_WINDOW + 99);
    clearHashMemo();
    await expect(open()).rejects.toThrow(/model\.safetensors no longer matches the ledger/);
    expect(spy).toHaveBeenCalledTimes(1);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function eac(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'bin/eac.mjs'), ...args], { cwd: os.tmpdir(), env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

describe.skipIf(!have)(`eac verify (child process)${skipped}`, () => {
  it('records new files, confirms them, and reports a changed one with exit code 1', async () => {
    const dir = copyModel();
    const env = { EAC_CACHE_DIR: path.join(tmp, 'verify-cache') };
    const a = await eac(['verify', '--model', dir, '--json'], env);
    expect(a.code).toBe(0);
    const ja = JSON.parse(a.stdout);
    expect(ja.files.map((f: { status: string }) => f.status)).toEqual(['new', 'new', 'new']);
    const b = await eac(['verify', '--model', dir, '--json'], env);
    expect(JSON.parse(b.stdout).files.map((f: { status: string }) => f.status)).toEqual(['ok', 'ok', 'ok']);
    // a byte outside the sampled windows with the mtime restored: opens cannot see it, verify does
    flipByte(path.join(dir, 'model.safetensors'), 2 * SAMPLE_WINDOW + 7, true);
    const c = await eac(['verify', '--model', dir], env);
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/^changed\s+model\.safetensors\s+[0-9a-f]{64}\s+\(recorded [0-9a-f]{64}\)$/m);
    expect(c.stdout).toMatch(/1 file\(s\) changed/);
    const bad = await eac(['verify', '--model', path.join(tmp, 'nope')], env);
    expect(bad.code).toBe(2);
  });
});

// Issue 19 item 8: a ledger on a read-only filesystem or a full disk is reported as such (not as "not an EAC Studio
// ledger"), with what to do; a read-only ledger can be listed; read commands leave no -wal / -shm beside the ledger.
// Read-only filesystems and full disks are real mounts (a read-only bind mount, a 1 MiB tmpfs): root bypasses file
// modes, so a mode-0444 file would prove nothing here. Those tests skip, saying why in their title, where mounting is
// not possible.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EditResult, LayerDelta } from '../../src-main/engine/edit/types';
import { revertWorkspace } from '../../src-main/jobs/studio/ops';
import { Workspace } from '../../src-main/jobs/studio/workspace';
import { openLedger } from '../../src-main/store';
import { GPT2, runEac } from '../jobs/helpers';
import { fakeDelta, fakeEditResult } from './fake-edit';

const eac = (args: string[]) => runEac(args, { ...process.env, EAC_DEBUG: '' });

const delta = fakeDelta;
const result = fakeEditResult;

/** A closed ledger with `n` edits of a model recorded at the GPT-2 fixture's path (so revert gets as far as the ledger). */
function makeLedger(file: string, n = 2): number[] {
  const l = openLedger(file);
  try {
    const modelId = l.importModel({ path: GPT2, arch: 'gpt2', config: {}, fileHashes: { 'model.safetensors': 'ab'.repeat(32) } }).id;
    return Array.from({ length: n }, (_, i) => l.recordEdit(modelId, result(`c${i}`, [delta(1, i + 1)])).editId);
  } finally {
    l.close();
  }
}

const sha = (p: string) => createHash('sha256').update(fs.readFileSync(p)).digest('hex');
const errorOf = (fn: () => unknown): Error & { code?: string } => {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
};

/** Why mounting is not possible here (null: it is). */
function mountUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a read-only or full filesystem';
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'pipe' });
    execFileSync('umount', [d], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mount is not available: ${String((e as { stderr?: unknown }).stderr ?? (e as Error).message).trim()}`;
  } finally {
    fs.rmdirSync(d);
  }
}
const noMount = mountUnavailable();
const itMounted = (title: string, fn: () => Promise<void> | void) => (noMount ? it.skip(`${title} (skipped: ${noMount})`, fn) : it(title, fn));

function umount(d: string): void {
  try {
    execFileSync('umount', [d], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', d], { stdio: 'pipe' });
  }
}

let dir: string;
let mounts: string[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-ledger-fs-'));
});
afterEach(() => {
  for (const m of mounts.reverse()) umount(m);
  mounts = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

/** `src` seen read-only at a new mount point (a read-only bind mount). */
function readOnlyView(src: string): string {
  const ro = path.join(dir, 'ro-view');
  fs.mkdirSync(ro);
  execFileSync('mount', ['--bind', src, ro], { stdio: 'pipe' });
  mounts.push(ro);
  execFileSync('mount', ['-o', 'remount,bind,ro', ro], { stdio: 'pipe' });
  return ro;
}

/** A 1 MiB tmpfs holding a copy of `ledger` (as ledger.sqlite) and a file filling the rest; returns the copy's path. */
function fullDisk(ledger: string): { file: string; fill: string } {
  const mnt = path.join(dir, 'full');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
  mounts.push(mnt);
  const file = path.join(mnt, 'ledger.sqlite');
  fs.copyFileSync(ledger, file);
  const fill = path.join(mnt, 'fill');
  const fd = fs.openSync(fill, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
  } catch (e) {
    expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  return { file, fill };
}

describe('read commands write nothing beside the ledger', () => {
  it('eac ledger list / show on a closed WAL ledger leave no -wal / -shm and the file byte for byte as it was', async () => {
    const file = path.join(dir, 'ledger.sqlite');
    const ids = makeLedger(file);
    const before = { names: fs.readdirSync(dir).sort(), sha: sha(file), mtime: fs.statSync(file).mtimeMs };
    expect(before.names).toEqual(['ledger.sqlite', 'ledger.sqlite.lock']);
    const l = await eac(['ledger', 'list', '--db', file, '--json']);
    expect(l.code, l.err).toBe(0);
    expect(JSON.parse(l.out).edits.map((e: { id: number }) => e.id)).toEqual(ids);
    const s = await eac(['ledger', 'show', String(ids[0]), '--db', file]);
    expect(s.code, s.err).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(before.names);
    expect(sha(file)).toBe(before.sha);
    expect(fs.statSync(file).mtimeMs).toBe(before.mtime);
  });

  it('a read-only open while a writer has the ledger open reads its newest commits and leaves the writer its files', async () => {
    const file = path.join(dir, 'ledger.sqlite');
    const ids = makeLedger(file, 1);
    const w = openLedger(file);
    try {
      const more = w.recordEdit(1, result('late', [delta(1, 9)])).editId;
      const l = await eac(['ledger', 'list', '--db', file, '--json']);
      expect(l.code, l.err).toBe(0);
      expect(JSON.parse(l.out).edits.map((e: { id: number }) => e.id)).toEqual([...ids, more]);
    } finally {
      w.close();
    }
    // the writer, closing last, removed its -wal / -shm; the reader added none
    expect(fs.readdirSync(dir).sort()).toEqual(['ledger.sqlite', 'ledger.sqlite.lock']);
  });
});

describe('not a regular file', () => {
  it('a FIFO given as the ledger is refused before SQLite opens it (it blocked forever), for reading, writing and through the CLI', async () => {
    const fifo = path.join(dir, 'ledger.sqlite');
    execFileSync('mkfifo', [fifo]);
    for (const open of [() => openLedger(fifo, { readOnly: true }), () => openLedger(fifo)]) {
      const e = errorOf(open);
      expect(e.code).toBe('not_ledger');
      expect(e.message).toContain(`${fifo} is a FIFO (named pipe), not a regular file`);
    }
    for (const sub of [['list'], ['revert', '0']]) {
      const r = await eac(['ledger', ...sub, '--db', fifo]);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain('is a FIFO (named pipe), not a regular file');
    }
    expect(fs.readdirSync(dir)).toEqual(['ledger.sqlite']);
  });
});

describe('a ledger on a read-only filesystem', () => {
  itMounted('is listed (exit 0); revert exits 1 saying the folder is on a read-only filesystem and what to do', async () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const ids = makeLedger(path.join(src, 'ledger.sqlite'));
    const file = path.join(readOnlyView(src), 'ledger.sqlite');
    const l = await eac(['ledger', 'list', '--db', file, '--json']);
    expect(l.code, l.err).toBe(0);
    expect(JSON.parse(l.out).edits.map((e: { id: number }) => e.id)).toEqual(ids);
    const s = await eac(['ledger', 'show', String(ids[1]), '--db', file, '--json']);
    expect(s.code, s.err).toBe(0);
    expect(JSON.parse(s.out).id).toBe(ids[1]);
    const r = await eac(['ledger', 'revert', '0', '--db', file]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).not.toMatch(/not an EAC Studio ledger/);
    expect(r.err).toContain(`cannot write the ledger ${file}: its folder ${path.dirname(file)} is on a read-only filesystem`);
    expect(r.err).toMatch(/copy the ledger to a writable folder and pass the copy\. Reading it \(eac ledger list \/ show\) works as it is/);
    // nothing was reverted (the source folder is the same files)
    expect(fs.readdirSync(src).sort()).toEqual(['ledger.sqlite', 'ledger.sqlite.lock']);
  });

  itMounted('store API: openLedger refuses with not_writable; a read-only open reads a private copy and removes it at close', () => {
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const ids = makeLedger(path.join(src, 'ledger.sqlite'));
    const file = path.join(readOnlyView(src), 'ledger.sqlite');
    const e = errorOf(() => openLedger(file));
    expect(e.code).toBe('not_writable');
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp);
    const oldTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const r = openLedger(file, { readOnly: true });
      expect(r.file).toBe(file);
      expect(r.history(1).edits.map((x) => x.id)).toEqual(ids);
      expect(r.liveFactors(1).get(1)!.rank).toBe(2);
      expect(fs.readdirSync(tmp)).toHaveLength(1);
      r.close();
      expect(fs.readdirSync(tmp)).toEqual([]);
      // no usable temporary folder for the copy: said so, naming it and what to do
      process.env.TMPDIR = path.join(dir, 'no-such-tmp');
      const t = errorOf(() => openLedger(file, { readOnly: true }));
      expect(t.code).toBe('io_error');
      expect(t.message).toContain(`a private copy in the temporary folder ${path.join(dir, 'no-such-tmp')} failed`);
      expect(t.message).toMatch(/set TMPDIR to a writable folder with space/);
    } finally {
      if (oldTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = oldTmp;
    }
  });
});

describe('a ledger on a full disk', () => {
  itMounted('is listed (exit 0, nothing left beside it); revert exits 1 saying the disk is full', async () => {
    const src = path.join(dir, 'src.sqlite');
    const ids = makeLedger(src);
    const { file } = fullDisk(src);
    const before = fs.readdirSync(path.dirname(file)).sort();
    const l = await eac(['ledger', 'list', '--db', file, '--json']);
    expect(l.code, l.err).toBe(0);
    expect(JSON.parse(l.out).edits.map((e: { id: number }) => e.id)).toEqual(ids);
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(before);
    const r = await eac(['ledger', 'revert', '0', '--db', file]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).not.toMatch(/not an EAC Studio ledger/);
    expect(r.err).toMatch(new RegExp(`the disk holding the ledger ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is full .*: free space on it`));
  });

  itMounted('a revert through the workspace that runs out of space keeps the disk_full code (exit 1, not a bad request)', async () => {
    const mnt = path.join(dir, 'ws-disk');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
    mounts.push(mnt);
    const ws = await Workspace.open({ modelDir: GPT2, workspaceDir: path.join(mnt, 'ws'), cacheDir: path.join(dir, 'cache') });
    try {
      // two edits of the fixture's real shape (d 192, d_ff 768), recorded while there is room
      for (const seed of [1, 2]) ws.ledger.recordEdit(ws.modelId, result(`c${seed}`, [{ ...delta(2, seed, 192, 768), Ut: new Float32Array(192).fill(1e-3 * seed), Vt: new Float32Array(768).fill(1e-3) }]));
      ws.rebuild();
      const fd = fs.openSync(path.join(mnt, 'fill'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
      } catch {
        /* full */
      } finally {
        fs.closeSync(fd);
      }
      const e = errorOf(() => revertWorkspace(ws, 0));
      expect(e.code).toBe('disk_full');
      expect(e.message).toMatch(/is full .*: free space on it/);
      expect(ws.ledger.history(ws.modelId).edits.filter((x) => x.active)).toHaveLength(2);
    } finally {
      await ws.close();
    }
  });

  itMounted('a write that runs out of space is refused as disk_full, rolled back, and the ledger still reads intact', () => {
    const src = path.join(dir, 'src.sqlite');
    const ids = makeLedger(src, 1);
    const { file, fill } = fullDisk(src);
    // room to open (the WAL and shared-memory files), not for a large edit
    fs.truncateSync(fill, fs.statSync(fill).size - 192 * 1024);
    const l = openLedger(file);
    try {
      const big = (seed: number) => result(`big${seed}`, [delta(1, seed, 6, 10)].map((d) => ({ ...d, Ut: new Float32Array(6 * 4096).fill(seed), Vt: new Float32Array(10 * 4096).fill(seed), rank: 4096 })));
      const e = errorOf(() => l.recordEdit(1, big(2)));
      expect(e.code).toBe('disk_full');
      expect(e.message).toMatch(/the disk holding the ledger .* is full .*: free space on it, .* the step that failed was rolled back/);
      expect(l.history(1).edits.map((x) => x.id)).toEqual(ids);
    } finally {
      l.close();
    }
    fs.rmSync(fill);
    const again = openLedger(file);
    try {
      expect(again.integrityCheck()).toEqual([]);
      expect(again.history(1).edits.map((x) => x.id)).toEqual(ids);
    } finally {
      again.close();
    }
  });
});

/** Why running as the unprivileged user `nobody` is not possible here (null: it is). */
function nobodyUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root to run a command as the user nobody';
  const r = spawnSync('runuser', ['-u', 'nobody', '--', 'true'], { stdio: 'pipe' });
  if (r.status !== 0) return `runuser -u nobody is not available: ${String(r.stderr ?? r.error?.message).trim()}`;
  // the checkout itself must be readable by nobody (a clone under a 0700 folder, e.g. mktemp -d, is not)
  const cli = path.resolve('bin/eac.mjs');
  const read = spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', cli], { stdio: 'pipe' });
  return read.status === 0 ? null : `the user nobody cannot read this checkout (${cli})`;
}
const noNobody = nobodyUnavailable();
const itAsNobody = (title: string, fn: () => Promise<void> | void) => (noNobody ? it.skip(`${title} (skipped: ${noNobody})`, fn) : it(title, fn));

describe('file modes, as another user (root passes every mode check, so these run `eac` as nobody)', () => {
  /** `eac ledger list --db file` run by the user nobody (a real process: file modes apply to it). */
  const listAsNobody = (file: string) => {
    const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, path.resolve('bin/eac.mjs'), 'ledger', 'list', '--db', file, '--json'], {
      cwd: path.dirname(file),
      encoding: 'utf8',
      env: { ...process.env, EAC_DEBUG: '' },
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  itAsNobody('a mode-0444 ledger (owned by someone else) in a folder nobody may write is listed, leaving nothing beside it', () => {
    fs.chmodSync(dir, 0o755);
    const own = path.join(dir, 'nobodys');
    fs.mkdirSync(own);
    fs.chownSync(own, 65534, 65534);
    const file = path.join(own, 'ledger.sqlite');
    const ids = makeLedger(file);
    fs.chmodSync(file, 0o444);
    const before = fs.readdirSync(own).sort();
    const r = listAsNobody(file);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).edits.map((e: { id: number }) => e.id)).toEqual(ids);
    expect(fs.readdirSync(own).sort()).toEqual(before);
  });

  itAsNobody('a ledger this user may not read: exit 1, permission denied, saying what to do', () => {
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, 'ledger.sqlite');
    makeLedger(file);
    fs.chmodSync(file, 0o600);
    const r = listAsNobody(file);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`permission denied on the ledger ${file}: this user may not read it; give this user read access`);
    expect(r.err).not.toMatch(/not an EAC Studio ledger/);
  });
});

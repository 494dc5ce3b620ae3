// Ledger data safety (issue 12): foreign and newer files are refused with every byte unchanged, read-only opens
// write nothing, every factor row is checksummed (a flipped bit is caught and names the edit), one writer process
// per ledger (a second one is refused, naming the holder; a SIGKILLed holder frees the lock), optimistic head checks,
// a kill between the last statement and COMMIT leaves no trace, and files are private (0600 / 0700).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EditResult, LayerDelta } from '../../src-main/engine/edit/types';
import { boundFactorSha256 } from '../../src-main/store/factors';
import { fakeDelta, fakeEditResult } from './fake-edit';
import {
  factorSha256,
  LEDGER_APPLICATION_ID,
  LedgerError,
  loadMigrations,
  lockFileOf,
  mountPoints,
  openLedger,
  SchemaTooNewError,
  writerLockHolder,
} from '../../src-main/store';

const REPO_MIGRATIONS = path.resolve(__dirname, '../../migrations');
const STORE = path.resolve(__dirname, '../../src-main/store');
const D = 6;
const DFF = 10;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-store-safety-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const delta = (layer: number, seed: number): LayerDelta => fakeDelta(layer, seed, D, DFF);
const result = fakeEditResult;

function newLedger(file: string, edits = 2) {
  const l = openLedger(file);
  const modelId = l.importModel({ path: '/models/m', arch: 'gpt2', config: {}, fileHashes: { 'model.safetensors': 'ab'.repeat(32) } }).id;
  const ids = Array.from({ length: edits }, (_, i) => l.recordEdit(modelId, result(`c${i}`, [delta(1, i + 1)])).editId);
  return { l, modelId, ids };
}

/** The ledger file in rollback-journal mode (self-contained: no -wal), closed. */
function toRollbackJournal(file: string): void {
  const raw = new Database(file);
  raw.pragma('journal_mode = DELETE');
  raw.close();
}

const siblings = (file: string) => fs.readdirSync(path.dirname(file)).filter((n) => n !== path.basename(file) && n.startsWith(path.basename(file)));

function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe('header checks run before any write', () => {
  it('a foreign SQLite database is refused for writing and reading, byte for byte unchanged, nothing created beside it', () => {
    const file = path.join(dir, 'other.sqlite');
    const raw = new Database(file);
    raw.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me')`);
    raw.pragma('user_version = 7');
    raw.close();
    const before = fs.readFileSync(file);
    const w = errorOf(() => openLedger(file));
    expect(w.code).toBe('not_ledger');
    expect(w.message).toContain(file);
    expect(w.message).toMatch(/notes/);
    const r = errorOf(() => openLedger(file, { readOnly: true }));
    expect(r.code).toBe('not_ledger');
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    // no WAL switch, no -wal/-shm, no lock file
    expect(siblings(file)).toEqual([]);
  });

  it('another application_id is refused unchanged', () => {
    const file = path.join(dir, 'app.sqlite');
    const raw = new Database(file);
    raw.pragma('application_id = 1234');
    raw.close();
    const before = fs.readFileSync(file);
    expect(errorOf(() => openLedger(file)).message).toMatch(/application_id is 0x4d2/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(siblings(file)).toEqual([]);
  });

  it('a ledger of a newer schema is refused for writing and reading with its header bytes unchanged', () => {
    const file = path.join(dir, 'future.sqlite');
    newLedger(file).l.close();
    toRollbackJournal(file);
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    const before = fs.readFileSync(file);
    const lockBefore = fs.readFileSync(lockFileOf(file));
    const e = errorOf(() => openLedger(file));
    expect(e).toBeInstanceOf(SchemaTooNewError);
    expect(e.message).toContain(file);
    expect(errorOf(() => openLedger(file, { readOnly: true }))).toBeInstanceOf(SchemaTooNewError);
    const after = fs.readFileSync(file);
    expect(after.subarray(0, 100).equals(before.subarray(0, 100))).toBe(true);
    expect(after.equals(before)).toBe(true);
    expect(fs.readFileSync(lockFileOf(file)).equals(lockBefore)).toBe(true);
    expect(siblings(file).sort()).toEqual([path.basename(lockFileOf(file))]);
  });

  it('a file that is not SQLite at all is refused unchanged', () => {
    const file = path.join(dir, 'notes.txt');
    fs.writeFileSync(file, 'just some text that is long enough to look like a page header.......................................\n');
    const before = fs.readFileSync(file);
    const e = errorOf(() => openLedger(file));
    expect(e.code).toBe('not_ledger');
    expect(e.message).toContain(file);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('a new ledger carries application_id "EACS" in its header; a ledger from before application_id is claimed and its factors hashed', () => {
    const file = path.join(dir, 'new.sqlite');
    newLedger(file).l.close();
    toRollbackJournal(file);
    const header = fs.readFileSync(file).subarray(0, 100);
    expect(header.readUInt32BE(68)).toBe(LEDGER_APPLICATION_ID);
    expect(header.subarray(68, 72).toString('latin1')).toBe('EACS');

    // a ledger written with only 001 (before 002 and application_id): factors without checksums
    const old = path.join(dir, 'old.sqlite');
    const only1 = path.join(dir, 'mig1');
    fs.mkdirSync(only1);
    fs.copyFileSync(path.join(REPO_MIGRATIONS, '001_init.sql'), path.join(only1, '001_init.sql'));
    const l1 = openLedger(old, { migrationsDir: only1 });
    l1.db.pragma('application_id = 0'); // as written before application_id existed
    l1.db.exec(`INSERT INTO models (id, path, arch, config_json, file_hashes_json, imported_at) VALUES (1, '/m', 'gpt2', '{}', '{}', 'now')`);
    l1.db.exec(`INSERT INTO edits (id, model_id, seq, method, profile_json, layers_json, requests_json, metrics_json, pre_metrics_json,
      timings_json, details_json, stats_json, created_at) VALUES (1, 1, 1, 'rome', '{}', '[1]', '[]', '[]', '[]', '{}', '{}', '{}', 'now')`);
    const d = delta(1, 5);
    const ut = Buffer.from(d.Ut.buffer);
    const vt = Buffer.from(d.Vt.buffer);
    l1.db
      .prepare(`INSERT INTO edit_factors (edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt) VALUES (1, 0, 1, 'h.1.mlp.c_proj.weight', 1, ?, ?, ?, ?)`)
      .run(D, DFF, ut, vt);
    l1.close();
    const l2 = openLedger(old);
    expect(l2.migration!.applied.map((a) => a.version)).toContain(2);
    expect(l2.db.pragma('application_id', { simple: true })).toBe(LEDGER_APPLICATION_ID);
    expect(l2.db.prepare('SELECT sha256 FROM edit_factors').get()).toEqual({ sha256: factorSha256(ut, vt) });
    expect(l2.integrityCheck()).toEqual([]);
    l2.close();
  });
});

describe('read-only opens', () => {
  it('fileMustExist: a missing ledger is reported with its path and not created', () => {
    const file = path.join(dir, 'sub', 'missing.sqlite');
    const e = errorOf(() => openLedger(file, { readOnly: true }));
    expect(e).toBeInstanceOf(LedgerError);
    expect(e.code).toBe('not_found');
    expect(e.message).toContain(file);
    expect(fs.existsSync(path.join(dir, 'sub'))).toBe(false);
  });

  it('reads while a writer holds the lock, refuses writes, and leaves the file alone', () => {
    const file = path.join(dir, 'l.sqlite');
    const { l, modelId, ids } = newLedger(file);
    const r = openLedger(file, { readOnly: true });
    try {
      expect(r.history(modelId).edits.map((e) => e.id)).toEqual(ids);
      expect(r.liveFactors(modelId).get(1)!.rank).toBe(2);
      expect(() => r.revertTo(modelId, 0)).toThrow(/read-only/);
      expect(r.db.pragma('query_only', { simple: true }) === 1 || r.db.readonly).toBe(true);
    } finally {
      r.close();
      l.close();
    }
  });

  it('a ledger under an impossible folder fails once with the path (no mkdir retry loop)', () => {
    const e = errorOf(() => openLedger('/proc/nope/deeper/ledger.sqlite'));
    expect(e.code).toBe('io_error');
    expect(e.message).toContain('/proc/nope');
  });

  it('an unopenable path names the file and the cause', () => {
    // a folder where the ledger file should be
    const file = path.join(dir, 'isdir.sqlite');
    fs.mkdirSync(file);
    const e = errorOf(() => openLedger(file));
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/not a regular file|unable to open|directory/i);
  });
});

describe('factor checksums', () => {
  /** Flip one bit of edit `editId`'s ut blob behind the ledger's back (lifting the append-only trigger). */
  function flipBit(file: string, editId: number, byte: number, bit: number): void {
    const raw = new Database(file);
    const row = raw.prepare('SELECT ut FROM edit_factors WHERE edit_id = ? AND ord = 0').get(editId) as { ut: Buffer };
    const ut = Buffer.from(row.ut);
    ut[byte] ^= 1 << bit;
    raw.exec('DROP TRIGGER edit_factors_no_update');
    raw.prepare('UPDATE edit_factors SET ut = ? WHERE edit_id = ? AND ord = 0').run(ut, editId);
    raw.exec(`CREATE TRIGGER edit_factors_no_update BEFORE UPDATE ON edit_factors BEGIN SELECT RAISE(ABORT, 'edit_factors is append-only'); END`);
    raw.close();
  }

  it('every factor row stores the sha256 of its bytes', () => {
    const file = path.join(dir, 'h.sqlite');
    const { l, ids } = newLedger(file);
    const rows = l.db.prepare('SELECT edit_id, ut, vt, sha256 FROM edit_factors ORDER BY edit_id').all() as { edit_id: number; ut: Buffer; vt: Buffer; sha256: string }[];
    expect(rows.map((r) => r.edit_id)).toEqual(ids);
    for (const r of rows) expect(r.sha256).toBe(factorSha256(r.ut, r.vt));
    // a row without a checksum cannot be inserted
    expect(() =>
      l.db
        .prepare(`INSERT INTO edit_factors (edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt) VALUES (?, 5, 1, 'x', 1, ?, ?, ?, ?)`)
        .run(ids[0], D, DFF, rows[0].ut, rows[0].vt),
    ).toThrow(/sha256 is required/);
    l.close();
  });

  it('one flipped bit passes PRAGMA integrity_check but is caught on rebuild, export reads and the ledger check, naming the edit', () => {
    const file = path.join(dir, 'flip.sqlite');
    const { l, modelId, ids } = newLedger(file, 3);
    l.close();
    flipBit(file, ids[1], 9, 3);
    const l2 = openLedger(file);
    try {
      // SQLite itself sees nothing wrong: the page checksums of a bit flip in a blob do not exist
      expect(l2.db.pragma('integrity_check', { simple: true })).toBe('ok');
      for (const read of [() => l2.liveFactors(modelId), () => l2.liveEdits(modelId), () => l2.editFactors(ids[1])]) {
        const e = errorOf(read);
        expect(e).toBeInstanceOf(LedgerError);
        expect(e.code).toBe('factor_corrupt');
        expect(e.message).toContain(`edit ${ids[1]} (seq 2)`);
        expect(e.message).toContain(file);
      }
      // the untouched edits still read
      expect(l2.editFactors(ids[0])).toHaveLength(1);
      const problems = l2.integrityCheck();
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`edit ${ids[1]} \\(seq 2\\) .* is corrupt`));
      // after reverting past the corrupt edit the live set rebuilds again
      l2.revertTo(modelId, 1);
      expect(l2.liveFactors(modelId).get(1)!.rank).toBe(1);
    } finally {
      l2.close();
    }
  });
});

describe('factor checksums bound to their edit, layer and tensor (issue 19 item 6)', () => {
  /** Rewrite columns of edit `editId`'s first factor row behind the ledger's back (lifting the append-only trigger). */
  function rewriteRow(file: string, editId: number, set: string): void {
    const raw = new Database(file);
    raw.exec('DROP TRIGGER edit_factors_no_update');
    raw.prepare(`UPDATE edit_factors SET ${set} WHERE edit_id = ? AND ord = 0`).run(editId);
    raw.exec(`CREATE TRIGGER edit_factors_no_update BEFORE UPDATE ON edit_factors BEGIN SELECT RAISE(ABORT, 'edit_factors is append-only'); END`);
    raw.close();
  }

  it('every factor row stores a checksum bound to edit id, index, layer, tensor, rank and shape; a row without one cannot be inserted', () => {
    const file = path.join(dir, 'bound.sqlite');
    const { l, ids } = newLedger(file);
    try {
      const rows = l.db.prepare('SELECT * FROM edit_factors ORDER BY edit_id').all() as Record<string, any>[];
      expect(rows.map((r) => r.edit_id)).toEqual(ids);
      for (const r of rows) {
        const b = { editId: r.edit_id, ord: r.ord, layer: r.layer, tensor: r.tensor, rank: r.rank, dOut: r.d_out, dIn: r.d_in };
        expect(r.bound_sha256).toBe(boundFactorSha256(b, r.ut, r.vt));
        // the same bytes under another layer, edit or tensor do not verify
        for (const other of [{ ...b, layer: b.layer + 1 }, { ...b, editId: b.editId + 1 }, { ...b, tensor: 'h.0.mlp.c_proj.weight' }, { ...b, ord: 1 }])
          expect(boundFactorSha256(other, r.ut, r.vt)).not.toBe(r.bound_sha256);
      }
      const r0 = rows[0];
      expect(() =>
        l.db
          .prepare(`INSERT INTO edit_factors (edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt, sha256) VALUES (?, 5, 2, 'x', 1, ?, ?, ?, ?, ?)`)
          .run(ids[0], D, DFF, r0.ut, r0.vt, r0.sha256),
      ).toThrow(/bound_sha256 is required/);
    } finally {
      l.close();
    }
  });

  for (const [what, set] of [
    ['layer', 'layer = 3'],
    ['tensor', `tensor = 'h.3.mlp.c_proj.weight'`],
    ['edit id', 'edit_id = edit_id + 100'],
  ] as const)
    it(`a factor row whose ${what} was rewritten in SQL (bytes intact) is refused on every read, naming the edit`, () => {
      const file = path.join(dir, `moved-${what.replace(' ', '-')}.sqlite`);
      const { l, modelId, ids } = newLedger(file, 2);
      if (what === 'edit id') {
        // a second model's edit with the same shape to move the row to (edit ids are foreign keys)
        l.db.exec(`INSERT INTO edits (id, model_id, seq, method, profile_json, layers_json, requests_json, metrics_json, pre_metrics_json,
          timings_json, details_json, stats_json, created_at) SELECT id + 100, model_id, seq + 100, method, profile_json, layers_json,
          requests_json, metrics_json, pre_metrics_json, timings_json, details_json, stats_json, created_at FROM edits WHERE id = ${ids[1]}`);
      }
      l.close();
      rewriteRow(file, ids[1], set);
      const l2 = openLedger(file);
      try {
        const movedTo = what === 'edit id' ? ids[1] + 100 : ids[1];
        const reads = what === 'edit id' ? [() => l2.editFactors(movedTo)] : [() => l2.liveFactors(modelId), () => l2.liveEdits(modelId), () => l2.editFactors(ids[1])];
        for (const read of reads) {
          const e = errorOf(read);
          expect(e.code).toBe('factor_corrupt');
          expect(e.message).toContain(`of edit ${movedTo}`);
          expect(e.message).toMatch(/was moved: its bytes are intact but the edit, layer, tensor, rank or shape it is filed under changed/);
          expect(e.message).toContain(file);
        }
        expect(l2.verifyFactors(modelId)).toHaveLength(1);
        expect(l2.integrityCheck().some((p) => p.includes(`edit ${movedTo}`))).toBe(true);
      } finally {
        l2.close();
      }
    });

  it('upgrading a 003 ledger binds the checksum of intact rows and refuses to bless a row tampered with before the upgrade', () => {
    const file = path.join(dir, 'v3.sqlite');
    const upTo3 = path.join(dir, 'mig3');
    fs.mkdirSync(upTo3);
    for (const m of loadMigrations(REPO_MIGRATIONS).filter((x) => x.version <= 3)) fs.copyFileSync(m.file, path.join(upTo3, path.basename(m.file)));
    const l3 = openLedger(file, { migrationsDir: upTo3 });
    l3.db.exec(`INSERT INTO models (id, path, arch, config_json, file_hashes_json, imported_at) VALUES (1, '/m', 'gpt2', '{}', '{}', 'now')`);
    const ins = l3.db.prepare('INSERT INTO edit_factors (edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt, sha256) VALUES (?, 0, 1, ?, 1, ?, ?, ?, ?, ?)');
    const bytes: Buffer[][] = [];
    for (const id of [1, 2]) {
      l3.db.exec(`INSERT INTO edits (id, model_id, seq, method, profile_json, layers_json, requests_json, metrics_json, pre_metrics_json,
        timings_json, details_json, stats_json, created_at) VALUES (${id}, 1, ${id}, 'rome', '{}', '[1]', '[]', '[]', '[]', '{}', '{}', '{}', 'now')`);
      const d = delta(1, id);
      const ut = Buffer.from(d.Ut.buffer);
      const vt = Buffer.from(d.Vt.buffer);
      // edit 2: its bytes changed after its (old, bytes-only) checksum was written
      const stored = id === 2 ? Buffer.from(ut).fill(7, 0, 4) : ut;
      ins.run(id, 'h.1.mlp.c_proj.weight', D, DFF, stored, vt, factorSha256(ut, vt));
      bytes.push([stored, vt]);
    }
    l3.close();
    // read-only (not migrated), the old rows are checked by the rule they were written with: the bytes
    const ro = openLedger(file, { readOnly: true });
    try {
      expect(ro.editFactors(1)).toHaveLength(1);
      expect(errorOf(() => ro.editFactors(2)).message).toMatch(/of edit 2 \(seq 2\) .* is corrupt: its bytes hash to sha256/);
    } finally {
      ro.close();
    }
    const l = openLedger(file);
    try {
      expect(l.migration!.applied.map((a) => a.name)).toContain('factor_binding');
      const rows = l.db.prepare('SELECT edit_id, bound_sha256 FROM edit_factors ORDER BY edit_id').all() as { edit_id: number; bound_sha256: string | null }[];
      expect(rows[0].bound_sha256).toBe(
        boundFactorSha256({ editId: 1, ord: 0, layer: 1, tensor: 'h.1.mlp.c_proj.weight', rank: 1, dOut: D, dIn: DFF }, bytes[0][0], bytes[0][1]),
      );
      expect(rows[1].bound_sha256).toBeNull();
      expect(l.editFactors(1)).toHaveLength(1);
      const e = errorOf(() => l.editFactors(2));
      expect(e.code).toBe('factor_corrupt');
      expect(e.message).toMatch(/of edit 2 \(seq 2\) .* has no bound checksum: its bytes no longer matched their sha256 when the ledger was upgraded/);
      expect(l.verifyFactors()).toHaveLength(1);
    } finally {
      l.close();
    }
  });
});

describe('optimistic head check', () => {
  it('recordEdit / revertTo / removeEdit refuse a write computed on a head that has moved, and write nothing', () => {
    const file = path.join(dir, 'head.sqlite');
    const { l, modelId, ids } = newLedger(file, 2);
    try {
      const h0 = l.head(modelId);
      expect(h0).toBeGreaterThan(0);
      // another writer (here: the same ledger) changes the live set after h0 was read
      const moved = l.recordEdit(modelId, result('other', [delta(1, 9)]), { expectedHead: h0 });
      expect(l.db.prepare('SELECT base_event_id FROM edits WHERE id = ?').get(moved.editId)).toEqual({ base_event_id: h0 });
      const count = () => (l.db.prepare('SELECT (SELECT COUNT(*) FROM edits) + (SELECT COUNT(*) FROM events) AS n').get() as { n: number }).n;
      const n = count();
      for (const write of [
        () => l.recordEdit(modelId, result('stale', [delta(1, 10)]), { expectedHead: h0 }),
        () => l.revertTo(modelId, 1, undefined, { expectedHead: h0 }),
        () => l.removeEdit(modelId, ids[0], 'drop', undefined, { expectedHead: h0 }),
      ]) {
        const e = errorOf(write);
        expect(e.code).toBe('head_moved');
        expect(e.message).toMatch(new RegExp(`head was event ${h0}, is now ${l.head(modelId)}`));
      }
      expect(count()).toBe(n);
      // with the current head they go through
      expect(l.revertTo(modelId, 1, undefined, { expectedHead: l.head(modelId) }).deactivated).toHaveLength(2);
    } finally {
      l.close();
    }
  });
});

describe('the head an edit was computed on', () => {
  it('two connections: an edit computed on a live set the other one changed since is refused (no interleaved history)', () => {
    const file = path.join(dir, 'two-conn.sqlite');
    const { l: a, modelId } = newLedger(file, 1);
    const b = openLedger(file); // same process: shares the writer lock, so only the head check stands between them
    try {
      // both rebuild their models from the ledger (reading the live set records the head they compute on)
      a.liveFactors(modelId);
      b.liveEdits(modelId);
      const first = b.recordEdit(modelId, result('b1', [delta(1, 21)]));
      expect(b.db.prepare('SELECT base_event_id FROM edits WHERE id = ?').get(first.editId)).toEqual({ base_event_id: first.eventId - 1 });
      // a's model does not have b's edit: recording on it would describe a history that never happened
      const e = errorOf(() => a.recordEdit(modelId, result('a1', [delta(1, 22)])));
      expect(e.code).toBe('head_moved');
      expect(e.message).toMatch(/changed since this connection read it/);
      expect(() => a.revertTo(modelId, 0)).toThrow(/changed since this connection read it/);
      // b keeps going on its own head; a goes on after rebuilding
      b.recordEdit(modelId, result('b2', [delta(1, 23)]));
      a.liveFactors(modelId);
      const ok = a.recordEdit(modelId, result('a1', [delta(1, 22)]));
      expect(a.history(modelId).edits.map((x) => x.seq)).toEqual([1, 2, 3, 4]);
      expect(ok.seq).toBe(4);
    } finally {
      b.close();
      a.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------ processes

function script(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `import { openLedger } from ${JSON.stringify(STORE)};\n${body}`);
  return f;
}

/** Start a child that opens `file` for writing and holds it until killed; resolves once it holds the lock. */
function holder(file: string): Promise<ChildProcess> {
  const f = script('hold.ts', `const l = openLedger(${JSON.stringify(file)}); process.stdout.write('HOLDING\\n'); setInterval(() => {}, 1000);`);
  const child = spawn(process.execPath, ['--import', 'tsx', f, '--holder-marker'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('HOLDING')) resolve(child);
    });
    child.stderr!.on('data', (d) => (err += d));
    child.on('exit', (c) => reject(new Error(`holder exited ${c}: ${err}`)));
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('one writer per ledger', () => {
  it('a second writer process is refused, naming the holder; a SIGKILLed holder frees the lock', async () => {
    const file = path.join(dir, 'two.sqlite');
    newLedger(file).l.close();
    const a = await holder(file);
    try {
      expect(writerLockHolder(file)).toMatchObject({ pid: a.pid, host: os.hostname() });
      // second writer: another process
      const second = script('second.ts', `try { openLedger(${JSON.stringify(file)}); console.log('OPENED'); } catch (e) { console.log(e.code + ' ' + e.message); }`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', second], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout).not.toContain('OPENED');
      expect(r.stdout).toMatch(/^locked /);
      expect(r.stdout).toContain(`pid ${a.pid}`);
      expect(r.stdout).toContain('--holder-marker'); // the holder's command line
      expect(r.stdout).toContain(file);
      // this process too (a different process from the holder)
      const e = errorOf(() => openLedger(file));
      expect(e.code).toBe('locked');
      // readers are not blocked
      const ro = openLedger(file, { readOnly: true });
      expect(ro.listModels()).toHaveLength(1);
      ro.close();
    } finally {
      await killed(a);
    }
    // the kernel released the lock with the process: no stale-lock wait
    expect(writerLockHolder(file)).toBeNull();
    const l = openLedger(file);
    expect(l.integrityCheck()).toEqual([]);
    l.close();
  });

  it('writers in one process share the lock; it is released when the last one closes', async () => {
    const file = path.join(dir, 'shared.sqlite');
    const a = openLedger(file);
    const b = openLedger(file);
    a.close();
    expect(writerLockHolder(file)).toMatchObject({ pid: process.pid });
    b.close();
    expect(writerLockHolder(file)).toBeNull();
  });
});

/** Whether this process may bind-mount a file (root in a container that allows it); tried once on scratch files. */
function canBindMount(): boolean {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-bind-probe-'));
  const [a, b] = [path.join(d, 'a'), path.join(d, 'b')];
  fs.writeFileSync(a, '');
  fs.writeFileSync(b, '');
  try {
    execFileSync('mount', ['--bind', a, b], { stdio: 'ignore' });
    execFileSync('umount', [b], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
}

describe('a second name for the ledger file is refused (issue 19)', () => {
  it('mountinfo mount points are read with their octal escapes undone', () => {
    const info = [
      '22 27 0:21 / /proc rw,relatime - proc proc rw',
      '98 27 8:1 /home/u/l.sqlite /mnt/my\\040ledgers/other.sqlite rw,relatime - ext4 /dev/sda1 rw',
    ].join('\n');
    expect([...mountPoints(info)]).toEqual(['/proc', '/mnt/my ledgers/other.sqlite']);
  });

  it('a hard link is refused for writing and reading, naming the link count; removing it makes the file usable again', () => {
    const file = path.join(dir, 'linked.sqlite');
    newLedger(file).l.close();
    const other = path.join(dir, 'other.sqlite');
    fs.linkSync(file, other);
    for (const f of [file, other]) {
      const w = errorOf(() => openLedger(f));
      expect(w.code).toBe('hard_linked');
      expect(w.message).toContain('has 2 hard links');
      expect(errorOf(() => openLedger(f, { readOnly: true })).code).toBe('hard_linked');
    }
    fs.unlinkSync(other);
    openLedger(file).close();
  });

  it.skipIf(!canBindMount())('a ledger file bind-mounted under another name is refused through both names', () => {
    const file = path.join(dir, 'mounted.sqlite');
    newLedger(file).l.close();
    const other = path.join(dir, 'bound.sqlite');
    fs.writeFileSync(other, '');
    execFileSync('mount', ['--bind', file, other]);
    try {
      const e = errorOf(() => openLedger(other));
      expect(e.code).toBe('hard_linked');
      expect(e.message).toMatch(/a file mounted on its own \(a bind mount\).*independent copy/);
      expect(errorOf(() => openLedger(other, { readOnly: true })).code).toBe('hard_linked');
    } finally {
      execFileSync('umount', [other]);
    }
  });
});

describe('a kill between the last statement and COMMIT leaves no trace', () => {
  for (const op of ['recordEdit', 'revertTo', 'removeEdit'] as const) {
    it(op, () => {
      const file = path.join(dir, `${op}.sqlite`);
      const { l, modelId, ids } = newLedger(file, 2);
      const tables = ['edits', 'edit_factors', 'norm_snapshots', 'events', 'event_edits', 'live_edits'];
      const snapshot = (x: typeof l) => Object.fromEntries(tables.map((t) => [t, (x.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n]));
      const before = snapshot(l);
      const live = l.history(modelId).edits.filter((e) => e.active).map((e) => e.id);
      l.close();
      const call =
        op === 'recordEdit'
          ? `l.recordEdit(${modelId}, ${JSON.stringify(result('x', []))} as any)`
          : op === 'revertTo'
            ? `l.revertTo(${modelId}, 0)`
            : `l.removeEdit(${modelId}, ${ids[0]}, 'replay')`;
      // recordEdit needs a real delta: built in the child (typed arrays do not survive JSON)
      const body =
        op === 'recordEdit'
          ? `const r = ${JSON.stringify(result('x', []))} as any;
             r.deltas = [{ layer: 1, tensor: 'h.1.mlp.c_proj.weight', rank: 1, Ut: new Float32Array(${D}).fill(0.5), Vt: new Float32Array(${DFF}).fill(0.25) }];
             r.norms = [{ layer: 1, tensor: 'h.1.mlp.c_proj.weight', l1: 1, l1Base: 1, l1GrowthPct: 0, fro: 1, maxAbs: 1, relChange: 0, deltaFro: 0, deltaL1: 0, factorNormU: 1, factorNormV: 1 }];
             const l = openLedger(${JSON.stringify(file)}, { beforeCommit: crashBeforeCommit }); l.recordEdit(${modelId}, r); console.log('COMMITTED');`
          : `const l = openLedger(${JSON.stringify(file)}, { beforeCommit: crashBeforeCommit }); ${call}; console.log('COMMITTED');`;
      const f = script(`crash-${op}.ts`, `import { crashBeforeCommit } from ${JSON.stringify(path.join(__dirname, 'crash-hook'))};\n${body}`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', f], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, EAC_TEST_CRASH_BEFORE_COMMIT: op } });
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(r.stdout).not.toContain('COMMITTED');
      // the hook ran inside the open write transaction, after the method's statements
      const line = r.stderr.split('\n').find((x) => x.startsWith('EAC_TEST_CRASH_BEFORE_COMMIT'))!;
      expect(line).toMatch(new RegExp(`^EAC_TEST_CRASH_BEFORE_COMMIT ${op} inTransaction=true \\{`));
      const written = JSON.parse(line.slice(line.indexOf('{')));
      expect(written.eventId).toBeGreaterThan(0);

      const l2 = openLedger(file);
      try {
        expect(l2.integrityCheck()).toEqual([]);
        expect(l2.verifyLiveSet()).toEqual({ missing: [], extra: [] });
        expect(snapshot(l2)).toEqual(before);
        // the event the transaction had written is gone: nothing of it was committed
        expect(l2.db.prepare('SELECT 1 FROM events WHERE id = ?').get(written.eventId)).toBeUndefined();
        expect(l2.history(modelId).edits.filter((e) => e.active).map((e) => e.id)).toEqual(live);
      } finally {
        l2.close();
      }
    });
  }
});

describe('private files', () => {
  it('a new ledger is 0600 in a 0700 folder, with its lock, WAL and shared-memory files 0600', () => {
    const file = path.join(dir, 'private', 'deeper', 'ledger.sqlite');
    const { l } = newLedger(file, 1);
    try {
      const mode = (p: string) => fs.statSync(p).mode & 0o777;
      expect(mode(path.join(dir, 'private'))).toBe(0o700);
      expect(mode(path.dirname(file))).toBe(0o700);
      for (const f of [file, lockFileOf(file), `${file}-wal`, `${file}-shm`]) expect(mode(f), f).toBe(0o600);
    } finally {
      l.close();
    }
  });

  it('the known schema version is the newest migration (002 or later is applied to new ledgers)', () => {
    const l = openLedger(path.join(dir, 'v.sqlite'));
    expect(l.db.pragma('user_version', { simple: true })).toBe(loadMigrations().length);
    expect(l.db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(2);
    l.close();
  });
});

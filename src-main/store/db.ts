// Opening the ledger database.
//
// Writers (openLedger): the file and its folder are created 0600 / 0700; a ledger that cannot be written (read-only
// filesystem or file) is refused first, as such; the header is checked (application_id, user_version, tables)
// reading only, so a foreign or newer file is refused with every byte unchanged; then the writer lock (one writer per
// ledger, see lock.ts), the crash-safety pragmas (WAL, synchronous FULL, foreign keys) and the migrations.
//
// Readers (openLedger(file, { readOnly: true })): the file must exist; no lock, no migration, nothing written, and
// nothing left beside the ledger. That last part needs care because ledgers are in WAL mode, and SQLite reads a WAL
// database through its -wal and -shm files: a `readonly` connection creates them when they are missing and, being
// read-only, cannot remove them again at close (so `eac ledger list` left two files behind), and where they are
// missing and cannot be created (read-only folder or mount) it cannot open the database at all (SQLITE_CANTOPEN).
// `immutable=1` would avoid both, but it is a URI parameter and this better-sqlite3 build has URIs off
// (SQLITE_USE_URI=0; only an environment variable read when the addon loads turns them on). So, by case:
//   - not in WAL mode (header bytes 18/19 != 2), or its -wal and -shm both exist (a writer has it open, or crashed):
//     a plain read-only connection; it creates nothing (a rollback-journal database needs no side files; the
//     existing ones are the writer's to manage);
//   - WAL with neither file, ledger and folder writable, disk not full: a read-write connection with PRAGMA
//     query_only. It creates the -wal / -shm it needs and, as the last connection, SQLite removes them at close;
//     with no WAL frames there is nothing to checkpoint, so the ledger's bytes stay as they were (and query_only
//     refuses any write statement);
//   - otherwise (a read-only filesystem or mount, mode 0444 for another user, a full disk where the -wal / -shm
//     cannot be made, or one of them left without the other, which SQLite would complete or remove): a private
//     snapshot copy of the file and its -wal in a fresh 0700 temp folder, opened read-only and removed with the
//     folder at close. The file plus its -wal hold every committed transaction, so the copy is the whole ledger.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { EacError } from '../engine/errors';
import { kindOf } from '../engine/fs-safe';
import { mkdirsOnce } from '../engine/paths';
import { diskFull, ledgerIoError, notWritableError, readable, whyNotWritable } from './io-errors';
import { Ledger, LedgerError, LedgerOptions } from './ledger';
import { acquireWriterLock, refuseAliases, type WriterLock } from './lock';
import { checkLedgerHeader, findMigrationsDir, loadMigrations, migrate, MigrationReport } from './migrate';

export interface OpenLedgerOptions extends LedgerOptions {
  /** Folder of NNN_name.sql files; default: migrations/ at the package root. */
  migrationsDir?: string;
  /** Milliseconds to wait for another connection's write lock. Default 10 000. */
  busyTimeoutMs?: number;
  /**
   * Open for reading only: the file must exist; no writer lock, no migration, nothing written (list/show/health
   * reading). An older schema is read as it is.
   */
  readOnly?: boolean;
}

function knownVersion(migrationsDir?: string): number {
  const m = loadMigrations(migrationsDir ?? findMigrationsDir());
  return m.length ? m[m.length - 1].version : 0;
}

/** Create the folder (0700 for the folders made here) and the file (0600) when missing; never truncates. */
function createPrivate(file: string): void {
  try {
    // not fs.mkdirSync(recursive): it retries forever where mkdir fails with ENOENT under an existing parent (/proc)
    mkdirsOnce(path.dirname(file));
  } catch (e) {
    throw ledgerIoError(e, file, 'write') ?? new LedgerError('io_error', `cannot create the folder of the ledger ${file}: ${(e as Error).message}`);
  }
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw ledgerIoError(e, file, 'write') ?? new LedgerError('io_error', `cannot create the ledger ${file}: ${(e as Error).message}`);
  }
}

/** better-sqlite3's "unable to open database file" and friends, with the path and the likely cause. */
function openError(file: string, e: unknown, readOnly: boolean): LedgerError {
  const msg = (e as Error).message;
  if (!fs.existsSync(file)) return new LedgerError('not_found', `the ledger ${file} does not exist`);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(file);
  } catch {
    /* reported below */
  }
  if (st && !st.isFile()) return new LedgerError('not_ledger', `cannot open the ledger ${file}: it is not a regular file`);
  return (
    ledgerIoError(e, file, readOnly ? 'read' : 'open') ??
    new LedgerError('open_failed', `cannot open the ledger ${file}${readOnly ? ' for reading' : ''}: ${msg}`, { cause: e })
  );
}

function pragmas(db: Database.Database, file: string, busyTimeoutMs: number | undefined): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs ?? 10_000))}`);
  let mode: unknown;
  try {
    mode = db.pragma('journal_mode = WAL', { simple: true });
  } catch (e) {
    throw (file !== ':memory:' && ledgerIoError(e, file, 'write')) || e;
  }
  if (file !== ':memory:' && String(mode).toLowerCase() !== 'wal')
    throw new LedgerError('io_error', `could not switch ${file} to WAL journal mode (got ${mode})`);
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  if (db.pragma('foreign_keys', { simple: true }) !== 1) throw new LedgerError('io_error', 'SQLite refused to enable foreign keys');
}

/**
 * Open a connection with the ledger's pragmas (no migration, no writer lock). The header is checked first, so a
 * foreign or newer file is refused unchanged.
 */
export function openDatabase(file: string, opts: { busyTimeoutMs?: number; migrationsDir?: string } = {}): Database.Database {
  const abs = file === ':memory:' ? file : path.resolve(file);
  if (abs !== ':memory:') createPrivate(abs);
  let db: Database.Database;
  try {
    db = new Database(abs);
  } catch (e) {
    throw openError(abs, e, false);
  }
  try {
    checkLedgerHeader(db, knownVersion(opts.migrationsDir), abs);
    pragmas(db, abs, opts.busyTimeoutMs);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Refuse an existing `file` that is not a regular file (a FIFO, a device, a folder; symlinks followed) before SQLite
 * opens it: SQLite's open blocks forever on a FIFO with no writer (`eac ledger list --db fifo` hung).
 */
function mustBeRegularFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ledgerIoError(e, file, 'read') ?? new LedgerError('open_failed', `cannot open the ledger ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!st.isFile())
    throw new LedgerError('not_ledger', `${file} is ${kindOf(st)}, not a regular file: not an EAC Studio ledger; pass the ledger file itself`);
}

/** The header says WAL journal mode (file format version bytes 18 and 19 are 2); false for anything unreadable. */
function isWalFile(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const h = Buffer.alloc(20);
    return fs.readSync(fd, h, 0, 20, 0) === 20 && h.toString('latin1', 0, 16) === 'SQLite format 3\0' && h[18] === 2 && h[19] === 2;
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/**
 * A private copy of the ledger (and its -wal, when there is one) in a fresh 0700 temp folder, for reading a WAL ledger
 * where SQLite could not without writing beside it (see the header). Returns the copy and its remover.
 */
function snapshot(file: string): { copy: string; remove: () => void } {
  let dir: string | null = null;
  const remove = () => dir !== null && fs.rmSync(dir, { recursive: true, force: true });
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eac-ledger-read-'));
    const copy = path.join(dir, 'ledger.sqlite');
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    // the copies keep the source's mode (0444, say): make them the private, writable files SQLite expects
    for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o600);
    return { copy, remove };
  } catch (e) {
    remove();
    const c = (e as NodeJS.ErrnoException).code;
    if (c === 'ENOSPC' || c === 'EDQUOT')
      throw new LedgerError(
        'disk_full', `cannot read the ledger ${file}: it cannot be read in place without writing beside it, and the temporary folder ` +
          `${os.tmpdir()} has no space for a copy; free space there (or set TMPDIR to a folder with space) and run again`,
        { cause: e },
      );
    // the ledger (or its -wal) unreadable for this user, rather than the temporary folder unwritable
    if ((c === 'EACCES' || c === 'EPERM') && (!readable(file) || (fs.existsSync(`${file}-wal`) && !readable(`${file}-wal`))))
      throw ledgerIoError(e, file, 'read') ?? e;
    throw new LedgerError(
      'io_error', `cannot read the ledger ${file}: it cannot be read in place without writing beside it, and a private copy in the ` +
        `temporary folder ${os.tmpdir()} failed (${(e as Error).message}); set TMPDIR to a writable folder with space and run again`,
      { cause: e },
    );
  }
}

/** Open `file` read-only (or read-write with query_only, see the header) and check its header; closes it on failure. */
function readConnection(file: string, shownAs: string, opts: OpenLedgerOptions, how: 'readonly' | 'query_only'): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: how === 'readonly', fileMustExist: true });
  } catch (e) {
    throw openError(shownAs, e, true);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
    if (how === 'query_only') db.pragma('query_only = 1');
    const { fresh } = checkLedgerHeader(db, knownVersion(opts.migrationsDir), shownAs);
    if (fresh) throw new LedgerError('not_ledger', `${shownAs} is empty: not an EAC Studio ledger yet (nothing has been recorded in it)`);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/** A read-only connection to an existing ledger (checked header; nothing is written, nothing left beside it). */
function openReadOnly(file: string, opts: OpenLedgerOptions): Ledger {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new LedgerError('not_found', `the ledger ${abs} does not exist`);
  mustBeRegularFile(abs);
  refuseAliases(abs);
  const ledger = (db: Database.Database, onClose?: () => void) => new Ledger(db, { ...opts, file: abs, readOnly: true, onClose });
  const wal = fs.existsSync(`${abs}-wal`);
  const shm = fs.existsSync(`${abs}-shm`);
  if (!isWalFile(abs) || (wal && shm)) return ledger(readConnection(abs, abs, opts, 'readonly'));
  // (on a full disk SQLite may fail half-way through creating the -wal / -shm and leave them: go to the copy at once)
  if (!wal && !shm && !whyNotWritable(abs) && !whyNotWritable(path.dirname(abs)) && !diskFull(path.dirname(abs))) {
    try {
      return ledger(readConnection(abs, abs, opts, 'query_only'));
    } catch (e) {
      // no room for the -wal / -shm: read a copy instead; anything else is the answer
      if ((e as EacError).code !== 'disk_full') throw e;
    }
  }
  const snap = snapshot(abs);
  try {
    return ledger(readConnection(snap.copy, abs, opts, 'readonly'), snap.remove);
  } catch (e) {
    snap.remove();
    throw e;
  }
}

/**
 * Open (creating if needed) and migrate the ledger at `file` for writing, holding its writer lock until
 * Ledger.close(). With `readOnly`, open an existing ledger for reading only.
 */
export function openLedger(file: string, opts: OpenLedgerOptions = {}): Ledger {
  if (opts.readOnly) return openReadOnly(file, opts);
  if (file === ':memory:') {
    const db = openDatabase(file, opts);
    try {
      return new Ledger(db, { ...opts, migration: migrate(db, opts.migrationsDir) });
    } catch (e) {
      db.close();
      throw e;
    }
  }
  const abs = path.resolve(file);
  const known = knownVersion(opts.migrationsDir);
  mustBeRegularFile(abs);
  // a second name of the file (hard link, bind mount: lock.ts) is refused before anything is written beside it
  refuseAliases(abs);
  // a read-only filesystem or file: say so before SQLite fails somewhere less telling (its first read, the lock)
  if (fs.existsSync(abs) ? whyNotWritable(abs) || whyNotWritable(path.dirname(abs)) : whyNotWritable(path.dirname(abs)))
    throw notWritableError(abs);
  // refuse a foreign or newer file before anything (not even the lock file beside it) is written
  if (fs.existsSync(abs)) {
    let probe: Database.Database;
    try {
      probe = new Database(abs, { readonly: true, fileMustExist: true });
    } catch (e) {
      throw openError(abs, e, true);
    }
    try {
      checkLedgerHeader(probe, known, abs);
    } finally {
      probe.close();
    }
  }
  createPrivate(abs);
  let lock: WriterLock;
  try {
    lock = acquireWriterLock(abs);
  } catch (e) {
    // the lock is a small SQLite file beside the ledger: a full disk shows up there first
    if ((e as EacError).code === 'io_error' && diskFull(path.dirname(abs)))
      throw new LedgerError('disk_full', `the disk holding the ledger ${abs} is full (${(e as Error).message}): free space on it, or move the ledger to another disk, then run the command again`, { cause: e });
    throw e;
  }
  let db: Database.Database | null = null;
  try {
    db = openDatabase(abs, opts);
    let report: MigrationReport;
    try {
      report = migrate(db, opts.migrationsDir);
    } catch (e) {
      throw ledgerIoError((e as Error).cause ?? e, abs, 'write') ?? e;
    }
    return new Ledger(db, { ...opts, migration: report, file: abs, lock });
  } catch (e) {
    db?.close();
    lock.release();
    throw e;
  }
}

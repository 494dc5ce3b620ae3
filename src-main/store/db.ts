// Opening the ledger database.
//
// Writers (openLedger): the file and its folder are created 0600 / 0700; the header is checked (application_id,
// user_version, tables) reading only, so a foreign or newer file is refused with every byte unchanged; then the
// writer lock (one writer per ledger, see lock.ts), the crash-safety pragmas (WAL, synchronous FULL, foreign keys)
// and the migrations. Readers (openLedger(file, { readOnly: true })): fileMustExist, read-only connection, the same
// header check, no lock, no migration, no pragma that writes.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { mkdirsOnce } from '../engine/paths';
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
    throw new LedgerError('io_error', `cannot create the folder of the ledger ${file}: ${(e as Error).message}`);
  }
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LedgerError('io_error', `cannot create the ledger ${file}: ${(e as Error).message}`);
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
  return new LedgerError(
    'open_failed', `cannot open the ledger ${file}${readOnly ? ' for reading' : ''}: ${msg}` +
      (/unable to open/i.test(msg) ? ` (check that the file and its folder ${path.dirname(file)} are readable${readOnly ? '' : ' and writable'})` : ''),
  );
}

function pragmas(db: Database.Database, file: string, busyTimeoutMs: number | undefined): void {
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs ?? 10_000))}`);
  const mode = db.pragma('journal_mode = WAL', { simple: true });
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

/** A read-only connection to an existing ledger (checked header; nothing is written). */
function openReadOnly(file: string, opts: OpenLedgerOptions): Ledger {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new LedgerError('not_found', `the ledger ${abs} does not exist`);
  refuseAliases(abs);
  let db: Database.Database;
  try {
    db = new Database(abs, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw openError(abs, e, true);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
    const { fresh } = checkLedgerHeader(db, knownVersion(opts.migrationsDir), abs);
    if (fresh) throw new LedgerError('not_ledger', `${abs} is empty: not an EAC Studio ledger yet (nothing has been recorded in it)`);
  } catch (e) {
    db.close();
    throw e;
  }
  return new Ledger(db, { ...opts, file: abs, readOnly: true });
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
  // refuse a foreign or newer file, or a second name of one (lock.ts), before anything (not even the lock file beside
  // it) is written
  refuseAliases(abs);
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
  const lock: WriterLock = acquireWriterLock(abs);
  let db: Database.Database | null = null;
  try {
    db = openDatabase(abs, opts);
    const report: MigrationReport = migrate(db, opts.migrationsDir);
    return new Ledger(db, { ...opts, migration: report, file: abs, lock });
  } catch (e) {
    db?.close();
    lock.release();
    throw e;
  }
}

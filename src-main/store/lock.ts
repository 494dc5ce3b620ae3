// One writer per ledger: an OS-level lock held for as long as a writable Ledger is open.
//
// Why SQLite and not a lock-file package: the lock must vanish the moment its holder dies (SIGKILL, power loss,
// OOM) without any staleness guess. proper-lockfile and lockfile use mkdir/O_EXCL files plus an mtime heartbeat,
// so a crashed holder blocks the next writer until the staleness timeout passes, and a slow-but-alive holder can be
// declared stale and robbed. Node has no flock/fcntl of its own and the packages that add one (fs-ext, ...) are
// native addons of their own. better-sqlite3 is already here and SQLite's unix VFS takes real fcntl() byte-range
// locks (LockFileEx on Windows): the kernel drops them when the process exits, however it exits. So the lock is a
// tiny SQLite file beside the ledger, `<ledger>.lock`, on which the holder keeps a write transaction open
// (BEGIN IMMEDIATE = SQLite's RESERVED lock). A second writer's BEGIN IMMEDIATE fails at once with SQLITE_BUSY; it
// can still read the holder row (RESERVED lets readers in) and name the holder in its error.
//
// Within one process, writers share the lock (reference counted per real path): fcntl locks belong to the process,
// and two connections of one process on one ledger are kept consistent by the head check of Ledger.recordEdit.
// The lock file is never deleted: deleting a file another process has open and locked would let a third process
// create a new file and lock that one too.
//
// Which names reach one lock (issue 19): the lock belongs to the ledger's real path. A symlink is resolved
// (realpath) before the lock file is named, and a bind mount of the ledger's folder shows the same `.lock` file under
// both names, so both reach the one lock. A hard link does not: `ln ledger.sqlite other.sqlite` gives one file two
// real paths. A ledger with more than one hard link is refused outright (refuseAliases), for readers and writers,
// rather than keying the lock by the file's identity (st_dev + st_ino) in a per-user folder, because an identity lock
// would still leave two histories: SQLite names its write-ahead log and shared-memory index after the path
// (`<name>-wal`, `<name>-shm`), so commits made through one name are invisible through the other until a checkpoint,
// and a checkpoint through one name overwrites pages the other's log still refers to. Only one name per file keeps
// one history. The lock beside the ledger also keeps working across users and across hosts on a network folder,
// which a lock in a per-user folder would not. The one alias a link count does not show is a bind mount of the file
// itself (`mount --bind ledger.sqlite /elsewhere/other.sqlite`, link count 1): on Linux a ledger that is a mount
// point in /proc/self/mountinfo is refused for the same reason.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LedgerError } from './ledger-error';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface WriterLock {
  readonly file: string;
  release(): void;
}

interface Held {
  db: Database.Database;
  refs: number;
}

const held = new Map<string, Held>();

/** The real path of `file`, or of its folder joined with its name when the file does not exist yet. */
function realKey(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

/** Mount points listed in a /proc/self/mountinfo text (field 5, with its octal escapes such as \040 undone). */
export function mountPoints(mountinfo: string): Set<string> {
  const out = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4) out.add(f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

function isMountPoint(realFile: string): boolean {
  let info: string;
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false; // not Linux: no such file to ask
  }
  return mountPoints(info).has(realFile);
}

/**
 * Refuse a ledger file that another name reaches (see the top of this file for why): more than one hard link, or a
 * file bind-mounted on its own. Each name would get its own write-ahead log, and the writer lock of one name would
 * not cover the other. Says how to get out: use an independent copy.
 */
export function refuseAliases(ledgerFile: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(ledgerFile);
  } catch {
    return; // a missing file has no other names; the open reports what is wrong with it
  }
  if (st.isFile() && isMountPoint(realKey(ledgerFile)))
    throw new LedgerError(
      'hard_linked',
      `the ledger ${ledgerFile} is a file mounted on its own (a bind mount), so it has another name elsewhere; ` +
        `SQLite keeps a separate log per name, so writing through two names would give one file two histories: ` +
        `make an independent copy (cp ${ledgerFile} NEW.sqlite, while no program has it open) and use that`,
    );
  if (st.isFile() && st.nlink > 1)
    throw new LedgerError(
      'hard_linked',
      `the ledger ${ledgerFile} has ${st.nlink} hard links (another name refers to the same file, e.g. made by \`ln\`); ` +
        `SQLite keeps a separate log per name, so writing through two names would give one file two histories: ` +
        `remove the other names, or make an independent copy (cp ${ledgerFile} NEW.sqlite, while no program has it open) and use that`,
      { detail: { links: st.nlink } },
    );
}

export function lockFileOf(ledgerFile: string): string {
  return `${ledgerFile}.lock`;
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: string })?.code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

function readHolder(lockFile: string): LockHolder | null {
  let db: Database.Database | null = null;
  try {
    db = new Database(lockFile, { readonly: true, fileMustExist: true, timeout: 2000 });
    const r = db.prepare('SELECT pid, host, command, since FROM holder LIMIT 1').get() as LockHolder | undefined;
    return r ?? null;
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

function describeHolder(h: LockHolder | null): string {
  if (!h) return 'another process (it has not written its name yet)';
  const self = h.pid === process.pid && h.host === os.hostname() ? ', this process' : '';
  return `pid ${h.pid}${h.host !== os.hostname() ? ` on ${h.host}` : ''}${self} (${h.command}), since ${h.since}`;
}

function lockedError(ledgerFile: string, lockFile: string): LedgerError {
  return new LedgerError(
    'locked', `the ledger ${ledgerFile} is open for writing by ${describeHolder(readHolder(lockFile))}; ` +
      `only one writer at a time: close the other program or wait for it to finish`,
  );
}

/** The command line that names this process in a holder row (bounded). */
function commandLine(): string {
  const argv = process.argv.slice(1).map((a, i) => (i === 0 ? path.basename(a) : a));
  const s = [path.basename(process.argv0 || process.execPath), ...argv].join(' ');
  return s.length > 300 ? s.slice(0, 297) + '...' : s;
}

/**
 * Take the writer lock of `ledgerFile` (creating `<ledgerFile>.lock`, mode 0600, when missing). Throws LedgerError
 * 'locked', naming the holder (pid, host, command line, since when), when another process holds it.
 */
export function acquireWriterLock(ledgerFile: string): WriterLock {
  const key = realKey(ledgerFile);
  refuseAliases(key);
  const lockFile = lockFileOf(key);
  let h = held.get(key);
  if (!h) {
    // O_EXCL create: when the file exists, never open and close an fd on it here: closing any fd of a file drops
    // every fcntl lock this process holds on it (another thread of this process may hold one)
    try {
      fs.closeSync(fs.openSync(lockFile, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_RDWR, 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new LedgerError('io_error', `cannot create the writer lock ${lockFile}: ${(e as Error).message}`);
    }
    let db: Database.Database;
    try {
      db = new Database(lockFile, { timeout: 0 });
    } catch (e) {
      throw new LedgerError('io_error', `cannot open the writer lock ${lockFile}: ${(e as Error).message}`);
    }
    const begin = () => {
      db.pragma('busy_timeout = 0');
      db.exec('BEGIN IMMEDIATE');
    };
    try {
      db.pragma('journal_mode = DELETE');
      begin();
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, command TEXT NOT NULL, since TEXT NOT NULL)');
      db.exec('DELETE FROM holder');
      db.prepare('INSERT INTO holder (pid, host, command, since) VALUES (?, ?, ?, ?)').run(
        process.pid,
        os.hostname(),
        commandLine(),
        new Date().toISOString(),
      );
      // committing needs readers (a refused writer reading the holder row) out for a moment
      db.pragma('busy_timeout = 2000');
      db.exec('COMMIT');
      // hold RESERVED from now on; another process may have slipped in between COMMIT and here: then it is the holder
      begin();
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
      if (isBusy(e)) throw lockedError(ledgerFile, lockFile);
      throw new LedgerError('io_error', `cannot take the writer lock ${lockFile}: ${(e as Error).message}`);
    }
    h = { db, refs: 0 };
    held.set(key, h);
  }
  h.refs++;
  let released = false;
  const entry = h;
  return {
    file: lockFile,
    release() {
      if (released) return;
      released = true;
      if (--entry.refs > 0) return;
      held.delete(key);
      try {
        if (entry.db.inTransaction) entry.db.exec('ROLLBACK');
      } finally {
        entry.db.close();
      }
    },
  };
}

/** Who holds the writer lock of `ledgerFile` now (null when nobody does). Does not take it. */
export function writerLockHolder(ledgerFile: string): LockHolder | null {
  const key = realKey(ledgerFile);
  const lockFile = lockFileOf(key);
  if (held.has(key)) return readHolder(lockFile);
  if (!fs.existsSync(lockFile)) return null;
  let db: Database.Database | null = null;
  try {
    db = new Database(lockFile, { fileMustExist: true, timeout: 0 });
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return null;
  } catch (e) {
    if (isBusy(e)) return readHolder(lockFile);
    throw e;
  } finally {
    db?.close();
  }
}

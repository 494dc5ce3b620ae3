// What went wrong when the ledger file could not be opened, read or written, told apart: a read-only filesystem or
// file (not_writable), a full disk (disk_full), missing permissions (permission_denied), a file SQLite cannot open
// (open_failed). Each message says what to do. Before this, any failure of the first read after an open was reported
// as "not an EAC Studio ledger", which sent people looking at the wrong problem.
import fs from 'node:fs';
import path from 'node:path';
import { LedgerError } from './ledger-error';

/** The SQLite result code ('SQLITE_FULL', 'SQLITE_READONLY_DBMOVED', ...) or errno code ('ENOSPC', ...) of e. */
function codeOf(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
}

const DISK_FULL = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT']);
const PERMISSION = new Set(['EACCES', 'EPERM', 'SQLITE_PERM', 'SQLITE_AUTH']);

/** Why `p` cannot be written ('is on a read-only filesystem', ...), or null when it can (or does not exist). */
export function whyNotWritable(p: string): string | null {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return null;
  } catch (e) {
    const c = codeOf(e);
    if (c === 'EROFS') return 'is on a read-only filesystem';
    if (c === 'EACCES' || c === 'EPERM') return 'is not writable by this user';
    return null;
  }
}

/** Whether this user may read `p`. */
export function readable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether the filesystem holding `dir` has (next to) no space left: under 256 KiB available. */
export function diskFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize < 256 * 1024;
  } catch {
    return false;
  }
}

/** The ledger `file` (or its folder) cannot be written; `cause` the failure that showed it, if any. */
export function notWritableError(file: string, cause?: unknown): LedgerError {
  const dir = path.dirname(file);
  const fileWhy = fs.existsSync(file) ? whyNotWritable(file) : null;
  const dirWhy = whyNotWritable(dir);
  const what = dirWhy ? `its folder ${dir} ${dirWhy}` : fileWhy ? `the file ${fileWhy}` : `it is read-only (${(cause as Error)?.message ?? 'SQLite refused to write'})`;
  return new LedgerError(
    'not_writable', `cannot write the ledger ${file}: ${what}. Writing commands (edit, revert, remove, export, health --db) need it ` +
      `writable: make it writable (remount read-write, chmod), or copy the ledger to a writable folder and pass the copy. ` +
      `Reading it (eac ledger list / show) works as it is.`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The ledger error for a failed open, read or write of the ledger `file` (`doing` says which), or null when the
 * failure is none of the causes told apart here (the caller keeps its own error then).
 */
export function ledgerIoError(e: unknown, file: string, doing: 'open' | 'read' | 'write'): LedgerError | null {
  if (e instanceof LedgerError) return null;
  const c = codeOf(e);
  const msg = (e as Error)?.message ?? String(e);
  const dir = path.dirname(file);
  if (DISK_FULL.has(c) || (c.startsWith('SQLITE_IOERR') && diskFull(dir)))
    return new LedgerError(
      'disk_full', `the disk holding the ledger ${file} is full (${msg}): free space on it, or move the ledger to another disk and ` +
        `pass it with --db, then run the command again; the step that failed was rolled back`,
      { cause: e },
    );
  if (c.startsWith('SQLITE_READONLY') || c === 'EROFS') return notWritableError(file, e);
  if (doing !== 'read' && (PERMISSION.has(c) || c.startsWith('SQLITE_CANTOPEN')) && (whyNotWritable(dir) || (fs.existsSync(file) && whyNotWritable(file))))
    return notWritableError(file, e);
  if (PERMISSION.has(c))
    return new LedgerError(
      'permission_denied', `permission denied on the ledger ${file} (${msg}): give this user read access to the file and its folder ${dir}` +
        `${doing === 'read' ? '' : ' (and write access, to change it)'}`,
      { cause: e },
    );
  // SQLite says only "unable to open database file": find out whether this user may read the file at all
  if (c.startsWith('SQLITE_CANTOPEN') && fs.existsSync(file) && !readable(file))
    return new LedgerError(
      'permission_denied', `permission denied on the ledger ${file}: this user may not read it; give this user read access to the file ` +
        `and its folder ${dir}${doing === 'read' ? '' : ' (and write access, to change it)'}, or run the command as its owner`,
      { cause: e },
    );
  if (c.startsWith('SQLITE_CANTOPEN'))
    return new LedgerError(
      'open_failed', `cannot open the ledger ${file}${doing === 'read' ? ' for reading' : ''}: ${msg} (check that the file and its folder ` +
        `${dir} exist and are readable${doing === 'read' ? '' : ' and writable'})`,
      { cause: e },
    );
  return null;
}

// Schema migrations: numbered files migrations/NNN_name.sql applied in order, one transaction each.
import { eacErrorClass } from '../engine/errors';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { boundFactorSha256, factorSha256 } from './factors';
import { ledgerIoError } from './io-errors';

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  /** sha256 of the file with line endings normalised to \n */
  checksum: string;
}

export interface MigrationReport {
  /** user_version before */
  from: number;
  /** user_version after */
  to: number;
  applied: { version: number; name: string }[];
}

/**
 * `PRAGMA application_id` of every EAC Studio ledger: the ASCII bytes "EACS" read as a big-endian int32
 * (0x45414353 = 1161904979), stored at offset 68 of the SQLite header. Set by the first migration transaction that
 * runs on a file (ledgers made before it was introduced get it with their next migration or open for writing).
 */
export const LEDGER_APPLICATION_ID = 0x45414353;

/** The database was written by a newer app than this one. */
export class SchemaTooNewError extends eacErrorClass<'schema_too_new'>('SchemaTooNewError') {
  /** The error for a file at schema `dbVersion` read by an app that knows up to `knownVersion` (both kept in detail). */
  static of(dbVersion: number, knownVersion: number, file?: string): SchemaTooNewError {
    return new SchemaTooNewError(
      'schema_too_new',
      `The ledger database ${file ? `${file} ` : ''}has schema version ${dbVersion}, newer than the newest migration this version of EAC Studio ` +
        `knows (${knownVersion}). Update EAC Studio to open it; the database was left untouched.`,
      { detail: { dbVersion, knownVersion, ...(file !== undefined ? { file } : {}) } },
    );
  }
  get dbVersion(): number {
    return this.detail!.dbVersion as number;
  }
  get knownVersion(): number {
    return this.detail!.knownVersion as number;
  }
  get file(): string | undefined {
    return this.detail!.file as string | undefined;
  }
}

/** A migration failed or the file is not a ledger this version can use. code: 'migration' | 'not_ledger'. */
export class MigrationError extends eacErrorClass<'migration' | 'not_ledger'>('MigrationError') {}

/**
 * Decide, reading only, whether `db` may be used as a ledger: an empty file (new ledger), an EAC Studio ledger (our
 * application_id, or a ledger from before application_id with its schema_migrations table) not newer than
 * `knownVersion`. Throws SchemaTooNewError or MigrationError 'not_ledger' otherwise. Runs no statement that writes,
 * so a refused file keeps every byte (callers run it before switching journal modes or migrating).
 */
export function checkLedgerHeader(db: Database.Database, knownVersion: number, file = db.name): { fresh: boolean } {
  let appId: number;
  let version: number;
  let objects: { type: string; name: string }[];
  try {
    appId = db.pragma('application_id', { simple: true }) as number;
    version = db.pragma('user_version', { simple: true }) as number;
    objects = db.prepare(`SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY rowid`).all() as typeof objects;
  } catch (e) {
    // a file that cannot be read (read-only folder without the WAL's side files, permissions, a full disk) is not the
    // same as a file that is not a ledger: only SQLite's "not a database" and "malformed" mean the latter
    const io = ledgerIoError(e, file, 'read');
    if (io) throw io;
    throw new MigrationError('not_ledger', `${file} is not an EAC Studio ledger: ${(e as Error).message}`, { cause: e });
  }
  const ours = appId === LEDGER_APPLICATION_ID;
  if (appId !== 0 && !ours)
    throw new MigrationError(
      'not_ledger', `${file} is not an EAC Studio ledger: its application_id is 0x${(appId >>> 0).toString(16)} (another program's database, ` +
        `EAC Studio's is 0x${LEDGER_APPLICATION_ID.toString(16)}); it was left untouched`,
    );
  const hasMigrations = objects.some((o) => o.type === 'table' && o.name === 'schema_migrations');
  // newer: ours, or a file with nothing but a version (its tables may be what this version does not know)
  if (version > knownVersion && (ours || hasMigrations || objects.length === 0)) throw SchemaTooNewError.of(version, knownVersion, file);
  // every ledger gets its application_id in the transaction that creates its tables: ours without them is damaged
  if (ours && !hasMigrations)
    throw new MigrationError(
      'not_ledger', `${file} carries EAC Studio's application_id but has no schema_migrations table: it is damaged or was not ` +
        `written by EAC Studio; it was left untouched (restore the ledger from a backup)`,
    );
  if (ours) return { fresh: false };
  if (objects.length === 0 && version === 0) return { fresh: true };
  if (version >= 1 && hasMigrations) return { fresh: false };
  const names = objects.filter((o) => o.type === 'table').map((o) => o.name);
  throw new MigrationError(
    'not_ledger', `${file} is not an EAC Studio ledger: it is an SQLite database with user_version ${version}` +
      (names.length ? ` and the tables ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}` : '') +
      ` but no EAC Studio application_id; it was left untouched`,
  );
}

const FILE_RE = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;

function moduleDir(): string {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return process.cwd();
  }
}

/**
 * The migrations folder: walk up from `from` (default: this module's folder) to the nearest folder that has a
 * package.json and a migrations/ folder beside it. Works from src-main/store and from a bundled out/main.
 */
export function findMigrationsDir(from: string = moduleDir()): string {
  const searched: string[] = [];
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      const m = join(dir, 'migrations');
      if (existsSync(m) && statSync(m).isDirectory()) return m;
      searched.push(dir);
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new MigrationError(
    'migration', `cannot find the migrations folder: no package.json with a migrations/ folder beside it above ${from}` +
      (searched.length ? ` (package roots without one: ${searched.join(', ')})` : ''),
  );
}

/** Read and check the migration files: versions unique and contiguous from 1. */
export function loadMigrations(dir: string = findMigrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.sql')) continue;
    const m = FILE_RE.exec(f);
    if (!m) throw new MigrationError('migration', `migration file name "${f}" does not match NNN_name.sql (in ${dir})`);
    const file = join(dir, f);
    const sql = readFileSync(file, 'utf8');
    const checksum = createHash('sha256').update(sql.replace(/\r\n?/g, '\n')).digest('hex');
    out.push({ version: Number(m[1]), name: m[2], file, sql, checksum });
  }
  out.sort((a, b) => a.version - b.version);
  out.forEach((m, i) => {
    if (m.version !== i + 1) {
      const dup = out.find((o) => o !== m && o.version === m.version);
      throw new MigrationError(
        'migration', dup
          ? `two migrations have version ${m.version}: ${dup.file} and ${m.file}`
          : `migration versions must run 1, 2, 3, ... without gaps: expected ${i + 1}, found ${m.file}`,
      );
    }
  });
  return out;
}

function tableExists(db: Database.Database, name: string): boolean {
  return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name);
}

/**
 * Bring the database up to the newest migration. Each migration runs in its own (immediate) transaction together
 * with its schema_migrations row and the PRAGMA user_version bump, so a failure leaves the previous version intact.
 * Refuses (SchemaTooNewError) a database newer than the newest known migration, and a database whose applied
 * migrations were changed since (checksum mismatch).
 */
export function migrate(db: Database.Database, migrationsDir?: string): MigrationReport {
  const migrations = loadMigrations(migrationsDir ?? findMigrationsDir());
  const known = migrations.length ? migrations[migrations.length - 1].version : 0;
  // reading only: a foreign or newer file is refused before anything is written to it
  checkLedgerHeader(db, known);
  const from = db.pragma('user_version', { simple: true }) as number;

  if (tableExists(db, 'schema_migrations')) {
    const rows = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
      checksum: string;
    }[];
    const maxRecorded = rows.length ? rows[rows.length - 1].version : 0;
    if (maxRecorded !== from)
      throw new MigrationError(
        'migration', `inconsistent ledger database: PRAGMA user_version is ${from} but schema_migrations records version ${maxRecorded}`,
      );
    for (const r of rows) {
      const m = migrations.find((x) => x.version === r.version);
      if (m && m.checksum !== r.checksum)
        throw new MigrationError(
          'migration', `migration ${r.version}_${r.name} was applied to this database but ${m.file} has changed since; ` +
            `add a new migration instead of editing an applied one`,
        );
    }
  } else if (from !== 0) {
    throw new MigrationError('not_ledger', `not an EAC Studio ledger: PRAGMA user_version is ${from} but there is no schema_migrations table`);
  }

  // 002_integrity backfills factor checksums with this function (the same hash Ledger.recordEdit writes)
  db.function('eac_factor_sha256', { deterministic: true }, (ut: unknown, vt: unknown) =>
    factorSha256(ut as Uint8Array, vt as Uint8Array),
  );
  // 004_factor_binding binds each row's checksum to its edit, layer, tensor and shape, but only for a row whose bytes
  // still match the old byte-only sha256: a row tampered with before the upgrade gets NULL (reported as corrupt)
  db.function('eac_factor_bound_sha256', { deterministic: true, varargs: true }, (...a: unknown[]) => {
    if (a.length !== 10) throw new MigrationError('migration', `eac_factor_bound_sha256 takes 10 arguments, got ${a.length}`);
    const [editId, ord, layer, tensor, rank, dOut, dIn, ut, vt, sha] = a as [number, number, number, string, number, number, number, Uint8Array, Uint8Array, string | null];
    if (sha === null || factorSha256(ut, vt) !== sha) return null;
    return boundFactorSha256({ editId, ord, layer, tensor, rank, dOut, dIn }, ut, vt);
  });
  const applied: MigrationReport['applied'] = [];
  for (const m of migrations) {
    if (m.version <= from) continue;
    const run = db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        checksum   TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )`);
      // re-check inside the write lock: another process may have migrated meanwhile
      const now = db.pragma('user_version', { simple: true }) as number;
      if (now >= m.version) return false;
      if (now !== m.version - 1) throw new MigrationError('migration', `cannot apply migration ${m.version} to a database at version ${now}`);
      try {
        db.exec(m.sql);
      } catch (e) {
        throw new MigrationError('migration', `migration ${m.version}_${m.name} failed: ${(e as Error).message}`, { cause: e });
      }
      db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        m.version,
        m.name,
        m.checksum,
        new Date().toISOString(),
      );
      db.pragma(`user_version = ${m.version}`);
      db.pragma(`application_id = ${LEDGER_APPLICATION_ID}`);
      return true;
    });
    if (run.immediate()) applied.push({ version: m.version, name: m.name });
  }
  // a ledger from before application_id that needed no migration: claim it now
  if ((db.pragma('application_id', { simple: true }) as number) !== LEDGER_APPLICATION_ID && !db.readonly)
    db.transaction(() => db.pragma(`application_id = ${LEDGER_APPLICATION_ID}`)).immediate();
  return { from, to: db.pragma('user_version', { simple: true }) as number, applied };
}

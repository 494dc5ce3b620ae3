// Schema migrations: numbered files migrations/NNN_name.sql applied in order, one transaction each.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { factorSha256 } from './factors';

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

/** The database was written by a newer app than this one. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly dbVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `The ledger database has schema version ${dbVersion}, newer than the newest migration this version of EAC Studio ` +
        `knows (${knownVersion}). Update EAC Studio to open it; the database was left untouched.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
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
    `cannot find the migrations folder: no package.json with a migrations/ folder beside it above ${from}` +
      (searched.length ? ` (package roots without one: ${searched.join(', ')})` : ''),
  );
}

/** Read and check the migration files: versions unique and contiguous from 1. */
export function loadMigrations(dir: string = findMigrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.sql')) continue;
    const m = FILE_RE.exec(f);
    if (!m) throw new MigrationError(`migration file name "${f}" does not match NNN_name.sql (in ${dir})`);
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
        dup
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
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > known) throw new SchemaTooNewError(from, known);

  if (tableExists(db, 'schema_migrations')) {
    const rows = db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as {
      version: number;
      name: string;
      checksum: string;
    }[];
    const maxRecorded = rows.length ? rows[rows.length - 1].version : 0;
    if (maxRecorded !== from)
      throw new MigrationError(
        `inconsistent ledger database: PRAGMA user_version is ${from} but schema_migrations records version ${maxRecorded}`,
      );
    for (const r of rows) {
      const m = migrations.find((x) => x.version === r.version);
      if (m && m.checksum !== r.checksum)
        throw new MigrationError(
          `migration ${r.version}_${r.name} was applied to this database but ${m.file} has changed since; ` +
            `add a new migration instead of editing an applied one`,
        );
    }
  } else if (from !== 0) {
    throw new MigrationError(`not an EAC Studio ledger: PRAGMA user_version is ${from} but there is no schema_migrations table`);
  }

  // 002_integrity backfills factor checksums with this function (the same hash Ledger.recordEdit writes)
  db.function('eac_factor_sha256', { deterministic: true }, (ut: unknown, vt: unknown) =>
    factorSha256(ut as Uint8Array, vt as Uint8Array),
  );
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
      if (now !== m.version - 1) throw new MigrationError(`cannot apply migration ${m.version} to a database at version ${now}`);
      try {
        db.exec(m.sql);
      } catch (e) {
        throw new MigrationError(`migration ${m.version}_${m.name} failed: ${(e as Error).message}`);
      }
      db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
        m.version,
        m.name,
        m.checksum,
        new Date().toISOString(),
      );
      db.pragma(`user_version = ${m.version}`);
      return true;
    });
    if (run.immediate()) applied.push({ version: m.version, name: m.name });
  }
  return { from, to: db.pragma('user_version', { simple: true }) as number, applied };
}

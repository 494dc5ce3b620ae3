import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, openLedger } from '../../src-main/store/db';
import { findMigrationsDir, loadMigrations, migrate, MigrationError, SchemaTooNewError } from '../../src-main/store/migrate';

const REPO_MIGRATIONS = resolve(__dirname, '../../migrations');
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'eac-migrate-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const tables = (db: Database.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);

describe('migrations', () => {
  it('finds the repository migrations folder from the module and from a bundled out/ folder', () => {
    expect(findMigrationsDir()).toBe(REPO_MIGRATIONS);
    const root = tempDir();
    writeFileSync(join(root, 'package.json'), '{"name":"x"}');
    mkdirSync(join(root, 'migrations'));
    mkdirSync(join(root, 'out', 'main'), { recursive: true });
    expect(findMigrationsDir(join(root, 'out', 'main'))).toBe(join(root, 'migrations'));
    // a nested package.json without migrations/ (e.g. written by a bundler) is skipped
    writeFileSync(join(root, 'out', 'package.json'), '{"type":"module"}');
    expect(findMigrationsDir(join(root, 'out', 'main'))).toBe(join(root, 'migrations'));
    expect(() => findMigrationsDir(tmpdir())).toThrow(/cannot find the migrations folder/);
  });

  it('apply once, in a transaction each, and are idempotent', () => {
    const file = join(tempDir(), 'sub', 'ledger.db');
    const l1 = openLedger(file);
    const known = loadMigrations().length;
    expect(l1.migration).toMatchObject({ from: 0, to: known });
    expect(l1.migration!.applied.map((a) => a.version)).toEqual(Array.from({ length: known }, (_, i) => i + 1));
    expect(l1.migration!.applied[0]).toEqual({ version: 1, name: 'init' });
    expect(l1.db.pragma('user_version', { simple: true })).toBe(known);
    expect(tables(l1.db)).toEqual(
      expect.arrayContaining(['models', 'queues', 'queue_items', 'edits', 'edit_factors', 'norm_snapshots', 'events', 'event_edits', 'live_edits', 'health_runs', 'schema_migrations']),
    );
    const rows = l1.db.prepare('SELECT version, name, checksum, applied_at FROM schema_migrations').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(known);
    expect(rows[0]).toMatchObject({ version: 1, name: 'init' });
    expect(String(rows[0].checksum)).toMatch(/^[0-9a-f]{64}$/);
    l1.close();

    const l2 = openLedger(file);
    expect(l2.migration).toMatchObject({ from: known, to: known, applied: [] });
    expect(l2.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: known });
    // running the runner again on an open connection is a no-op too
    expect(migrate(l2.db).applied).toEqual([]);
    expect(l2.integrityCheck()).toEqual([]);
    expect(l2.db.pragma('integrity_check', { simple: true })).toBe('ok');
    l2.close();
  });

  it('refuses a database newer than the newest known migration, naming both versions, and leaves it untouched', () => {
    const file = join(tempDir(), 'future.db');
    const raw = new Database(file);
    raw.pragma('user_version = 99');
    raw.close();
    let err: unknown;
    try {
      openLedger(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toMatch(/schema version 99/);
    const known = loadMigrations().length;
    expect((err as Error).message).toContain(`(${known})`);
    expect(err).toMatchObject({ dbVersion: 99, knownVersion: known });
    const after = new Database(file);
    expect(after.pragma('user_version', { simple: true })).toBe(99);
    expect(tables(after)).toEqual([]);
    after.close();
  });

  it('opens with WAL, foreign keys, synchronous FULL and a busy timeout', () => {
    const l = openLedger(join(tempDir(), 'p.db'), { busyTimeoutMs: 4321 });
    expect(l.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(l.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(l.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(l.db.pragma('busy_timeout', { simple: true })).toBe(4321);
    // foreign keys are enforced
    expect(() => l.db.prepare(`INSERT INTO queues (model_id, name, method, profile_json, created_at) VALUES (12345, 'q', 'rome', '{}', 'now')`).run()).toThrow(
      /FOREIGN KEY/,
    );
    l.close();
  });

  it('a failing migration rolls back completely (user_version and schema_migrations included)', () => {
    const mig = tempDir();
    copyFileSync(join(REPO_MIGRATIONS, '001_init.sql'), join(mig, '001_init.sql'));
    writeFileSync(join(mig, '002_broken.sql'), 'CREATE TABLE half_done (x INTEGER);\nALTER TABLE no_such_table ADD COLUMN y INTEGER;\n');
    const db = openDatabase(join(tempDir(), 'b.db'));
    expect(() => migrate(db, mig)).toThrow(/migration 2_broken failed/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(tables(db)).not.toContain('half_done');
    expect(db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get()).toEqual({ v: 1 });
    // fixed: applies on the next run
    writeFileSync(join(mig, '002_broken.sql'), 'CREATE TABLE half_done (x INTEGER);\n');
    expect(migrate(db, mig)).toMatchObject({ from: 1, to: 2, applied: [{ version: 2, name: 'broken' }] });
    expect(tables(db)).toContain('half_done');
    db.close();
  });

  it('rejects bad migration folders and edited applied migrations', () => {
    const gap = tempDir();
    writeFileSync(join(gap, '001_a.sql'), 'SELECT 1;');
    writeFileSync(join(gap, '003_c.sql'), 'SELECT 1;');
    expect(() => loadMigrations(gap)).toThrow(/without gaps/);
    const dup = tempDir();
    writeFileSync(join(dup, '001_a.sql'), 'SELECT 1;');
    writeFileSync(join(dup, '001_b.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dup)).toThrow(/two migrations have version 1/);
    const badName = tempDir();
    writeFileSync(join(badName, 'init.sql'), 'SELECT 1;');
    expect(() => loadMigrations(badName)).toThrow(MigrationError);

    const mig = tempDir();
    writeFileSync(join(mig, '001_a.sql'), 'CREATE TABLE a (x INTEGER);\n');
    const db = openDatabase(join(tempDir(), 'c.db'));
    migrate(db, mig);
    // line-ending changes do not count as edits
    writeFileSync(join(mig, '001_a.sql'), 'CREATE TABLE a (x INTEGER);\r\n');
    expect(migrate(db, mig).applied).toEqual([]);
    writeFileSync(join(mig, '001_a.sql'), 'CREATE TABLE a (x INTEGER, y TEXT);\n');
    expect(() => migrate(db, mig)).toThrow(/has changed since/);
    db.close();
    expect(readdirSync(REPO_MIGRATIONS).every((f) => /^\d+_[A-Za-z0-9_-]+\.sql$/.test(f))).toBe(true);
  });

  it('refuses a foreign database that has a user_version but no schema_migrations', () => {
    const file = join(tempDir(), 'f.db');
    const raw = new Database(file);
    raw.pragma('user_version = 1');
    raw.close();
    expect(() => openLedger(file)).toThrow(/not an EAC Studio ledger/);
  });
});

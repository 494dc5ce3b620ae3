// The edit ledger (SQLite): open with openLedger(file); see ledger.ts for the repository API.
export { openLedger, openDatabase } from './db';
export type { OpenLedgerOptions } from './db';
export { Ledger, LedgerError } from './ledger';
export type { LedgerOptions } from './ledger';
export { QueueStore } from './queue-store';
export type { QueueStoreHost } from './queue-store';
export { acquireWriterLock, writerLockHolder, lockFileOf, mountPoints } from './lock';
export type { LockHolder, WriterLock } from './lock';
export { concatFactors, decodeF32, encodeF32, factorSha256 } from './factors';
export {
  migrate,
  loadMigrations,
  findMigrationsDir,
  checkLedgerHeader,
  LEDGER_APPLICATION_ID,
  SchemaTooNewError,
  MigrationError,
} from './migrate';
export type { Migration, MigrationReport } from './migrate';
export * from './types';

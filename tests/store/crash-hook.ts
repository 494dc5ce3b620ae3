// The crash-safety tests' ledger hook (LedgerOptions.beforeCommit): with EAC_TEST_CRASH_BEFORE_COMMIT=<method>[,...]
// (e.g. recordEdit) set, the process SIGKILLs itself inside that method's write transaction, after its last statement
// and before COMMIT, having written one line "EAC_TEST_CRASH_BEFORE_COMMIT <method> inTransaction=<bool> <result
// json>" to stderr. The variable is read at each commit, so a child can set it after opening its workspace (a replay
// at open must not trip it); unset, the hook does nothing.
import fs from 'node:fs';
import type Database from 'better-sqlite3';

export function crashBeforeCommit(op: string, result: unknown, db: Database.Database): void {
  const want = process.env.EAC_TEST_CRASH_BEFORE_COMMIT;
  if (!want || !want.split(',').includes(op)) return;
  let info = '';
  try {
    info = JSON.stringify(result) ?? '';
  } catch {
    /* not serialisable: the op name is enough */
  }
  // synchronous write: the line must be out before the signal lands
  fs.writeSync(2, `EAC_TEST_CRASH_BEFORE_COMMIT ${op} inTransaction=${db.inTransaction} ${info}\n`);
  process.kill(process.pid, 'SIGKILL');
}

// Hostile files given as a ledger (`eac ledger list --db FILE`): each is opened read-only, its models listed and its
// factors verified. Pure data, like the rest of the corpus: SQLite files are written byte by byte here (a one-page
// database: the 100-byte header and an empty sqlite_master leaf page), never by SQLite or the code under test.
// Besides the outcome, fuzz-child checks that nothing was left beside the file (no -wal / -shm).
import type { FileSpec, FuzzCase } from './corpus';
import { rng, SECRET } from './corpus';

const PAGE = 4096;

/** A valid empty SQLite database of one page, with the given header fields. */
function sqliteFile(o: { applicationId?: number; userVersion?: number; wal?: boolean; pages?: number } = {}): Buffer {
  const b = Buffer.alloc(PAGE * (o.pages ?? 1));
  b.write('SQLite format 3\0', 0, 'latin1');
  b.writeUInt16BE(PAGE, 16);
  // file format write / read versions: 1 = rollback journal, 2 = WAL
  b[18] = o.wal ? 2 : 1;
  b[19] = o.wal ? 2 : 1;
  b[20] = 0; // reserved bytes per page
  b[21] = 64; // max embedded payload fraction
  b[22] = 32; // min embedded payload fraction
  b[23] = 32; // leaf payload fraction
  b.writeUInt32BE(1, 24); // file change counter
  b.writeUInt32BE(o.pages ?? 1, 28); // database size in pages
  b.writeUInt32BE(0, 32); // first freelist trunk page
  b.writeUInt32BE(0, 36); // freelist pages
  b.writeUInt32BE(1, 40); // schema cookie
  b.writeUInt32BE(4, 44); // schema format
  b.writeUInt32BE(0, 48); // default page cache size
  b.writeUInt32BE(0, 52); // largest root b-tree page (no auto-vacuum)
  b.writeUInt32BE(1, 56); // text encoding: UTF-8
  b.writeUInt32BE(o.userVersion ?? 0, 60);
  b.writeUInt32BE(0, 64); // incremental vacuum
  b.writeUInt32BE((o.applicationId ?? 0) >>> 0, 68);
  b.writeUInt32BE(1, 92); // version-valid-for (= change counter)
  b.writeUInt32BE(3045000, 96); // SQLITE_VERSION_NUMBER that wrote it
  // page 1's b-tree header: an empty table leaf (sqlite_master with no rows)
  b[100] = 0x0d;
  b.writeUInt16BE(0, 101); // first freeblock
  b.writeUInt16BE(0, 103); // cells
  b.writeUInt16BE(PAGE, 105); // cell content area starts at the page end
  b[107] = 0; // fragmented free bytes
  return b;
}

const EACS = 0x45414353;
const bytes = (data: Buffer | string): FileSpec => ({ kind: 'bytes', data: Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8') });

export function ledgerCases(seed: number): FuzzCase[] {
  const r = rng(seed);
  const out: FuzzCase[] = [];
  const add = (id: string, files: Record<string, FileSpec>, expect: FuzzCase['expect'], mentions?: string[]) =>
    out.push({ id: `ledger-${id}`, target: 'ledger', files, expect, mentions });
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => r.int(0, 255)));

  add('empty', { 'ledger.sqlite': bytes('') }, { code: 'not_ledger' }, ['is empty']);
  add('text', { 'ledger.sqlite': bytes(`not a database ${SECRET}\n`.repeat(40)) }, { code: 'not_ledger' }, ['ledger.sqlite']);
  for (let i = 0; i < 4; i++) add(`noise-${i}`, { 'ledger.sqlite': bytes(noise(r.int(1, 3 * PAGE))) }, { code: 'not_ledger' });
  // the magic, then noise: SQLite's own header checks
  for (let i = 0; i < 4; i++) {
    const b = Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), noise(PAGE - 16)]);
    if (i % 2) b[18] = b[19] = 2; // claims WAL: the reader must not leave -wal / -shm behind
    add(`magic-noise-${i}${i % 2 ? '-wal' : ''}`, { 'ledger.sqlite': bytes(b) }, { code: 'not_ledger' });
  }
  add('zeros-sparse', { 'ledger.sqlite': { kind: 'sparse', size: 64 * 1024 * 1024 } }, { code: 'not_ledger' });
  add('fifo', { 'ledger.sqlite': { kind: 'fifo' } }, { code: 'not_ledger' }, ['FIFO', 'not a regular file']);
  add('dir', { 'ledger.sqlite': { kind: 'dir' } }, { code: 'not_ledger' }, ['not a regular file']);
  add('dev-zero-link', { 'ledger.sqlite': { kind: 'symlink', target: '/dev/zero' } }, { code: 'not_ledger' }, ['character device']);
  add('dangling-link', { 'ledger.sqlite': { kind: 'symlink', target: 'nowhere.sqlite' } }, { code: 'not_found' });
  // well-formed SQLite files that are not (usable) ledgers
  add('sqlite-empty', { 'ledger.sqlite': bytes(sqliteFile()) }, { code: 'not_ledger' }, ['is empty']);
  add('sqlite-empty-wal', { 'ledger.sqlite': bytes(sqliteFile({ wal: true })) }, { code: 'not_ledger' }, ['is empty']);
  add('sqlite-other-app', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: 1234 })) }, { code: 'not_ledger' }, ['0x4d2']);
  add('sqlite-other-app-wal', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: 0x7fffffff, wal: true })) }, { code: 'not_ledger' }, ['0x7fffffff']);
  add('sqlite-ours-newer', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: EACS, userVersion: 99 })) }, { code: 'schema_too_new' }, ['99']);
  add('sqlite-version-only-newer', { 'ledger.sqlite': bytes(sqliteFile({ userVersion: 1000 })) }, { code: 'schema_too_new' });
  add('sqlite-version-no-tables', { 'ledger.sqlite': bytes(sqliteFile({ userVersion: 2 })) }, { code: 'not_ledger' }, ['user_version 2']);
  // our application_id without the schema: damaged or hand-made (every ledger gets its id and tables together)
  add('sqlite-ours-no-tables', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: EACS, userVersion: 3 })) }, { code: 'not_ledger' }, ['no schema_migrations']);
  add('sqlite-ours-v0-wal', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: EACS, wal: true })) }, { code: 'not_ledger' }, ['no schema_migrations']);
  // a valid-looking file with a hostile -wal beside it (a WAL whose header is noise is ignored by SQLite)
  add('sqlite-garbage-wal-file', { 'ledger.sqlite': bytes(sqliteFile({ wal: true })), 'ledger.sqlite-wal': bytes(noise(2 * PAGE)) }, { code: 'not_ledger' }, ['is empty']);
  // the size in the header larger than the file
  add('sqlite-short', { 'ledger.sqlite': bytes(sqliteFile({ applicationId: 1, pages: 3 }).subarray(0, PAGE)) }, { code: 'not_ledger' });
  return out;
}

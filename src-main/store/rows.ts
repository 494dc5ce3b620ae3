// How the store reads a row back: rows as better-sqlite3 returns them, each table's record built from one list of
// which column each field comes from (rowMapper), JSON columns parsed (NULL stays null). Shared by the ledger's
// history (ledger.ts) and its queues (queue-store.ts).

/** a row's columns are read by name and mapped to a typed record at once (the map* mappers) */
export type Row = Record<string, any>;

export const parse = <T>(s: string | null): T => (s === null ? (null as T) : (JSON.parse(s) as T));

/** Where a record field comes from: a column copied as it is, or a function of the row. */
export type Field = string | ((r: Row) => unknown);

/** A JSON column, parsed; NULL, or a column a ledger of an older schema does not have, reads as null. */
export const json =
  (column: string) =>
  (r: Row): unknown =>
    parse(r[column] ?? null);

/** An INTEGER 0 / 1 column as a boolean. */
export const bool =
  (column: string) =>
  (r: Row): boolean =>
    r[column] === 1;

/** NaN cannot be stored in SQLite (it becomes NULL); a REAL column's NULL reads back as NaN. */
export const real =
  (column: string) =>
  (r: Row): number =>
    r[column] === null ? NaN : r[column];

/** Row → record from the field list of its table: every field of T named once, with its column or rule. */
export function rowMapper<T>(fields: { [K in keyof T]-?: Field }): (r: Row) => T {
  const list = Object.entries(fields) as [string, Field][];
  return (r) => {
    const out: Record<string, unknown> = {};
    for (const [key, f] of list) out[key] = typeof f === 'string' ? r[f] : f(r);
    return out as T;
  };
}

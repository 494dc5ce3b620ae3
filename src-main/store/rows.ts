// How the store reads a row back: rows as better-sqlite3 returns them, JSON columns parsed (NULL stays null).
// Shared by the ledger's history (ledger.ts) and its queues (queue-store.ts).

/** a row's columns are read by name and mapped to a typed record at once (the map* functions) */
export type Row = Record<string, any>;

export const parse = <T>(s: string | null): T => (s === null ? (null as T) : (JSON.parse(s) as T));

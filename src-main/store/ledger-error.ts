// The store's error type, in its own file so that the I/O classification (io-errors.ts) and the ledger can both use it.
import { eacErrorClass } from '../engine/errors';

/** Everything the ledger refuses. `code` is a stable machine-readable tag (default 'ledger'). */
export class LedgerError extends eacErrorClass('LedgerError') {}

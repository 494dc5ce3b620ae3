// The error codes the studio adds to the engine's, and the error a call with bad params gets.
import { eacErrorClass, type ErrorCode } from '../engine/errors';

/** Error codes the studio handlers use on top of the engine's (ENGINE_ERROR_CODES). */
export const STUDIO_ERROR_CODES = {
  badParams: 'bad_params',
  noWorkspace: 'no_workspace',
  hashMismatch: 'hash_mismatch',
  busy: 'busy',
  notFound: 'not_found',
  cancelled: 'cancelled',
  exists: 'exists',
  /** the ledger moved (its head changed) between asking for a destructive action and running it */
  conflict: 'conflict',
} as const satisfies Record<string, ErrorCode>;

export class ContractError extends eacErrorClass<typeof STUDIO_ERROR_CODES.badParams>('ContractError') {}

// The event codec: an engine progress event to a StudioEvent, and the test hosts use on broadcast bodies.
// The event types are in ./contract.ts.
import type { StudioEvent, StudioEventBody } from './contract';

/**
 * Turns an engine ProgressEvent of call `requestId` (method `method`) into a StudioEvent. Only the
 * caller's own progress travels this way; everything every window must see (jobs, queue items,
 * ledger changes) is a broadcast message of the worker protocol (EngineBroadcast in
 * jobs/protocol.ts) carrying a StudioEventBody.
 */
export function toStudioEvent(requestId: number, method: string, pe: { phase: string; fraction: number; message?: string }): StudioEvent {
  return { type: 'progress', requestId, method, phase: pe.phase, fraction: pe.fraction, ...(pe.message !== undefined ? { message: pe.message } : {}) };
}

/** true for the body of a broadcast message that is a StudioEvent (anything else is ignored by hosts). */
export function isStudioEventBody(body: unknown): body is StudioEventBody {
  return !!body && typeof body === 'object' && typeof (body as { type?: unknown }).type === 'string';
}

// Typed calls to the studio API (src-main/api/contract.ts) over whichever transport this window has.
import type { StudioEvent, StudioMethod, StudioParams, StudioResult } from '../../../src-main/api/contract';
import type { EacBridge } from '../../../src-main/api/wire';
import { ApiError } from './api-error';
import { pickBridge } from './transport';

export type ProgressEv = Extract<StudioEvent, { type: 'progress' }>;

// ApiError lives in its own file so transport.ts can reject with it without importing this file (which imports it)
export { ApiError } from './api-error';

export interface CallOptions {
  onProgress?: (p: ProgressEv) => void;
}

export type Pending<T> = Promise<T> & { callId: number; cancel(): Promise<boolean> };

let bridge: EacBridge | null = null;
// call ids: unique per window (time-based start so a reloaded page does not reuse old ids)
let nextId = (Date.now() % 1_000_000) * 1000;
const progressListeners = new Map<number, (p: ProgressEv) => void>();

export function getBridge(): EacBridge {
  if (!bridge) {
    bridge = pickBridge();
    bridge.on('progress', (payload) => {
      const p = payload as ProgressEv;
      progressListeners.get(p.requestId)?.(p);
    });
  }
  return bridge;
}

/** For tests: use a given bridge. */
export function setBridge(b: EacBridge): void {
  bridge = null;
  bridge = b;
  b.on('progress', (payload) => {
    const p = payload as ProgressEv;
    progressListeners.get(p.requestId)?.(p);
  });
}

export function call<M extends StudioMethod>(method: M, params: StudioParams<M>, opts: CallOptions = {}): Pending<StudioResult<M>> {
  const b = getBridge();
  const callId = ++nextId;
  if (opts.onProgress) progressListeners.set(callId, opts.onProgress);
  const p = b
    .call(method, params, callId)
    .then((reply) => {
      if (reply.ok) return reply.result as StudioResult<M>;
      throw new ApiError(reply.error.message, reply.error.code);
    })
    .finally(() => progressListeners.delete(callId));
  return Object.assign(p, { callId, cancel: () => b.cancel(callId) });
}

/** Subscribes to a studio event type (queue.item, edit.recorded, ledger.changed, ...). */
export function onEvent<T extends StudioEvent['type']>(type: T, cb: (ev: Extract<StudioEvent, { type: T }>) => void): () => void {
  return getBridge().on(type, (payload) => cb(payload as Extract<StudioEvent, { type: T }>));
}

export function onConnection(cb: (s: { connected: boolean }) => void): () => void {
  return getBridge().on('connection', (p) => cb(p as { connected: boolean }));
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

// The edit-method picker's labels: the method's name, and for the one recommended for long queues
// (api contract LONG_QUEUE_METHOD, from the README's measured table) a note saying so.
import type { EditMethod } from '../../../src-main/api/contract';
import { LONG_QUEUE_METHOD } from '../../../src-main/api/methods';

export function methodOptionLabel(m: EditMethod): string {
  return m === LONG_QUEUE_METHOD.method ? `${m.toUpperCase()} — recommended for long queues` : m.toUpperCase();
}

/** The line under the picker: what to pick for a long queue and why. */
export function longQueueHint(): string {
  return `For long queues: ${LONG_QUEUE_METHOD.method.toUpperCase()} — ${LONG_QUEUE_METHOD.why}`;
}

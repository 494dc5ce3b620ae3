// The method picker marks exactly one method as the long-queue recommendation, and the hint under it
// names that method and a reason.
import { describe, expect, it } from 'vitest';
import { EDIT_METHOD_NAMES, LONG_QUEUE_METHOD } from '../../src-main/api/methods';
import { longQueueHint, methodOptionLabel } from '../../src-renderer/src/lib/methods';

describe('method picker labels', () => {
  it('one option says it is recommended for long queues; the hint gives the reason', () => {
    const marked = EDIT_METHOD_NAMES.filter((m) => methodOptionLabel(m).includes('recommended for long queues'));
    expect(marked).toEqual([LONG_QUEUE_METHOD.method]);
    expect(methodOptionLabel('rome')).toBe('ROME');
    expect(longQueueHint()).toBe(`For long queues: ${LONG_QUEUE_METHOD.method.toUpperCase()} — ${LONG_QUEUE_METHOD.why}`);
    expect(LONG_QUEUE_METHOD.why.length).toBeGreaterThan(20);
    expect(LONG_QUEUE_METHOD.why).not.toMatch(/PENDING/);
  });
});

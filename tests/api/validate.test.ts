// validateParams checks an edit request's text with the engine's own request check (engine/facts/validate.ts), the
// one the import view and the editor apply, so a request the engine would refuse is refused at the API, with the
// field named as the API spells it (issue 20: the contract's validator repeated a looser copy of it).
import { describe, expect, it } from 'vitest';
import { validateParams } from '../../src-main/api/validate';
import { ContractError } from '../../src-main/api/errors';

const good = { caseId: '1', prompt: '{} is in', subject: 'Paris', targetNew: 'Rome', rephrase: [], locality: [] };
const create = (r: object) => validateParams('queue.create', { name: 'q', method: 'rome', profile: 'p', requests: [good, r] });

describe('validateParams on edit requests', () => {
  it('accepts a request the engine accepts', () => {
    expect(() => create({ ...good, caseId: '2' })).not.toThrow();
  });

  it.each([
    ['two "{}" slots', { prompt: '{} and {}' }, /^queue\.create: requests\[1\]\.prompt has 2 "\{\}" slots, exactly one is allowed/],
    ['no slot', { prompt: 'no slot' }, /^queue\.create: requests\[1\]\.prompt has no "\{\}" slot for the subject/],
    ['a blank subject', { subject: '  ' }, /^queue\.create: requests\[1\]\.subject is empty/],
    ['a subject holding "{}"', { subject: 'a {}' }, /requests\[1\]\.subject "a \{\}" contains "\{\}"/],
    ['a control character', { targetNew: 'Ro\u0007me' }, /requests\[1\]\.targetNew holds the control character U\+0007/],
    ['a target equal to the ground truth', { groundTruth: 'Rome' }, /requests\[1\]\.targetNew "Rome" is the same as requests\[1\]\.groundTruth/],
    ['an empty locality answer', { locality: [{ prompt: 'x', target: ' ' }] }, /requests\[1\]\.locality item 1 has an empty answer/],
  ])('refuses %s, naming the field as the API spells it', (_what, change, message) => {
    const call = () => create({ ...good, ...change });
    expect(call).toThrow(ContractError);
    expect(call).toThrow(message);
  });

  it('checks a corrected queue item the same way', () => {
    expect(() => validateParams('queue.updateItem', { itemId: 1, request: { ...good, prompt: '{}{}' } })).toThrow(/^queue\.updateItem: request\.prompt has 2 "\{\}" slots/);
  });

  it('still refuses a request of the wrong shape before reading its text', () => {
    expect(() => create({ ...good, subject: 3 })).toThrow('queue.create: requests[1].subject must be a string, got 3');
    expect(() => create({ ...good, rephrase: 'x' })).toThrow('queue.create: requests[1].rephrase must be a list of strings');
  });
});

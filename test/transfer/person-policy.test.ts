import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadPersonPolicy } from '../../src/transfer/person-policy.js';
import { temporaryFolder } from '../harness/folders.js';

/** The policy on a person in the receiver's token is data (conformance/person-policy.json), checked when it is read. */
describe('the person policy', () => {
  it('reads the shipped file: the Task and the advance notice open without a person, the nursing handoff only with one', () => {
    expect(loadPersonPolicy('eOverdracht-sender')).toEqual({ Task: false, advanceNotice: false, nursingHandoff: true });
  });

  it.each([
    ['an entry that is missing', { 'eOverdracht-sender': { Task: false, advanceNotice: false } }, /needs true or false for nursingHandoff/],
    ['an entry that is no boolean', { 'eOverdracht-sender': { Task: 'no', advanceNotice: false, nursingHandoff: true } }, /needs true or false for Task/],
    ['no policy for the purpose', {}, /no policy for 'eOverdracht-sender'/],
  ])('refuses a file with %s', (_case, content, message) => {
    const file = path.join(temporaryFolder('person-policy-'), 'policy.json');
    writeFileSync(file, JSON.stringify(content));
    expect(() => loadPersonPolicy('eOverdracht-sender', file)).toThrow(message);
  });
});

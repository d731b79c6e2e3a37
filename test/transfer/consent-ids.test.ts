import { describe, expect, it } from '@jest/globals';
import { consentIds } from '../../src/transfer/consents.js';

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

describe('the Consent ids of a transfer', () => {
  it('name the Task id when it fits', () => {
    expect(consentIds('task-1')).toEqual({ Task: 'eoverdracht-task-task-1', advanceNotice: 'eoverdracht-advancenotice-task-1', nursingHandoff: 'eoverdracht-handoff-task-1' });
  });

  it('stay valid FHIR ids, distinct per Task, for the longest Task id FHIR allows', () => {
    const longest = 'eOverdracht-Task-eov-'.padEnd(64, 'x');
    const other = 'eOverdracht-Task-eov-'.padEnd(63, 'x') + 'y';
    const ids = [...Object.values(consentIds(longest)), ...Object.values(consentIds(other))];
    for (const id of ids) expect(id).toMatch(FHIR_ID);
    expect(new Set(ids).size).toBe(6);
    expect(consentIds(longest)).toEqual(consentIds(longest));
  });
});

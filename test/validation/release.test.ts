import { describe, expect, it } from '@jest/globals';
import type { FhirVersion } from '../../src/fhir/version.js';
import { detectRelease } from '../../src/validation/release.js';
import { fixtureText } from './support.js';

const EOVERDRACHT_TASK = 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task';
const knowsNothing = () => false;
const json = (resource: object) => JSON.stringify(resource);

describe('the FHIR release of a file, from its content', () => {
  it('is the one release whose XML model reads the file', () => {
    const finding = detectRelease(fixtureText('eoverdracht-stu3/examples/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml'), knowsNothing);
    expect(finding.version).toBe('stu3');
    expect(finding.reason).toMatch(/reads only as STU3 \(as R4: Unknown element 'agent'/);
  });

  it('is the release of a declared profile only that release knows', () => {
    const knows = (version: FhirVersion, url: string) => version === 'stu3' && url === EOVERDRACHT_TASK;
    const finding = detectRelease(json({ resourceType: 'Task', meta: { profile: [EOVERDRACHT_TASK] }, status: 'requested', intent: 'proposal' }), knows);
    expect(finding).toMatchObject({ version: 'stu3', reason: `its declared profile ${EOVERDRACHT_TASK} is a STU3 profile` });
  });

  it('is the release that defines every element, however many errors each release finds', () => {
    // R4 Observation.subject.type; no status, so invalid in R4: still R4.
    const observation = { resourceType: 'Observation', code: { text: 'weight' }, subject: { type: 'Patient', reference: 'Patient/1' } };
    expect(detectRelease(json(observation), knowsNothing)).toMatchObject({ version: 'r4', reason: 'Observation.subject.type is R4 only' });
    const task = { resourceType: 'Task', status: 'requested', intent: 'proposal', requester: { agent: { reference: 'Practitioner/1' } } };
    expect(detectRelease(json(task), knowsNothing)).toMatchObject({ version: 'stu3', reason: 'Task.requester.agent is STU3 only' });
  });

  it('looks into contained resources and resource types', () => {
    expect(detectRelease(json({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/1' } }), knowsNothing).version).toBe('r4');
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'ProcedureRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/1' } } }] };
    expect(detectRelease(json(bundle), knowsNothing)).toMatchObject({ version: 'stu3', reason: 'resource type ProcedureRequest is STU3 only' });
  });

  it('is not decided when the content fits both releases', () => {
    expect(detectRelease(json({ resourceType: 'Patient', gender: 'female' }), knowsNothing)).toMatchObject({ version: undefined, reason: 'its elements exist in both releases' });
  });

  it('is not decided for text that is not FHIR', () => {
    const finding = detectRelease('{"resourceType": ', knowsNothing);
    expect(finding.version).toBeUndefined();
    expect(finding.unreadable.r4?.outcome.issue[0].details?.text).toMatch(/Error parsing JSON/);
  });
});

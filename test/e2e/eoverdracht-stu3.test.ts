import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import type { Resource } from '../../src/fhir/version.js';
import { expectRefused, expectRoundTrip, extensionWithoutUrl, FHIR_XML, FIXTURES, fixtureFiles, missing, readExample, wrongCode, type Breakage, type Target } from './examples.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/**
 * Every Nictiz eOverdracht STU3 example goes in through /fhir/stu3 as XML; a broken copy of each is refused. The
 * tenant only receives: a sending tenant's EHR that writes a workflow Task starts a transfer (transfer/task-writes.ts).
 */
const files = fixtureFiles(path.join(FIXTURES, 'eoverdracht-stu3/examples'), '.xml');
let gateway: TestGateway;
let target: Target;

beforeAll(async () => {
  gateway = await startTestGateway(['vvt'], {}, ['receiver']);
  target = { url: gateway.url, base: '/fhir/stu3', version: 'stu3', auth: `Bearer ${await gateway.token('vvt')}` };
});
afterAll(async () => {
  await gateway?.close();
});

const WRONG_CODE: Record<string, Breakage> = {
  Task: wrongCode('status'),
  Composition: wrongCode('status'),
  Organization: wrongCode('identifier[0].use'),
  Patient: wrongCode('gender'),
  Practitioner: wrongCode('name[0].use'),
  PractitionerRole: wrongCode('telecom[0].system'),
  Procedure: wrongCode('status'),
  DiagnosticReport: wrongCode('status'),
  Observation: wrongCode('status'),
  Coverage: wrongCode('status'),
  Condition: wrongCode('clinicalStatus'),
};

/** An element the STU3 base definition requires; types without one get an extension without its required url. */
const REQUIRED: Record<string, string> = {
  Task: 'intent',
  Composition: 'type',
  Procedure: 'subject',
  DiagnosticReport: 'code',
  Observation: 'code',
  Condition: 'subject',
};
const missingRequired = (resource: Resource) =>
  REQUIRED[resource.resourceType] ? missing(REQUIRED[resource.resourceType]) : extensionWithoutUrl(resource);

describe('eOverdracht STU3 examples over /fhir/stu3', () => {
  it('has the examples to test', () => {
    expect(files.length).toBeGreaterThanOrEqual(28);
  });

  it.each(files.map((file) => [path.relative(FIXTURES, file), file]))('%s goes in as XML and reads back equal in JSON and XML', async (_name, file) => {
    const { resource, body } = readExample('stu3', file);
    await expectRoundTrip(target, resource, body, FHIR_XML);
  });

  it.each(files.map((file) => [path.relative(FIXTURES, file), file]))('%s with a wrong code or without a required element is refused', async (_name, file) => {
    const { resource } = readExample('stu3', file);
    await expectRefused(target, resource, WRONG_CODE[resource.resourceType]);
    await expectRefused(target, resource, missingRequired(resource));
  });
});

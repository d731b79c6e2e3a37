import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import type { Resource } from '../../src/fhir/version.js';
import { expectRefused, expectRoundTrip, extensionWithoutUrl, FHIR_JSON, FHIR_XML, FIXTURES, fixtureFiles, missing, readExample, wrongCode, type Breakage, type Target } from './examples.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/**
 * Every nl-core R4 (zib2020) example goes in through /fhir, the XML originals as XML and their JSON conversions as
 * JSON (each set in its own tenant); a broken copy of each is refused.
 */
const FORMATS = [
  { tenant: 'xml-sender', files: fixtureFiles(path.join(FIXTURES, 'nl-core-r4/zib2020-xml'), '.xml'), contentType: FHIR_XML },
  { tenant: 'json-sender', files: fixtureFiles(path.join(FIXTURES, 'nl-core-r4/zib2020-json'), '.json'), contentType: FHIR_JSON },
];
let gateway: TestGateway;
const targets: Record<string, Target> = {};

beforeAll(async () => {
  gateway = await startTestGateway(FORMATS.map((format) => format.tenant));
  for (const { tenant } of FORMATS) {
    targets[tenant] = { url: gateway.url, base: '/fhir', version: 'r4', auth: `Bearer ${await gateway.token(tenant)}` };
  }
});
afterAll(async () => {
  await gateway?.close();
});

const WRONG_CODE: Record<string, Breakage> = {
  AllergyIntolerance: wrongCode('criticality'),
  CarePlan: wrongCode('status'),
  Condition: wrongCode('clinicalStatus', 'coding[0].code'),
  Consent: wrongCode('status'),
  DeviceUseStatement: wrongCode('status'),
  Encounter: wrongCode('status'),
  EpisodeOfCare: wrongCode('status'),
  Flag: wrongCode('status'),
  Immunization: wrongCode('status'),
  Location: wrongCode('status'),
  NutritionOrder: wrongCode('status'),
  Observation: wrongCode('status'),
  Organization: wrongCode('telecom[0].system'),
  Patient: wrongCode('gender'),
  Practitioner: wrongCode('name[0].use'),
  PractitionerRole: wrongCode('telecom[0].system'),
  Procedure: wrongCode('status'),
  RelatedPerson: wrongCode('gender'),
};

/** An element the R4 base definition requires; types without one get an extension without its required url. */
const REQUIRED: Record<string, string> = {
  AllergyIntolerance: 'patient',
  CarePlan: 'subject',
  Condition: 'subject',
  Consent: 'scope',
  DeviceUseStatement: 'device',
  Encounter: 'class',
  EpisodeOfCare: 'patient',
  Flag: 'code',
  Immunization: 'vaccineCode',
  NutritionOrder: 'dateTime',
  Observation: 'code',
  Procedure: 'subject',
  RelatedPerson: 'patient',
};
const missingRequired = (resource: Resource) =>
  REQUIRED[resource.resourceType] ? missing(REQUIRED[resource.resourceType]) : extensionWithoutUrl(resource);

describe.each(FORMATS)('nl-core R4 examples over /fhir, sent by $tenant', ({ tenant, files, contentType }) => {
  it('has the examples to test', () => {
    expect(files).toHaveLength(36);
  });

  it.each(files.map((file) => [path.basename(file), file]))('%s goes in and reads back equal in JSON and XML', async (_name, file) => {
    const { resource, body } = readExample('r4', file);
    await expectRoundTrip(targets[tenant], resource, body, contentType);
  });

  it.each(files.map((file) => [path.basename(file), file]))('%s with a wrong code or without a required element is refused', async (_name, file) => {
    const { resource } = readExample('r4', file);
    await expectRefused(targets[tenant], resource, WRONG_CODE[resource.resourceType]);
    await expectRefused(targets[tenant], resource, missingRequired(resource));
  });
});

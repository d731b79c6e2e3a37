import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fhirpath from 'fhirpath';
import { expressionsFor, officialSearchParameters } from '../../src/fhir/search/definitions.js';
import { FHIRPATH_MODELS, nativeExtractor } from '../../src/fhir/search/expression.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import { fixtureFolder } from '../fixtures.js';

const fixtures = fixtureFolder();
const files = (folder: string, extension: string) =>
  readdirSync(path.join(fixtures, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(extension))
    .map((file) => path.join(fixtures, folder, file));

/** Every resource in the fixtures, bundles opened up. */
function resources(version: FhirVersion): Resource[] {
  const top =
    version === 'r4'
      ? [...files('nl-core-r4/zib2020-json', '.json'), ...files('fhir-test-cases/r4-examples', '.json')].map((file) => JSON.parse(readFileSync(file, 'utf8')) as Resource)
      : files('eoverdracht-stu3/examples', '.xml').map((file) => parseXml('stu3', readFileSync(file, 'utf8')));
  return top.flatMap((resource) => [resource, ...((resource.entry as { resource?: Resource }[] | undefined) ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : []))]);
}

/** Also the variants a fixture may lack: a telecom of each system, a deceased flag. */
const extra: Resource[] = [
  { resourceType: 'Patient', telecom: [{ system: 'email', value: 'a@b.nl' }, { system: 'phone', value: '010' }], deceasedBoolean: false },
  { resourceType: 'Practitioner', telecom: [{ system: 'phone', value: '020' }] },
];

/** Nictiz examples are partly templates (`${DATE, T, d, -170}`): FHIRPath drops such a dateTime, and so does indexing. */
const isTemplate = (resource: Resource) => JSON.stringify(resource).includes('${');

/** fhirpath.js, or undefined where it throws: `as` on several values (native narrows each), `is` with the STU3 model. */
function evaluate(version: FhirVersion, resource: Resource, part: string): unknown[] | undefined {
  try {
    return fhirpath.evaluate(resource, part, undefined, FHIRPATH_MODELS[version]) as unknown[];
  } catch {
    return undefined;
  }
}

describe.each<FhirVersion>(['r4', 'stu3'])('native search expressions (%s)', (version) => {
  it('give what fhirpath.js gives, for every official parameter of every fixture resource', () => {
    const definitions = officialSearchParameters(version);
    let compared = 0;
    for (const resource of [...resources(version).filter((resource) => !isTemplate(resource)), ...extra]) {
      for (const definition of definitions) {
        if (!definition.expression || !definition.base.some((base) => ['Resource', 'DomainResource', resource.resourceType].includes(base))) continue;
        for (const part of expressionsFor(resource.resourceType, definition.expression)) {
          const native = nativeExtractor(version, part);
          if (!native) continue;
          const expected = evaluate(version, resource, part);
          if (expected === undefined) continue;
          expect({ part, id: resource.id, values: native(resource) }).toEqual({ part, id: resource.id, values: expected });
          compared += 1;
        }
      }
    }
    expect(compared).toBeGreaterThan(500);
  });

  it('test a choice element for its type', () => {
    const abatement = nativeExtractor(version, 'Condition.abatement.is(Age)');
    expect(abatement?.({ resourceType: 'Condition', abatementAge: { value: 80 } })).toEqual([true]);
    expect(abatement?.({ resourceType: 'Condition', abatementString: 'in remission' })).toEqual([false]);
    expect(abatement?.({ resourceType: 'Condition' })).toEqual([]);
  });

  it('leave other expressions to the FHIRPath engine', () => {
    expect(nativeExtractor(version, "Patient.telecom.where(system='email' or system='phone')")).toBeUndefined();
    expect(nativeExtractor(version, 'Patient.deceased.exists() and Patient.deceased != false')).toBeUndefined();
    expect(nativeExtractor(version, 'Condition.abatement.is(Quantity)')).toBeUndefined();
    expect(nativeExtractor(version, "Patient.telecom.where(system='email')")).toBeDefined();
  });
});

describe('native search expressions over long arrays', () => {
  it('walk an element path over 200,000 items without spreading them into call arguments (which overflows the stack)', () => {
    const name = Array.from({ length: 200_000 }, (_, i) => ({ family: `F${i}` }));
    expect(nativeExtractor('r4', 'Patient.name.family')!({ resourceType: 'Patient', name })).toHaveLength(200_000);
  });
});

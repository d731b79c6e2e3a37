import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parseSearchRequest, registerSearchParameter } from '../../src/fhir/search/index.js';
import type { SearchQuery } from '../../src/fhir/search/index.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import type { SearchResult } from '../../src/fhir/search/types.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';
import { fixtureFolder } from '../fixtures.js';

const fixtures = fixtureFolder();
const nlCore = (name: string) => JSON.parse(readFileSync(path.join(fixtures, 'nl-core-r4/zib2020-json', `${name}.json`), 'utf8')) as Resource;
const eOverdracht = (name: string) =>
  parseXml('stu3', readFileSync(path.join(fixtures, 'eoverdracht-stu3/examples/patient-1.5', `${name}.xml`), 'utf8'));

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const CARE_TYPE = 'https://vervolgzorg.example/fhir/CodeSystem/care-type';
const REGION_EXTENSION = 'https://vervolgzorg.example/fhir/StructureDefinition/region';

// Other modules register their own parameters at start-up; the capacity search needs these two.
registerSearchParameter('r4', { code: 'test-care-type', base: ['MeasureReport'], type: 'token', expression: 'MeasureReport.group.code' });
registerSearchParameter('r4', {
  code: 'test-region',
  base: ['MeasureReport'],
  type: 'string',
  expression: `MeasureReport.extension('${REGION_EXTENSION}').value`,
});

describe.each(backends)('search on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  const r4: Scope = { tenant: freshTenant('search'), version: 'r4' };

  const search = (resourceType: string, query: SearchQuery, scope: Scope = r4): Promise<SearchResult> =>
    store.resources.search(scope, parseSearchRequest(scope.version, resourceType, query));
  const ids = async (resourceType: string, query: SearchQuery, scope: Scope = r4) =>
    (await search(resourceType, query, scope)).resources.map((resource) => resource.id).sort();
  const put = async (resource: Resource, scope: Scope = r4) => (await store.resources.update(scope, resource)).resource;

  const task = (id: string, owner: string, status: string, extra: Partial<Resource> = {}): Resource => ({
    resourceType: 'Task',
    id,
    status,
    intent: 'order',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '308292007' }] },
    for: { reference: 'Patient/nl-core-Patient-01' },
    owner: { reference: owner },
    ...extra,
  });

  beforeAll(async () => {
    store = await backend.open();
    await put(nlCore('nl-core-Patient-01'));
    await put({ resourceType: 'Patient', id: 'muller', name: [{ family: 'Müller', given: ['Zoë'] }], birthDate: '1941-03-02' });
    await put(nlCore('nl-core-BloodPressure-01'));
    await put(nlCore('nl-core-BodyWeight-01'));
    await put(nlCore('nl-core-HealthcareProvider-Organization-01'));
    await put({ resourceType: 'Organization', id: 'vvt-1', name: 'Zorggroep Noord' });
    await put({ resourceType: 'Organization', id: 'vvt-2', name: 'Thuiszorg Zuid' });
    await put({ resourceType: 'Composition', id: 'advance-notice-1', status: 'final', type: { coding: [{ system: 'http://snomed.info/sct', code: '721915006' }] }, subject: { reference: 'Patient/nl-core-Patient-01' }, date: '2024-03-01T10:00:00+01:00', author: [{ reference: 'Organization/vvt-1' }], title: 'Aanmelding' });
    await put(task('t1', 'Organization/vvt-1', 'requested', { focus: { reference: 'Composition/advance-notice-1' }, authoredOn: '2024-03-01T09:00:00Z' }));
    await put(task('t2', 'Organization/vvt-1', 'accepted', { authoredOn: '2024-03-02T09:00:00Z' }));
    await put(task('t3', 'Organization/vvt-2', 'requested', { authoredOn: '2024-03-03T09:00:00Z' }));
    await put(task('t4', 'Organization/vvt-1', 'requested', { authoredOn: '2024-03-04T09:00:00Z' }));
    await new Promise((resolve) => setTimeout(resolve, 5)); // t5 is the most recently updated Task
    await put(task('t5', 'http://other-gateway.example/fhir/Organization/vvt-1', 'requested', { authoredOn: '2024-03-05T09:00:00Z' }));
  });

  describe('tokens', () => {
    it('finds Tasks by owner and status together', async () => {
      expect(await ids('Task', { owner: 'Organization/vvt-1', status: 'requested' })).toEqual(['t1', 't4', 't5']);
      expect(await ids('Task', { owner: 'Organization/vvt-1', status: 'requested,accepted' })).toEqual(['t1', 't2', 't4', 't5']);
      expect(await ids('Task', { owner: 'Organization/vvt-2', status: 'accepted' })).toEqual([]);
    });

    it('finds a Patient by BSN with system, without system, but not as a code without a system', async () => {
      expect(await ids('Patient', { identifier: `${BSN}|111222333` })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { identifier: '111222333' })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { identifier: '|111222333' })).toEqual([]);
      expect(await ids('Patient', { identifier: `${BSN}|` })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { identifier: `${BSN}|999999999` })).toEqual([]);
    });

    it('matches codings in a CodeableConcept, :not and :missing', async () => {
      expect(await ids('Observation', { code: 'http://loinc.org|29463-7' })).toEqual(['nl-core-BodyWeight-01']);
      expect(await ids('Task', { 'status:not': 'requested' })).toEqual(['t2']);
      expect(await ids('Task', { 'focus:missing': 'false' })).toEqual(['t1']);
      expect(await ids('Task', { 'focus:missing': 'true' })).toEqual(['t2', 't3', 't4', 't5']);
    });

    it('matches _id, and an identifier :of-type', async () => {
      await put({ resourceType: 'Patient', id: 'typed', identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] }, system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: 'MRN-7' }] });
      expect(await ids('Patient', { _id: 'muller,typed,unknown' })).toEqual(['muller', 'typed']);
      expect(await ids('Patient', { 'identifier:of-type': 'http://terminology.hl7.org/CodeSystem/v2-0203|MR|MRN-7' })).toEqual(['typed']);
      expect(await ids('Patient', { 'identifier:of-type': 'http://terminology.hl7.org/CodeSystem/v2-0203|MR|111222333' })).toEqual([]);
    });
  });

  describe('strings', () => {
    it('matches a case- and accent-insensitive prefix by default', async () => {
      expect(await ids('Patient', { family: 'van putten' })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { name: 'JOHANNA' })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { family: 'muller' })).toEqual(['muller']);
      expect(await ids('Patient', { given: 'zoe' })).toEqual(['muller']);
      expect(await ids('Patient', { family: 'putten' })).toEqual([]);
    });

    it('supports :contains and :exact', async () => {
      expect(await ids('Patient', { 'family:contains': 'PUTTEN' })).toEqual(['nl-core-Patient-01']);
      expect(await ids('Patient', { 'name:exact': 'Müller' })).toEqual(['muller']);
      expect(await ids('Patient', { 'name:exact': 'Muller' })).toEqual([]);
      expect(await ids('Organization', { 'name:contains': '100%' })).toEqual([]);
    });

    it('searches address parts', async () => {
      const patient = nlCore('nl-core-Patient-01') as { address?: { city?: string }[] };
      const city = patient.address?.[0]?.city as string;
      expect(await ids('Patient', { 'address-city': city.toLowerCase() })).toEqual(['nl-core-Patient-01']);
    });
  });

  describe('references', () => {
    it('matches Type/id, a bare id, a :Type modifier and the Type/id tail of absolute references', async () => {
      expect(await ids('Observation', { subject: 'Patient/nl-core-Patient-01' })).toEqual(['nl-core-BloodPressure-01', 'nl-core-BodyWeight-01']);
      expect(await ids('Observation', { patient: 'nl-core-Patient-01' })).toEqual(['nl-core-BloodPressure-01', 'nl-core-BodyWeight-01']);
      expect(await ids('Observation', { 'subject:Patient': 'nl-core-Patient-01' })).toEqual(['nl-core-BloodPressure-01', 'nl-core-BodyWeight-01']);
      expect(await ids('Task', { owner: 'http://other-gateway.example/fhir/Organization/vvt-1' })).toEqual(['t5']);
    });

    it('matches a logical reference with :identifier', async () => {
      const twiin = JSON.parse(readFileSync(path.join(fixtures, 'eoverdracht-stu3/examples/twiin-notification-task.json'), 'utf8')) as Resource;
      const scope: Scope = { tenant: r4.tenant, version: 'stu3' };
      await store.resources.update(scope, { ...twiin, id: 'twiin' });
      const owner = 'http://example.com/fhir/NamingSystem/dummy|receiving-organization-id';
      expect(await ids('Task', { 'owner:identifier': owner }, scope)).toEqual(['twiin']);
      expect(await ids('Task', { 'owner:identifier': 'http://example.com/fhir/NamingSystem/dummy|someone-else' }, scope)).toEqual([]);
    });
  });

  describe('dates', () => {
    // BloodPressure: 2013-02-08T06:43:00+01:00 (05:43 UTC); BodyWeight: the whole day 2013-02-06.
    it.each<[string, string[]]>([
      ['2013-02-08', ['nl-core-BloodPressure-01']],
      ['2013-02', ['nl-core-BloodPressure-01', 'nl-core-BodyWeight-01']],
      ['2013-02-08T05:43:00Z', ['nl-core-BloodPressure-01']],
      ['ge2013-02-08T06:00:00Z', []],
      ['ge2013-02-07', ['nl-core-BloodPressure-01']],
      ['gt2013-02-06', ['nl-core-BloodPressure-01']],
      ['gt2013-02-08', []],
      ['lt2013-02-08', ['nl-core-BodyWeight-01']],
      ['le2013-02-06', ['nl-core-BodyWeight-01']],
      ['ne2013-02-06', ['nl-core-BloodPressure-01']],
      ['sa2013-02-06', ['nl-core-BloodPressure-01']],
      ['eb2013-02-08', ['nl-core-BodyWeight-01']],
      ['2013-02-06,2013-02-08', ['nl-core-BloodPressure-01', 'nl-core-BodyWeight-01']],
    ])('Observation date=%s', async (value, expected) => {
      expect(await ids('Observation', { date: value })).toEqual(expected);
    });

    it('ANDs repeated date parameters into a range, and matches periods', async () => {
      expect(await ids('Task', { 'authored-on': ['ge2024-03-02', 'lt2024-03-04'] })).toEqual(['t2', 't3']);
      await put({ resourceType: 'Encounter', id: 'stay', status: 'finished', class: { code: 'IMP' }, period: { start: '2024-02-01', end: '2024-02-10' } });
      await put({ resourceType: 'Encounter', id: 'ongoing', status: 'in-progress', class: { code: 'IMP' }, period: { start: '2024-02-05' } });
      expect(await ids('Encounter', { date: '2024-02' })).toEqual(['stay']);
      expect(await ids('Encounter', { date: 'ge2024-02-08' })).toEqual(['ongoing', 'stay']);
      expect(await ids('Encounter', { date: 'gt2024-02-11' })).toEqual(['ongoing']);
      expect(await ids('Encounter', { date: 'lt2024-02-03' })).toEqual(['stay']);
    });

    it('filters on _lastUpdated', async () => {
      const before = new Date(Date.now() - 1).toISOString();
      await new Promise((resolve) => setTimeout(resolve, 5));
      await put({ resourceType: 'Flag', id: 'recent', status: 'active', code: { text: 'Valgevaar' } });
      expect(await ids('Flag', { _lastUpdated: `gt${before}` })).toEqual(['recent']);
      expect(await ids('Flag', { _lastUpdated: `lt${before}` })).toEqual([]);
    });
  });

  describe('quantities and uris', () => {
    it('compares quantities with prefixes, system and code', async () => {
      expect(await ids('Observation', { 'value-quantity': '2400' })).toEqual(['nl-core-BodyWeight-01']);
      expect(await ids('Observation', { 'value-quantity': 'gt2000|http://unitsofmeasure.org|g' })).toEqual(['nl-core-BodyWeight-01']);
      expect(await ids('Observation', { 'value-quantity': 'lt2000' })).toEqual([]);
      expect(await ids('Observation', { 'value-quantity': 'gt2000|http://unitsofmeasure.org|kg' })).toEqual([]);
      expect(await ids('Observation', { 'component-value-quantity': 'ge120||mm[Hg]' })).toEqual(['nl-core-BloodPressure-01']);
    });

    it('matches uris exactly and with :below', async () => {
      expect(await ids('Observation', { _profile: 'http://nictiz.nl/fhir/StructureDefinition/nl-core-BodyWeight' })).toEqual(['nl-core-BodyWeight-01']);
      expect(await ids('Observation', { '_profile:below': 'http://nictiz.nl/fhir/StructureDefinition/nl-core-B' })).toEqual([
        'nl-core-BloodPressure-01',
        'nl-core-BodyWeight-01',
      ]);
    });
  });

  describe('paging, sorting and totals', () => {
    it('pages with _count and _offset in creation order, saying whether more follow', async () => {
      const first = await search('Task', { status: 'requested', _count: '2' });
      const second = await search('Task', { status: 'requested', _count: '2', _offset: '2' });
      expect(first.resources.map((t) => t.id)).toEqual(['t1', 't3']);
      expect(first.hasMore).toBe(true);
      expect(second.resources.map((t) => t.id)).toEqual(['t4', 't5']);
      expect(second.hasMore).toBe(false);
    });

    it('sorts by dates, strings and _lastUpdated in both directions', async () => {
      expect((await search('Task', { _sort: '-authored-on' })).resources.map((t) => t.id)).toEqual(['t5', 't4', 't3', 't2', 't1']);
      expect((await search('Task', { _sort: 'authored-on' })).resources.map((t) => t.id)).toEqual(['t1', 't2', 't3', 't4', 't5']);
      expect((await search('Task', { _sort: 'status,-authored-on' })).resources.map((t) => t.id)).toEqual(['t2', 't5', 't4', 't3', 't1']);
      expect((await search('Organization', { _sort: 'name', _id: 'vvt-1,vvt-2' })).resources.map((o) => o.id)).toEqual(['vvt-2', 'vvt-1']);
      expect((await search('Task', { _sort: '-_lastUpdated', _count: '1' })).resources.map((t) => t.id)).toEqual(['t5']);
    });

    it('counts every match with _total=accurate, also with _count=0', async () => {
      expect(await search('Task', { owner: 'Organization/vvt-1', _total: 'accurate', _count: '1' })).toMatchObject({ total: 4, hasMore: true });
      expect(await search('Task', { _total: 'accurate', _count: '0' })).toMatchObject({ resources: [], total: 5 });
      expect((await search('Task', {})).total).toBeUndefined();
    });
  });

  describe('_include and _revinclude', () => {
    it('includes what Task.focus, Task.owner and Task.patient refer to', async () => {
      const result = await search('Task', { _id: 't1', _include: ['Task:focus', 'Task:owner', 'Task:patient'] });
      expect(result.resources.map((t) => t.id)).toEqual(['t1']);
      expect(result.included.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([
        'Composition/advance-notice-1',
        'Organization/vvt-1',
        'Patient/nl-core-Patient-01',
      ]);
      const typed = await search('Task', { _id: 't1', _include: 'Task:owner:Patient' });
      expect(typed.included).toEqual([]);
    });

    it('includes Composition subjects and reverse-includes Compositions and Tasks of a Patient', async () => {
      const compositions = await search('Composition', { type: '721915006', _include: 'Composition:subject' });
      expect(compositions.included.map((r) => r.id)).toEqual(['nl-core-Patient-01']);

      const patients = await search('Patient', { identifier: `${BSN}|111222333`, _revinclude: ['Composition:subject', 'Task:patient'] });
      expect(patients.included.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual([
        'Composition/advance-notice-1',
        'Task/t1',
        'Task/t2',
        'Task/t3',
        'Task/t4',
        'Task/t5',
      ]);
    });

    it('never includes another tenant\'s resources', async () => {
      const other: Scope = { tenant: freshTenant('other'), version: 'r4' };
      await put(task('t1', 'Organization/vvt-1', 'requested', { focus: { reference: 'Composition/advance-notice-1' } }), other);
      const result = await search('Task', { _id: 't1', _include: ['Task:focus', 'Task:owner', 'Task:patient'] }, other);
      expect(result.resources).toHaveLength(1);
      expect(result.included).toEqual([]);
    });
  });

  describe('writes keep the index current', () => {
    it('finds an updated resource by its new values only, and a deleted one not at all', async () => {
      await put(task('moving', 'Organization/vvt-2', 'requested'));
      await put(task('moving', 'Organization/vvt-2', 'accepted'));
      expect(await ids('Task', { owner: 'Organization/vvt-2', status: 'requested' })).toEqual(['t3']);
      expect(await ids('Task', { owner: 'Organization/vvt-2', status: 'accepted' })).toEqual(['moving']);
      await store.resources.delete(r4, 'Task', 'moving');
      expect(await ids('Task', { owner: 'Organization/vvt-2' })).toEqual(['t3']);
      expect(await ids('Task', { _id: 'moving' })).toEqual([]);
    });

    it('indexes custom search parameters registered by other modules', async () => {
      const report = (id: string, careType: string, region: string): Resource => ({
        resourceType: 'MeasureReport',
        id,
        extension: [{ url: REGION_EXTENSION, valueString: region }],
        status: 'complete',
        type: 'summary',
        measure: 'http://hl7.org/fhir/uv/saner/Measure/CDCPatientImpactAndHospitalCapacity',
        date: '2024-03-01T08:00:00Z',
        period: { start: '2024-03-01', end: '2024-03-01' },
        group: [{ code: { coding: [{ system: CARE_TYPE, code: careType }] }, population: [{ count: 3 }] }],
      });
      await put(report('noord-elv', 'elv-hoog', 'Groningen'));
      await put(report('zuid-grz', 'grz', 'Rijnmond'));
      expect(await ids('MeasureReport', { 'test-care-type': `${CARE_TYPE}|elv-hoog` })).toEqual(['noord-elv']);
      expect(await ids('MeasureReport', { 'test-region': 'rijn' })).toEqual(['zuid-grz']);
      expect(await ids('MeasureReport', { 'test-care-type': 'grz', 'test-region': 'groningen' })).toEqual([]);
    });
  });

  describe('STU3 eOverdracht', () => {
    const stu3 = (): Scope => ({ tenant: r4.tenant, version: 'stu3' as FhirVersion });

    it('finds the Nictiz example Task by owner and status and includes its patient', async () => {
      const scope = stu3();
      for (const name of ['eOverdracht-Task-eov-test-1_5-01', 'nl-core-patient-eov-test-1_5-01', 'eOverdracht-AdvanceNotice-eov-test-1_5-01']) {
        await store.resources.update(scope, eOverdracht(name));
      }
      const result = await search('Task', { owner: 'Organization/nl-core-organization-eov-test-1-5-01', status: 'accepted', _include: 'Task:patient' }, scope);
      expect(result.resources.map((t) => t.id)).toEqual(['eOverdracht-Task-eov-test-1-5-01']);
      expect(result.included.map((r) => r.id)).toEqual(['nl-core-patient-eov-test-1-5-01']);
      expect(await ids('Patient', { identifier: `${BSN}|999900912` }, scope)).toEqual(['nl-core-patient-eov-test-1-5-01']);
      expect(await ids('Composition', { type: 'http://loinc.org|57830-2', subject: 'Patient/nl-core-patient-eov-test-1-5-01' }, scope)).toEqual([
        'eOverdracht-AdvanceNotice-eov-test-1-5-01',
      ]);
      // The same ids in R4 are other resources: releases are separate.
      expect(await ids('Task', { owner: 'Organization/nl-core-organization-eov-test-1-5-01' })).toEqual([]);
    });
  });
});

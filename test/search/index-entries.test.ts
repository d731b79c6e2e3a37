import { describe, expect, it } from '@jest/globals';
import { dateRange } from '../../src/fhir/search/date.js';
import { indexEntries, isIndexedLater, MAX_INDEX_ENTRIES, registerSearchParameter, searchParameters, UnindexableResource } from '../../src/fhir/search/index.js';

describe('dateRange', () => {
  it.each<[string, string, string]>([
    ['2024', '2024-01-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z'],
    ['2024-02', '2024-02-01T00:00:00.000Z', '2024-02-29T23:59:59.999Z'],
    ['2024-12-31', '2024-12-31T00:00:00.000Z', '2024-12-31T23:59:59.999Z'],
    ['2024-03-01T10:15+01:00', '2024-03-01T09:15:00.000Z', '2024-03-01T09:15:59.999Z'],
    ['2013-02-08T06:43:00+01:00', '2013-02-08T05:43:00.000Z', '2013-02-08T05:43:00.999Z'],
    ['2024-03-01T10:15:30.5Z', '2024-03-01T10:15:30.500Z', '2024-03-01T10:15:30.500Z'],
  ])('%s covers %s to %s', (text, start, end) => {
    const range = dateRange(text);
    expect(range && [new Date(range.start).toISOString(), new Date(range.end).toISOString()]).toEqual([start, end]);
  });

  it.each(['2024-13', '2024-02-30', '24-01-01', '2024-01-01T25:00Z', '${CURRENTDATE}', ''])('rejects %s', (text) => {
    expect(dateRange(text)).toBeUndefined();
  });
});

describe('indexEntries', () => {
  it('indexes an eOverdracht Task (STU3): tokens, references, dates, profile', () => {
    const entries = indexEntries('stu3', {
      resourceType: 'Task',
      meta: { profile: ['http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task'] },
      identifier: [{ system: 'urn:oid:1.2.3', value: 'transfer-1' }],
      status: 'requested',
      intent: 'order',
      code: { coding: [{ system: 'http://snomed.info/sct', code: '308292007' }] },
      for: { reference: 'https://hospital.example/fhir/Patient/p1/_history/3' },
      owner: { identifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: '90000123' } },
      authoredOn: '2024-03-01',
    });
    expect(entries.token).toEqual(
      expect.arrayContaining([
        { param: 'status', system: '', code: 'requested' },
        { param: 'code', system: 'http://snomed.info/sct', code: '308292007' },
        { param: 'identifier', system: 'urn:oid:1.2.3', code: 'transfer-1' },
        { param: 'owner:identifier', system: 'http://fhir.nl/fhir/NamingSystem/ura', code: '90000123' },
      ]),
    );
    expect(entries.reference.filter((e) => e.param === 'patient').map((e) => e.reference)).toEqual([
      'https://hospital.example/fhir/Patient/p1',
      'Patient/p1',
    ]);
    expect(entries.date).toEqual([{ param: 'authored-on', start: Date.UTC(2024, 2, 1), end: Date.UTC(2024, 2, 2) - 1 }]);
    expect(entries.uri).toEqual([{ param: '_profile', uri: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task' }]);
  });

  it('indexes names accent-folded, only references of the right type for typed parameters, and choice elements', () => {
    const patient = indexEntries('r4', { resourceType: 'Patient', name: [{ family: 'Çelik', given: ['Ömer'] }], telecom: [{ system: 'email', value: 'o@example.nl' }] });
    expect(patient.string.filter((e) => e.param === 'family')).toEqual([{ param: 'family', normalized: 'celik', exact: 'Çelik' }]);
    expect(patient.token.filter((e) => e.param === 'email')).toEqual([{ param: 'email', system: 'email', code: 'o@example.nl' }]);

    const observation = indexEntries('r4', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'weight' },
      subject: { reference: 'Group/g1' },
      effectivePeriod: { start: '2024-01-01' },
      valueQuantity: { value: 72.5, system: 'http://unitsofmeasure.org', code: 'kg' },
    });
    expect(observation.reference.filter((e) => e.param === 'patient')).toEqual([]);
    expect(observation.reference.filter((e) => e.param === 'subject')).toEqual([{ param: 'subject', reference: 'Group/g1' }]);
    expect(observation.date).toEqual([{ param: 'date', start: Date.UTC(2024, 0, 1), end: 8.64e15 }]);
    expect(observation.number.filter((e) => e.param === 'value-quantity')).toEqual([{ param: 'value-quantity', value: 72.5, system: 'http://unitsofmeasure.org', code: 'kg' }]);
  });

  it('skips values that are not what the parameter expects instead of failing the write', () => {
    const entries = indexEntries('stu3', { resourceType: 'Composition', status: 'final', date: '${CURRENTDATE}', subject: { display: 'no reference' } });
    expect(entries.date).toEqual([]);
    expect(entries.reference).toEqual([]);
  });

  it('indexes an AuditEvent by when, what, who, which patient and resource, and outcome only', () => {
    const codes = (version: 'r4' | 'stu3') => searchParameters(version, 'AuditEvent').map((p) => p.code).sort();
    const lean = ['_id', '_lastUpdated', 'agent', 'date', 'entity', 'outcome', 'patient', 'subtype', 'type'];
    expect(codes('r4')).toEqual(lean);
    expect(codes('stu3')).toEqual(lean);
    const entries = indexEntries('r4', {
      resourceType: 'AuditEvent',
      meta: { tag: [{ system: 'urn:test', code: 'x' }] },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2026-03-01T10:00:00.000Z',
      outcome: '0',
      agent: [{ who: { identifier: { system: 'urn:ehr', value: 'ehr-1' } }, name: 'N. Urse', role: [{ text: 'nurse' }], requestor: true }],
      source: { observer: { display: 'gw' } },
      entity: [
        { what: { reference: 'Patient/p1' }, type: { system: 'urn:type', code: '1' }, role: { system: 'urn:role', code: '1' } },
        { what: { reference: 'Task/t1' }, type: { system: 'urn:type', code: '2' }, role: { system: 'urn:role', code: '4' } },
      ],
    });
    const params = (list: { param: string }[]) => [...new Set(list.map((e) => e.param))].sort();
    expect(params(entries.token)).toEqual(['agent:identifier', 'outcome', 'subtype', 'type']);
    expect(entries.reference).toEqual([
      { param: 'entity', reference: 'Patient/p1' },
      { param: 'entity', reference: 'Task/t1' },
      { param: 'patient', reference: 'Patient/p1' },
    ]);
    expect(params(entries.date)).toEqual(['date']);
    expect([...entries.string, ...entries.uri, ...entries.number]).toEqual([]);
  });

  it('lets the store index the patient data read by id later, not what the gateway searches', () => {
    const types = ['Observation', 'Composition', 'Patient', 'Task', 'Organization', 'Practitioner', 'MeasureReport', 'Basic', 'Subscription'];
    expect(types.filter(isIndexedLater)).toEqual(['Observation', 'Composition', 'Patient']);
  });

  it('lets modules register parameters and rejects broken definitions', () => {
    registerSearchParameter('r4', { code: 'test-region-code', base: ['Location'], type: 'token', expression: 'Location.address.postalCode' });
    expect(searchParameters('r4', 'Location').map((p) => p.code)).toContain('test-region-code');
    expect(indexEntries('r4', { resourceType: 'Location', address: { postalCode: '3011 AB' } }).token).toContainEqual({
      param: 'test-region-code',
      system: '',
      code: '3011 AB',
    });
    expect(() => registerSearchParameter('r4', { code: 'bad code', base: ['Location'], type: 'token', expression: 'Location.name' })).toThrow();
    expect(() => registerSearchParameter('r4', { code: 'x', base: ['Location'], type: 'composite', expression: 'Location.name' })).toThrow();
    expect(() => registerSearchParameter('r4', { code: 'x', base: ['Nothing'], type: 'token', expression: 'Nothing.name' })).toThrow();
    expect(() => registerSearchParameter('r4', { code: 'x', base: ['Location'], type: 'token', expression: 'Location.name.where(' })).toThrow();
  });
});

describe('indexEntries of a very large resource', () => {
  const names = (count: number) => Array.from({ length: count }, (_, i) => ({ family: `F${i}` }));

  it('refuses to index a Patient with 130,000 names, naming the cap, instead of overflowing the stack', () => {
    expect(() => indexEntries('r4', { resourceType: 'Patient', name: names(130_000) })).toThrow(UnindexableResource);
    expect(() => indexEntries('stu3', { resourceType: 'Patient', name: names(130_000) })).toThrow(`more than ${MAX_INDEX_ENTRIES} search index entries`);
  });
});

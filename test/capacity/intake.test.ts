import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { BED_STATUS_SYSTEM, DATA_ABSENT_REASON_EXTENSION, POPULATION_SYSTEM } from '../../src/capacity/canonical.js';
import { countBedLocations } from '../../src/capacity/intake/bed-locations.js';
import { readAvailabilityReport } from '../../src/capacity/intake/measure-report.js';
import { availabilityReport } from '../../src/capacity/report.js';
import { availability, identity, MOMENT } from './samples.js';
import { fixtureFolder } from '../fixtures.js';
import { CARE_TYPE_SYSTEM } from '../../src/vocabulary/canonical.js';

const fixtures = fixtureFolder('capacity');
const readFixture = (file: string) => JSON.parse(readFileSync(path.join(fixtures, file), 'utf8'));
const provider = identity({ ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [] });

const population = (code: string, count: unknown) => ({ code: { coding: [{ system: POPULATION_SYSTEM, code }] }, count });
const group = (careType: string, ...populations: unknown[]) => ({
  code: { coding: [{ system: CARE_TYPE_SYSTEM, code: careType }] },
  population: populations,
});
const report = (groups: unknown[], extra: Record<string, unknown> = {}) => ({
  resourceType: 'MeasureReport',
  status: 'complete',
  type: 'summary',
  date: '2025-03-14T09:31:00+01:00',
  period: { start: '2025-03-14T09:30:00+01:00', end: '2025-03-14T09:30:00+01:00' },
  group: groups,
  ...extra,
});

describe('intake of a MeasureReport from the provider EHR', () => {
  it('property: reads back every availability it renders', () => {
    fc.assert(fc.property(availability, (counts) => expect(readAvailabilityReport(availabilityReport(provider, counts, MOMENT.toISOString()), MOMENT)).toEqual(counts)));
  });

  it('keeps internal data out of the model and reads data-absent-reason on count or population', () => {
    const result = readAvailabilityReport(
      report(
        [
          group('elv-hoog', population('available', 3), population('total', 10), { code: { coding: [{ system: 'http://ehr.example/pop', code: 'tarief' }] }, count: 312 }),
          group('grz', {
            code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] },
            _count: { extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: 'temp-unknown' }] },
          }),
          group('wlz-crisis', { code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] }, extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: 'masked' }] }),
        ],
        { extension: [{ url: 'http://vvt.example/omzetplafond', valueDecimal: 1e6 }], contained: [{ resourceType: 'Contract' }] },
      ),
      MOMENT,
    );
    expect(result).toEqual({
      measuredAt: '2025-03-14T08:30:00.000Z',
      groups: [
        { careType: 'elv-hoog', available: 3, total: 10 },
        { careType: 'grz', available: { absent: 'temp-unknown' } },
        { careType: 'wlz-crisis', available: { absent: 'masked' } },
      ],
    });
  });

  it.each([
    ['a non-MeasureReport', { resourceType: 'Patient' }, 'bad-request', undefined],
    ['a pending report', report([group('grz', population('available', 1))], { status: 'pending' }), 'unprocessable', 'MeasureReport.status'],
    ['a measurement time without time zone', report([group('grz', population('available', 1))], { period: { start: '2025-03-14T09:30:00', end: '2025-03-14T09:30:00' } }), 'unprocessable', 'MeasureReport.period.end'],
    ['a measurement time in the future', report([group('grz', population('available', 1))], { period: { start: '2025-03-15T09:30:00Z', end: '2025-03-15T09:30:00Z' } }), 'unprocessable', 'MeasureReport.period.end'],
    ['a day as measurement time', report([group('grz', population('available', 1))], { period: { start: '2025-03-14', end: '2025-03-14' } }), 'unprocessable', 'MeasureReport.period.end'],
    ['no groups', report([]), 'unprocessable', 'MeasureReport.group'],
    ['an unknown care type', report([group('ic-bed', population('available', 1))]), 'unprocessable', 'MeasureReport.group[0].code'],
    ['a care type twice', report([group('grz', population('available', 1)), group('grz', population('available', 2))]), 'unprocessable', 'MeasureReport.group'],
    ['no available population', report([group('grz', population('total', 4))]), 'unprocessable', 'MeasureReport.group[0].population'],
    ['a negative count', report([group('grz', population('available', -1))]), 'unprocessable', 'MeasureReport.group[0].population[0].count'],
    ['a count as text', report([group('grz', population('available', '2'))]), 'unprocessable', 'MeasureReport.group[0].population[0].count'],
    ['neither count nor reason', report([group('grz', { code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] } })]), 'unprocessable', 'MeasureReport.group[0].population[0].count'],
    ['available above total', report([group('grz', population('available', 5), population('total', 4))]), 'unprocessable', 'MeasureReport.group[0].population'],
    ['an unknown population of ours', report([group('grz', population('available', 1), population('occupied', 4))]), 'unprocessable', 'MeasureReport.group[0].population[1].code'],
  ])('rejects %s with an OperationOutcome that says where', (_, input, kind, expression) => {
    const result = readAvailabilityReport(input, MOMENT);
    expect(result).toMatchObject({ resourceType: 'OperationOutcome', id: kind });
    if (expression) expect((result as { issue: { expression?: string[] }[] }).issue.map((item) => item.expression?.[0])).toContain(expression);
  });

  it('rejects the SANER hospital example: its groups are no Dutch care types', () => {
    const result = readAvailabilityReport(readFixture('saner/MeasureReport-ExampleNJ-20200404-CDCPatientImpactAndHospitalCapacity.json'), MOMENT);
    expect(result).toMatchObject({ id: 'unprocessable' });
    expect((result as { issue: { code: string }[] }).issue.every((item) => ['code-invalid', 'value'].includes(item.code))).toBe(true);
  });
});

describe('intake of bed-level Locations', () => {
  const bedsFixture = readFixture('learning-spike-erp/Org-1067-beds.json');
  /** The fixture's beds, given a care type by their US bed type, as a Dutch EHR would send them. */
  const census = (careTypeOf: (bedType: string) => string) => ({
    ...bedsFixture,
    timestamp: '2025-03-14T09:00:00Z',
    entry: bedsFixture.entry.map((entry: { resource: { type: { coding: { code: string }[] }[] } }) => ({
      resource: {
        ...entry.resource,
        type: [...entry.resource.type, { coding: [{ system: CARE_TYPE_SYSTEM, code: careTypeOf(entry.resource.type[0].coding[0].code) }] }],
        extension: [{ url: 'http://vvt.example/bedtarief', valueMoney: { value: 250, currency: 'EUR' } }],
      },
    })),
  });

  it('counts the fixture census per care type: U free, C closed, everything else in operation', () => {
    const beds: { resource: { status: string; operationalStatus: { code: string }; type: { coding: { code: string }[] }[] } }[] = bedsFixture.entry;
    const inOperation = (bed: (typeof beds)[number]) => bed.resource.status === 'active' && bed.resource.operationalStatus.code !== 'C';
    const careTypeOf = (bedType: string) => (bedType === 'ICU' ? 'elv-hoog' : 'grz');
    const result = countBedLocations(census(careTypeOf), MOMENT);
    const expected = ['elv-hoog', 'grz']
      .map((careType) => beds.filter((bed) => careTypeOf(bed.resource.type[0].coding[0].code) === careType))
      .filter((group) => group.length > 0)
      .map((group) => ({
        careType: careTypeOf(group[0].resource.type[0].coding[0].code),
        available: group.filter((bed) => inOperation(bed) && bed.resource.operationalStatus.code === 'U').length,
        total: group.filter(inOperation).length,
      }));
    expect(result).toEqual({ measuredAt: '2025-03-14T09:00:00.000Z', groups: expected });
    expect(expected.reduce((sum, group) => sum + group.total, 0)).toBeGreaterThan(0);
  });

  const bed = (status: string, careType = 'elv-laag', extra: Record<string, unknown> = {}) => ({
    resource: {
      resourceType: 'Location',
      operationalStatus: { system: BED_STATUS_SYSTEM, code: status },
      type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: careType }] }],
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] },
      ...extra,
    },
  });

  it('leaves suspended and inactive beds out and stamps the census with now when it has no timestamp', () => {
    const result = countBedLocations(
      { resourceType: 'Bundle', type: 'collection', entry: [bed('U'), bed('U', 'elv-laag', { status: 'suspended' }), bed('O'), bed('H'), bed('C'), bed('U', 'elv-laag', { status: 'inactive' })] },
      MOMENT,
    );
    expect(result).toEqual({ measuredAt: MOMENT.toISOString(), groups: [{ careType: 'elv-laag', available: 1, total: 3 }] });
  });

  it.each([
    ['a bed without care type', bed('U', 'icu')],
    ['a bed for home care', bed('U', 'wijkverpleging-intake')],
    ['a bed with an unknown status', bed('X')],
    ['a room instead of a bed', bed('U', 'grz', { physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'ro' }] } })],
    ['a Patient', { resource: { resourceType: 'Patient' } }],
  ])('rejects %s', (_, entry) => {
    expect(countBedLocations({ resourceType: 'Bundle', type: 'collection', entry: [bed('U'), entry] }, MOMENT)).toMatchObject({
      resourceType: 'OperationOutcome',
      id: 'unprocessable',
      issue: [{ expression: [expect.stringMatching(/^Bundle\.entry\[1\]\.resource/)] }],
    });
  });

  it('rejects an empty census and anything but a Bundle', () => {
    expect(countBedLocations({ resourceType: 'Bundle', type: 'collection' }, MOMENT)).toMatchObject({ id: 'unprocessable' });
    expect(countBedLocations({ resourceType: 'Location' }, MOMENT)).toMatchObject({ id: 'bad-request' });
  });
});

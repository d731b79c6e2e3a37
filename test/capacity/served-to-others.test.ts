import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pino } from 'pino';
import { ENDPOINT_CONNECTION_TYPE_SYSTEM, ENDPOINT_ROLE_SYSTEM } from '../../src/capacity/canonical.js';
import { shownToOthers } from '../../src/capacity/coordination/served.js';
import { CoordinationPoint, listedPublishers } from '../../src/capacity/coordination/service.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import type { Resource } from '../../src/fhir/version.js';
import { fhirCall } from '../harness/calls.js';
import { world, type World } from '../subscriptions/support.js';
import { endpoint, organization, source, type ProviderSample } from './samples.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * Finding 7 of issue 12: everything another organisation reads at a coordination point passes the egress allowlist
 * on the way out, whoever stored it. The point's own EHR writes availability reports and directory resources
 * (MeasureReport, Organization, Endpoint, HealthcareService, Location) carrying tariffs, narrative, tags and
 * internal identifiers; a hospital (purpose capacity-subscription) reads, searches, includes and matches them.
 */
let w: World;
let ehr: string;
let hospital: string;

beforeAll(async () => {
  w = await world({ providers: 1 });
  [ehr, hospital] = await Promise.all([w.ehr(), w.hospitalToken()]);
  expect(await w.publish(w.providers[0], [['elv-hoog', 3]])).toBe(201);
}, 60_000);
afterAll(async () => {
  await w?.close();
});

const sample = (ura: string): ProviderSample => ({
  ura,
  name: `Zorggroep ${ura}`,
  postalCode: '3011 AB',
  region: 'rijnmond',
  endpoints: [{ role: 'notification', address: `https://vvt${ura}.example/notify` }],
});

/**
 * What the point's own EHR stores: an availability report written over the stored publication of a provider it
 * trusts (`publisher`), and a small directory of its own.
 */
function directory(run: string, publisher: { ura: string; name: string }): Resource[] {
  const provider = sample(`5${run.padStart(7, '0')}`);
  const report = buildAvailabilityPayload(
    source({ ...sample(publisher.ura), name: publisher.name }, { measuredAt: new Date(Date.now() - 60_000).toISOString(), groups: [{ careType: 'grz', available: 2 }] }, new Date()),
  );
  return [
    { ...report, id: `ura-${publisher.ura}` },
    { ...organization(provider), id: `org-${run}`, endpoint: [{ reference: `Endpoint/ep-${run}` }] },
    { ...endpoint('notification', `https://vvt${run}.example/notify`), id: `ep-${run}` },
    { resourceType: 'Location', id: `site-${run}`, status: 'active', name: 'Locatie Noord', managingOrganization: { reference: `Organization/org-${run}` } },
    {
      resourceType: 'HealthcareService',
      id: `hs-${run}`,
      active: true,
      name: 'ELV hoog',
      providedBy: { reference: `Organization/org-${run}` },
      location: [{ reference: `Location/site-${run}` }],
      endpoint: [{ reference: `Endpoint/ep-${run}` }],
    },
  ];
}

type Injection = (resource: Record<string, any>, mark: string) => void;

/** Extra content an EHR may store on any resource (valid FHIR, so the store takes it): each carries the marker. */
const ANYWHERE: Record<string, Injection> = {
  tariff: (resource, mark) => (resource.extension = [...(resource.extension ?? []), { url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueString: mark }]),
  narrative: (resource, mark) => (resource.text = { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${mark}</div>` }),
  tag: (resource, mark) => (resource.meta = { ...resource.meta, tag: [{ system: 'http://vvt.example/tags', code: mark }] }),
  security: (resource, mark) => (resource.meta = { ...resource.meta, security: [{ system: 'http://vvt.example/security', code: mark }] }),
  identifier: (resource, mark) => (resource.identifier = [...(resource.identifier ?? []), { system: 'http://vvt.example/intern', value: mark }]),
  contractIdentifier: (resource, mark) => (resource.identifier = [...(resource.identifier ?? []), { system: URA_SYSTEM, value: mark }]),
};
const BY_TYPE: Record<string, Record<string, Injection>> = {
  MeasureReport: {
    groupText: (report, mark) => (report.group[0].code.text = mark),
    populationDisplay: (report, mark) => (report.group[0].population[0].code.coding[0].display = mark),
    containedTelecom: (report, mark) => (report.contained[0].telecom = [{ system: 'phone', value: mark }]),
    containedExtension: (report, mark) => (report.contained[0].extension = [...report.contained[0].extension, { url: 'http://vvt.example/omzetplafond', valueString: mark }]),
    containedEndpointName: (report, mark) => (report.contained[1].name = mark),
  },
  Organization: {
    telecom: (resource, mark) => (resource.telecom = [{ system: 'phone', value: mark }]),
    alias: (resource, mark) => (resource.alias = [mark]),
    addressLine: (resource, mark) => (resource.address[0].line = [mark]),
  },
  Endpoint: {
    name: (resource, mark) => (resource.name = mark),
    header: (resource, mark) => (resource.header = [`X-Contract: ${mark}`]),
  },
  Location: { description: (resource, mark) => (resource.description = mark) },
  HealthcareService: { comment: (resource, mark) => (resource.comment = mark) },
};

const injections = (type: string) => fc.subarray(Object.entries({ ...ANYWHERE, ...BY_TYPE[type] }), { minLength: 1 });
const TYPES = ['MeasureReport', 'Organization', 'Endpoint', 'Location', 'HealthcareService'];

/** Every way the hospital can read what the EHR stored in `run`: reads, searches, includes, $match-capacity. */
function readsOf(run: string): string[] {
  return [
    ...directory(run, w.providers[0]).flatMap((resource) => [`/fhir/${resource.resourceType}/${resource.id}`, `/fhir/${resource.resourceType}?_id=${resource.id}`]),
    '/fhir/MeasureReport?_count=100',
    `/fhir/HealthcareService?_id=hs-${run}&_include=HealthcareService:organization&_include=HealthcareService:location&_include=HealthcareService:endpoint`,
    `/fhir/Organization?_id=org-${run}&_include=Organization:endpoint&_revinclude=HealthcareService:organization&_revinclude=Location:organization`,
    `/fhir/Location?_id=site-${run}&_include=Location:organization`,
    '/fhir/MeasureReport/$match-capacity?care-type=grz&region=rijnmond&include-unknown=true',
  ];
}

describe('a coordination point serves other organisations only what the egress allowlist lets through', () => {
  it("a report its own EHR stored with a tariff, narrative and tags is shown to a hospital without them, and only if it is on the board", async () => {
    const [report] = directory('1', w.providers[0]);
    const { id, ...posted } = { ...report, extension: [{ url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueMoney: { value: 312.5, currency: 'EUR' } }] };
    const raw = { ...posted, text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">tarief 312,50</div>' }, meta: { ...posted.meta, tag: [{ code: 'contract-zk-a' }] } };
    const searched = async (reportId: string) => {
      const answer = await fhirCall(w.url, hospital, 'GET', `/fhir/MeasureReport?_id=${reportId}`);
      expect([answer.status, JSON.stringify(answer.body)]).toEqual([200, expect.not.stringMatching(/tarief|312|contract-zk-a|"text"/)]);
      return (answer.body.entry as { resource: Resource }[]).map((entry) => entry.resource);
    };

    const own = await fhirCall(w.url, ehr, 'POST', '/fhir/MeasureReport', raw);
    expect(own.status).toBe(201);
    expect(await searched(String(own.body.id))).toEqual([]);

    expect((await fhirCall(w.url, ehr, 'PUT', `/fhir/MeasureReport/${id}`, { ...raw, id })).status).toBe(200);
    expect(await searched(String(id))).toMatchObject([{ id, reporter: { reference: '#provider', identifier: { value: w.providers[0].ura } } }]);
    expect((await fhirCall(w.url, ehr, 'GET', `/fhir/MeasureReport/${id}`)).body).toMatchObject({ extension: raw.extension, text: raw.text });
  });

  it("shows the directory by the allowlist's rules, and never a bed", async () => {
    const [, ...resources] = directory('2', w.providers[0]);
    for (const resource of resources) expect((await fhirCall(w.url, ehr, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource)).status).toBe(201);
    const read = async (path: string) => (await fhirCall(w.url, hospital, 'GET', path)).body;
    expect(await read('/fhir/Organization/org-2')).toEqual({
      resourceType: 'Organization',
      id: 'org-2',
      meta: { versionId: '1', lastUpdated: expect.any(String), profile: [expect.stringContaining('provider-organization')] },
      extension: resources[0].extension,
      identifier: resources[0].identifier,
      name: resources[0].name,
      address: [{ postalCode: '3011 AB' }],
    });
    expect(await read('/fhir/Endpoint/ep-2')).toMatchObject({ id: 'ep-2', connectionType: { system: ENDPOINT_CONNECTION_TYPE_SYSTEM }, payloadType: [{ coding: [{ system: ENDPOINT_ROLE_SYSTEM }] }] });
    const storeMeta = { versionId: '1', lastUpdated: expect.any(String) };
    expect(await read('/fhir/Location/site-2')).toEqual({ ...resources[2], meta: storeMeta });
    expect(await read('/fhir/HealthcareService/hs-2')).toEqual({ ...resources[3], meta: storeMeta });
    const bed = { resourceType: 'Location', id: 'bed-2', status: 'active', name: 'Bed 2', physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] }, managingOrganization: { reference: 'Organization/org-2' } };
    expect((await fhirCall(w.url, ehr, 'PUT', '/fhir/Location/bed-2', bed)).status).toBe(201);
    expect(await read('/fhir/Location/bed-2')).toMatchObject({ resourceType: 'OperationOutcome', id: 'not-found' });
    expect(await read('/fhir/Location?organization=org-2')).toMatchObject({ entry: [{ resource: { id: 'site-2' } }] });
    const published = await read(`/fhir/MeasureReport/ura-${w.providers[0].ura}`);
    expect(published).toMatchObject({ id: `ura-${w.providers[0].ura}`, reporter: { identifier: { value: w.providers[0].ura } } });
  });

  it('lets a hospital or hub discover the published SubscriptionTopics, and withholds any other Basic resource', async () => {
    const note = { resourceType: 'Basic', id: 'internal-note', code: { text: 'contract' }, extension: [{ url: 'https://example.org/tariff', valueString: '312 euro' }] };
    expect((await fhirCall(w.url, ehr, 'PUT', '/fhir/Basic/internal-note', note)).status).toBe(201);
    const topics = await fhirCall(w.url, hospital, 'GET', '/fhir/Basic?code=SubscriptionTopic');
    expect(topics.status).toBe(200);
    expect((topics.body.entry as { resource: { id: string } }[]).map((entry) => entry.resource.id).sort()).toEqual(['capacity-changed', 'task-status-changed']);
    const all = await fhirCall(w.url, hospital, 'GET', '/fhir/Basic');
    expect(JSON.stringify(all.body)).not.toContain('internal-note');
    expect((await fhirCall(w.url, hospital, 'GET', '/fhir/Basic/internal-note')).body).toMatchObject({ resourceType: 'OperationOutcome', id: 'not-found' });
    expect((await fhirCall(w.url, hospital, 'GET', '/fhir/Basic/capacity-changed')).status).toBe(200);
  });

  it("leaves out an _include'd resource the hospital may not read itself (a Patient of the point's own)", async () => {
    const patient = { resourceType: 'Patient', id: 'patient-3', name: [{ family: 'Jansen' }], managingOrganization: { reference: 'Organization/org-3' } };
    for (const resource of [directory('3', w.providers[0])[1], patient]) {
      expect((await fhirCall(w.url, ehr, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource)).status).toBe(201);
    }
    const path = '/fhir/Organization?_id=org-3&_revinclude=Patient:organization';
    expect((await fhirCall(w.url, ehr, 'GET', path)).body.entry).toHaveLength(2);
    const searched = await fhirCall(w.url, hospital, 'GET', path);
    expect((searched.body.entry as { resource: Resource }[]).map((entry) => entry.resource.resourceType)).toEqual(['Organization']);
    expect((await fhirCall(w.url, hospital, 'GET', '/fhir/Patient/patient-3')).status).toBe(403);
  });

  it('property: no extra content the EHR writes reaches a hospital, through any read, search, include or $match-capacity', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z0-9]{6,10}$/).map((text) => `leak${text}`),
        fc.tuple(...TYPES.map(injections)),
        async (mark, chosen) => {
          const run = String(100 + runs++);
          const resources = directory(run, w.providers[0]).map((resource, index) => {
            const injected = structuredClone(resource) as Record<string, any>;
            for (const [, inject] of chosen[index]) inject(injected, mark);
            return injected as Resource;
          });
          for (const resource of resources) {
            const written = await fhirCall(w.url, ehr, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource);
            expect([written.status < 300, written.body.issue]).toEqual([true, undefined]);
          }
          for (const path of readsOf(run)) {
            const answer = await fhirCall(w.url, hospital, 'GET', path);
            expect([path, answer.status < 500]).toEqual([path, true]);
            expect([path, JSON.stringify(answer.body)]).toEqual([path, expect.not.stringContaining(mark)]);
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});

/**
 * The same on the projection alone, for what the store may hold from before (content today's validator refuses):
 * arbitrary fields with arbitrary values, put on any object of any directory resource, never come out.
 */
describe('what another organisation is shown of a stored directory resource', () => {
  const publisher = { ura: '66666666', name: 'Zorggroep Maas' };
  const point = new CoordinationPoint({ publishers: listedPublishers([{ id: 'vvt-maas', ...publisher, endpoints: {} }]), staleAfterMs: 3_600_000, logger: pino({ level: 'silent' }) });
  const shown = (resource: Resource) => shownToOthers(resource, (report) => point.shownReport(report, new Date()));
  const MARK = '§';
  const marked = fc.string({ maxLength: 8 }).map((text) => `${MARK}${text}`);
  const junkKey = fc.oneof(
    fc.constantFrom('tarief', 'omzetplafond', 'contract', 'clientStop', 'note', 'text', 'contained', 'modifierExtension', 'telecom', 'alias', 'managingOrganization', 'header', 'name_', 'Identifier'),
    fc.stringMatching(/^x[A-Za-z]{0,8}$/),
  );
  const junkValue = fc.oneof(marked, fc.array(marked, { maxLength: 2 }), fc.dictionary(fc.constantFrom('value', 'url', 'system', 'display', 'div'), marked, { maxKeys: 3 }));

  /** Every object in a resource, in document order. */
  function objectsIn(value: unknown): Record<string, unknown>[] {
    const found: Record<string, unknown>[] = [];
    const pending = [value];
    for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
      if (Array.isArray(next)) pending.push(...next);
      else if (typeof next === 'object' && next !== null) {
        found.push(next as Record<string, unknown>);
        pending.push(...Object.values(next));
      }
    }
    return found;
  }

  it('property: shows none of it, and shows the clean resource as it would be shown without it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.tuple(fc.nat(), junkKey, junkValue), { minLength: 1, maxLength: 12 }), (index, junk) => {
        const clean = directory('7', publisher)[index];
        const stored = structuredClone(clean) as Record<string, unknown>;
        for (const [at, key, value] of junk) {
          const targets = objectsIn(stored);
          targets[at % targets.length][key] = value;
        }
        const result = shown(stored as Resource);
        expect(JSON.stringify(result ?? {})).not.toContain(MARK);
        if (result) expect(result).toEqual(shown(clean));
      }),
      { numRuns: 500 },
    );
  });
});

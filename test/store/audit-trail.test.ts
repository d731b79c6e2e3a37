import { beforeAll, describe, expect, it } from '@jest/globals';
import { parseSearchRequest, type SearchQuery } from '../../src/fhir/search/index.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const REST = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';

interface Shape {
  recorded: string;
  patient?: string;
  what?: string;
  outcome?: string;
  requester?: string;
  subtype?: string;
}

/** An access to patient data as the auditor writes it (auditor.ts), or a token event without patient and resource. */
function auditEvent({ recorded, patient, what, outcome = '0', requester = 'ehr-1', subtype = 'read' }: Shape): Resource {
  return {
    resourceType: 'AuditEvent',
    type: patient || what ? { system: REST, code: 'rest' } : { system: DCM, code: '110114' },
    subtype: [patient || what ? { system: INTERACTION, code: subtype } : { system: DCM, code: '110122' }],
    action: 'R',
    recorded,
    outcome,
    agent: [{ who: { identifier: { system: 'urn:ehr', value: requester } }, requestor: true }],
    source: { observer: { display: 'gw' } },
    entity: [
      ...(patient ? [{ what: { reference: patient } }] : []),
      ...(what ? [{ what: { reference: what } }] : [{ what: { identifier: { value: 'token-1' } } }]),
    ],
  };
}

describe.each(backends)('audit trail on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  let scope: Scope;
  let events: Resource[];

  beforeAll(async () => {
    store = await backend.open();
    scope = { tenant: freshTenant('trail'), version: 'r4' };
    const shapes: Shape[] = [
      { recorded: '2026-03-01T10:00:00Z', patient: 'Patient/p1', what: 'Task/t1' },
      { recorded: '2026-03-01T11:00:00Z', patient: 'Patient/p2', what: 'Task/t2', outcome: '4', requester: 'ehr-2' },
      { recorded: '2026-03-02T09:00:00Z', patient: 'Patient/p1', what: 'Composition/c1', subtype: 'search-type' },
      { recorded: '2026-03-03T08:00:00Z' },
    ];
    events = [];
    for (const shape of shapes) events.push(await store.audit.append(scope.tenant, auditEvent(shape)));
  });

  const ids = async (query: SearchQuery, on: Scope = scope) =>
    (await store.resources.search(on, parseSearchRequest('r4', 'AuditEvent', query))).resources.map((resource) => resource.id);
  const idsOf = (...indexes: number[]) => indexes.map((index) => events[index].id);

  it('gives each event an id and version 1, with its recorded time as lastUpdated, and reads it back', async () => {
    const [first] = events;
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.meta).toEqual({ versionId: '1', lastUpdated: '2026-03-01T10:00:00.000Z' });
    expect(await store.resources.read(scope, 'AuditEvent', first.id as string)).toEqual(first);
    expect(await store.resources.vread(scope, 'AuditEvent', first.id as string, '1')).toEqual(first);
    await expect(store.resources.vread(scope, 'AuditEvent', first.id as string, '2')).rejects.toMatchObject({ outcome: { id: 'not-found' } });
  });

  it('answers who saw which patient, which resource, what an agent did, and what was refused', async () => {
    expect(await ids({ patient: 'Patient/p1' })).toEqual(idsOf(0, 2));
    expect(await ids({ patient: 'p2' })).toEqual(idsOf(1));
    expect(await ids({ patient: 'https://gw.example/fhir/Patient/p1' })).toEqual(idsOf(0, 2));
    expect(await ids({ entity: 'Task/t1,Composition/c1' })).toEqual(idsOf(0, 2));
    expect(await ids({ 'entity:identifier': 'token-1' })).toEqual(idsOf(3));
    expect(await ids({ 'agent:identifier': 'urn:ehr|ehr-2' })).toEqual(idsOf(1));
    expect(await ids({ 'agent:identifier': 'ehr-1' })).toEqual(idsOf(0, 2, 3));
    expect(await ids({ 'agent:identifier': 'urn:other|ehr-1' })).toEqual([]);
    expect(await ids({ outcome: '4' })).toEqual(idsOf(1));
    expect(await ids({ 'outcome:not': '4' })).toEqual(idsOf(0, 2, 3));
  });

  it('searches by type and subtype codes, with or without their system', async () => {
    expect(await ids({ type: `${DCM}|110114` })).toEqual(idsOf(3));
    expect(await ids({ type: 'rest' })).toEqual(idsOf(0, 1, 2));
    expect(await ids({ subtype: 'search-type' })).toEqual(idsOf(2));
    expect(await ids({ 'subtype:not': `${INTERACTION}|read` })).toEqual(idsOf(2, 3));
    expect(await ids({ type: 'other|rest' })).toEqual([]);
  });

  it('searches recorded by date prefixes and _lastUpdated, and sorts by it', async () => {
    expect(await ids({ date: '2026-03-01' })).toEqual(idsOf(0, 1));
    expect(await ids({ date: ['ge2026-03-01T10:30:00Z', 'lt2026-03-03'] })).toEqual(idsOf(1, 2));
    expect(await ids({ date: 'gt2026-03-02' })).toEqual(idsOf(3));
    expect(await ids({ _lastUpdated: 'le2026-03-01T10:00:00Z' })).toEqual(idsOf(0));
    expect(await ids({ _sort: '-date' })).toEqual(idsOf(3, 2, 1, 0));
    expect(await ids({ _id: `${events[2].id},${events[0].id}` })).toEqual(idsOf(0, 2));
  });

  it('pages, and counts the matches when asked', async () => {
    const first = await store.resources.search(scope, parseSearchRequest('r4', 'AuditEvent', { _count: '3', _total: 'accurate' }));
    expect(first.resources.map((resource) => resource.id)).toEqual(idsOf(0, 1, 2));
    expect(first).toMatchObject({ hasMore: true, total: 4 });
    const second = await store.resources.search(scope, parseSearchRequest('r4', 'AuditEvent', { _count: '3', _offset: '3' }));
    expect(second.resources.map((resource) => resource.id)).toEqual(idsOf(3));
    expect(second.hasMore).toBe(false);
  });

  it("keeps each tenant's trail to itself", async () => {
    const other: Scope = { tenant: freshTenant('trail-other'), version: 'r4' };
    expect(await ids({}, other)).toEqual([]);
    await expect(store.resources.read(other, 'AuditEvent', events[0].id as string)).rejects.toMatchObject({ outcome: { id: 'not-found' } });
  });

  it('refuses every write of an AuditEvent (405), and its history', async () => {
    const refused = { outcome: { id: 'not-allowed' } };
    await expect(store.resources.create(scope, auditEvent({ recorded: '2026-03-04T00:00:00Z' }))).rejects.toMatchObject(refused);
    await expect(store.resources.update(scope, { ...events[0], outcome: '0' })).rejects.toMatchObject(refused);
    await expect(store.resources.delete(scope, 'AuditEvent', events[0].id as string)).rejects.toMatchObject(refused);
    await expect(store.resources.history(scope, { resourceType: 'AuditEvent', count: 10 })).rejects.toMatchObject(refused);
    expect(await ids({})).toHaveLength(4);
  });

  it('refuses what the trail does not answer with a 400, and points STU3 callers to the R4 base', async () => {
    const search = (type: string, query: SearchQuery) => store.resources.search(scope, parseSearchRequest('r4', type, query));
    await expect(search('AuditEvent', { _include: 'AuditEvent:patient' })).rejects.toMatchObject({ outcome: { id: 'bad-request' } });
    await expect(search('Task', { _revinclude: 'AuditEvent:entity' })).rejects.toMatchObject({ outcome: { id: 'bad-request' } });
    await expect(search('AuditEvent', { 'patient:missing': 'true' })).rejects.toMatchObject({ outcome: { id: 'bad-request' } });
    await expect(search('AuditEvent', { _sort: 'outcome' })).rejects.toMatchObject({ outcome: { id: 'bad-request' } });
    const stu3: Scope = { ...scope, version: 'stu3' };
    await expect(store.resources.search(stu3, parseSearchRequest('stu3', 'AuditEvent', {}))).rejects.toMatchObject({ outcome: { id: 'not-found' } });
  });

  it('appends inside a transaction: rolled back, the event is gone', async () => {
    const tenant = freshTenant('trail-rollback');
    await expect(
      store.transaction(async (tx) => {
        await tx.audit.append(tenant, auditEvent({ recorded: '2026-03-05T00:00:00Z', patient: 'Patient/p9', what: 'Task/t9' }));
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await ids({ patient: 'Patient/p9' }, { tenant, version: 'r4' })).toEqual([]);
  });
});

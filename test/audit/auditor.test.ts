import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createAuditor, type Auditor } from '../../src/audit/auditor.js';
import { isPatientData, patientCompartment, patientReferences } from '../../src/audit/patientData.js';
import type { Principal } from '../../src/fhir/principal.js';
import type { Resource } from '../../src/fhir/version.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { temporaryFolder } from '../harness/folders.js';

let store: Store;
let auditor: Auditor;
const recorded = Date.parse('2026-03-01T10:00:00Z');

beforeAll(async () => {
  store = await openStore({ dataDir: temporaryFolder('auth-test-') });
  auditor = createAuditor(store, { observer: 'https://gw.test', clock: () => recorded });
});
afterAll(() => store.close());

const trail = async (tenant: string) =>
  (await store.resources.search({ tenant, version: 'r4' }, { resourceType: 'AuditEvent', params: [], count: 100, offset: 0, sort: [], include: [], revinclude: [], total: 'none' }))
    .resources as (Resource & Record<string, unknown>)[];

const receiver: Principal = {
  tenant: 'hospital',
  kind: 'organization',
  requester: 'vvt-a',
  purposeOfUse: 'eOverdracht-sender',
  resources: [],
  person: { identifier: 'nurse-1', name: 'N. Urse', role: 'nurse' },
  tokenId: 'tok-1',
};

describe('auditor', () => {
  it("writes who, for which organisation, which patient, what, when and the outcome into the tenant's trail", async () => {
    await auditor.record({
      type: 'access',
      principal: receiver,
      request: { version: 'stu3', operation: 'read', path: '/Composition/c1', resourceType: 'Composition' },
      outcome: 'success',
      patients: ['Patient/p1'],
      resources: ['Composition/c1'],
    });
    const [event] = await trail('hospital');
    expect(event).toMatchObject({
      resourceType: 'AuditEvent',
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }],
      action: 'R',
      recorded: '2026-03-01T10:00:00.000Z',
      outcome: '0',
      purposeOfEvent: [{ text: 'eOverdracht-sender' }],
      agent: [
        { who: { identifier: { value: 'vvt-a' } }, requestor: true },
        { who: { identifier: { value: 'nurse-1' }, display: 'N. Urse' }, role: [{ text: 'nurse' }] },
      ],
      source: { observer: { display: 'https://gw.test' } },
      entity: [
        { what: { reference: 'Patient/p1' }, role: { code: '1', display: 'Patient' } },
        { what: { reference: 'Composition/c1' }, description: 'STU3 fhir' },
      ],
    });
    expect(await trail('vvt-a')).toEqual([]);
  });

  it('records refused searches with their query', async () => {
    await auditor.record({
      type: 'access',
      principal: { ...receiver, tenant: 'search-tenant' },
      request: { version: 'r4', operation: 'search', path: '/Observation', resourceType: 'Observation' },
      outcome: 'refused',
      query: 'patient=p1',
      description: 'not granted',
    });
    const [event] = await trail('search-tenant');
    expect(event).toMatchObject({ subtype: [{ code: 'search-type' }], outcome: '4', outcomeDesc: 'not granted' });
    const query = (event!.entity as { query?: string }[]).find((entity) => entity.query)!.query!;
    expect(Buffer.from(query, 'base64').toString()).toBe('/Observation?patient=p1');
  });

  it('records token events as DICOM user authentication', async () => {
    await auditor.record({ type: 'token', tenant: 'token-tenant', requester: 'ehr-1', requesterKind: 'ehr', outcome: 'success', tokenId: 'jti-9' });
    const [event] = await trail('token-tenant');
    expect(event).toMatchObject({
      type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110114' },
      subtype: [{ code: '110122' }],
      agent: [{ who: { identifier: { system: expect.stringMatching(/ehr-client-id$/), value: 'ehr-1' } } }],
      entity: [{ what: { identifier: { value: 'jti-9' } } }],
    });
  });
});

describe('patient data', () => {
  it('follows the patient CompartmentDefinition of each release', () => {
    expect(isPatientData('Composition', 'stu3')).toBe(true);
    expect(isPatientData('Patient', 'r4')).toBe(true);
    expect(isPatientData('Task', 'r4')).toBe(true);
    expect(isPatientData('ProcedureRequest', 'stu3')).toBe(true);
    expect(isPatientData('ProcedureRequest', 'r4')).toBe(false);
    expect(isPatientData('Organization', 'r4')).toBe(false);
    expect(isPatientData('HealthcareService', 'stu3')).toBe(false);
  });

  it('reads the same STU3 patient compartment as a parse of the whole bundle', () => {
    const file = createRequire(import.meta.url).resolve('fhir-stu3/profiles/stu3/profiles-resources.json');
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as fhir3.Bundle;
    const definition = bundle.entry?.find(({ resource }) => resource?.resourceType === 'CompartmentDefinition' && resource.code === 'Patient')?.resource as fhir3.CompartmentDefinition;
    const members = (definition.resource ?? []).filter((entry) => (entry.param ?? []).length > 0).map((entry) => entry.code);
    expect(members.length).toBeGreaterThan(20);
    expect([...patientCompartment('stu3')].sort()).toEqual(members.sort());
  });

  it('names the patients a resource is about', () => {
    expect(patientReferences({ resourceType: 'Patient', id: 'p1' })).toEqual(['Patient/p1']);
    expect(patientReferences({ resourceType: 'Observation', subject: { reference: 'Patient/p2' } })).toEqual(['Patient/p2']);
    expect(patientReferences({ resourceType: 'Task', for: { reference: 'https://x.test/fhir/Patient/p3' } })).toEqual(['Patient/p3']);
    expect(patientReferences({ resourceType: 'Observation', subject: { reference: 'Group/g1' } })).toEqual([]);
    expect(patientReferences({ resourceType: 'Organization', id: 'o1' })).toEqual([]);
  });
});

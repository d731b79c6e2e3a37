import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/** Batch and transaction Bundles posted to the base, against a real gateway. */
let gateway: TestGateway;
let auth: string;

beforeAll(async () => {
  gateway = await startTestGateway();
  auth = `Bearer ${await gateway.token('tenant-a')}`;
});
afterAll(async () => {
  await gateway?.close();
});

const postBundle = (bundle: unknown, base = '/fhir') =>
  request(gateway.url).post(base).set('Authorization', auth).set('Content-Type', 'application/fhir+json').send(JSON.stringify(bundle));
const get = (path: string) => request(gateway.url).get(path).set('Authorization', auth);

interface ResponseEntry {
  resource?: { resourceType: string; id: string; [key: string]: unknown };
  response: { status: string; location?: string; etag?: string; outcome?: { issue: { expression?: string[] }[] } };
}

const bsn = (value: string) => [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value }];
const condition = (subject: string, text: string) => ({
  resourceType: 'Condition',
  subject: { reference: subject },
  code: { text },
});

describe('batch', () => {
  it('answers every entry on its own, in order, failures included', async () => {
    const { body: existing } = await postBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Patient', identifier: bsn('111222333') }, request: { method: 'POST', url: 'Patient' } }],
    });
    const patientId = (existing.entry[0] as ResponseEntry).resource!.id;
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { request: { method: 'GET', url: `Patient/${patientId}` } },
        { resource: { resourceType: 'Patient', gender: 'not-a-gender' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient?identifier=111222333' } },
        { request: { method: 'DELETE', url: 'Medication/1' } },
        { resource: { resourceType: 'Patient', gender: 'female' }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'PATCH', url: `Patient/${patientId}` } },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.type).toBe('batch-response');
    const entries = response.body.entry as ResponseEntry[];
    expect(entries.map((entry) => entry.response.status)).toEqual([
      '200 OK',
      '422 Unprocessable Entity',
      '200 OK',
      '404 Not Found',
      '201 Created',
      '400 Bad Request',
    ]);
    expect(entries[0].resource!.id).toBe(patientId);
    expect(entries[1].response.outcome!.issue.flatMap((issue) => issue.expression ?? [])).toContain('Patient.gender');
    expect(entries[2].resource).toMatchObject({ resourceType: 'Bundle', type: 'searchset', entry: [{ resource: { id: patientId } }] });
    expect(entries[4].response).toMatchObject({ etag: 'W/"1"', location: expect.stringMatching(/\/fhir\/Patient\/[^/]+\/_history\/1$/) });
  });

  it('answers with the response Bundle whatever Prefer: return asks of the entries', async () => {
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Patient', gender: 'male' }, request: { method: 'POST', url: 'Patient' } }],
    }).set('Prefer', 'return=minimal');
    expect(response.body).toMatchObject({ resourceType: 'Bundle', type: 'batch-response', entry: [{ response: { status: '201 Created' } }] });
  });

  it('refuses a Bundle of another type, and nested batches', async () => {
    expect((await postBundle({ resourceType: 'Bundle', type: 'collection' })).status).toBe(400);
    const nested = await postBundle({
      resourceType: 'Bundle',
      type: 'batch',
      entry: [{ resource: { resourceType: 'Bundle', type: 'batch' }, request: { method: 'POST', url: '/' } }],
    });
    expect((nested.body.entry[0] as ResponseEntry).response.status).toBe('400 Bad Request');
  });
});

describe('transaction', () => {
  it('creates entries in reference order and rewrites urn:uuid references to the ids assigned', async () => {
    const patientUrn = 'urn:uuid:4f1c8c7e-0f5e-4c1f-9e1a-000000000001';
    const conditionUrn = 'urn:uuid:4f1c8c7e-0f5e-4c1f-9e1a-000000000002';
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:4f1c8c7e-0f5e-4c1f-9e1a-000000000003',
          resource: {
            resourceType: 'Flag',
            status: 'active',
            code: { text: 'valrisico' },
            subject: { reference: patientUrn },
            encounter: { reference: 'Encounter/unknown-is-fine' },
          },
          request: { method: 'POST', url: 'Flag' },
        },
        { fullUrl: conditionUrn, resource: condition(patientUrn, 'decubitus'), request: { method: 'POST', url: 'Condition' } },
        { fullUrl: patientUrn, resource: { resourceType: 'Patient', identifier: bsn('999911120') }, request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: `Condition?subject=${patientUrn}` } },
      ],
    });
    expect(response.status).toBe(200);
    expect(response.body.type).toBe('transaction-response');
    const entries = response.body.entry as ResponseEntry[];
    expect(entries.map((entry) => entry.response.status)).toEqual(['201 Created', '201 Created', '201 Created', '200 OK']);
    const patientId = entries[2].resource!.id;
    expect(entries[0].resource!.subject).toEqual({ reference: `Patient/${patientId}` });
    expect(entries[1].resource!.subject).toEqual({ reference: `Patient/${patientId}` });
    expect((await get(`/fhir/Condition/${entries[1].resource!.id}`)).body.subject).toEqual({ reference: `Patient/${patientId}` });
    const found = entries[3].resource as unknown as { entry: { resource: { id: string } }[] };
    expect(found.entry.map((entry) => entry.resource.id)).toEqual([entries[1].resource!.id]);
  });

  it('writes nothing when one entry fails, and says which', async () => {
    const marker = `rollback-${Date.now()}`;
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: { resourceType: 'Patient', identifier: bsn(marker) }, request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', id: 'x', gender: 'wrong' }, request: { method: 'PUT', url: 'Patient/x' } },
      ],
    });
    expect(response.status).toBe(422);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[1]']);
    expect(response.body.issue.flatMap((issue: { expression?: string[] }) => issue.expression ?? [])).toContain('Patient.gender');
    const search = await get(`/fhir/Patient?identifier=${marker}&_total=accurate`);
    expect(search.body.total).toBe(0);
    expect((await get('/fhir/Patient/x')).status).toBe(404);
  });

  it('resolves a conditional create to the existing resource and points references at it', async () => {
    const { body: existing } = await request(gateway.url)
      .post('/fhir/stu3/Patient')
      .set('Authorization', auth)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Patient', identifier: bsn('123456782') }));
    const urn = 'urn:uuid:9a0e1d2c-1111-4a4a-8b8b-000000000001';
    const response = await postBundle(
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: urn,
            resource: { resourceType: 'Patient', identifier: bsn('123456782') },
            request: { method: 'POST', url: 'Patient', ifNoneExist: 'identifier=http://fhir.nl/fhir/NamingSystem/bsn|123456782' },
          },
          { resource: { ...condition(urn, 'delier'), id: 'c-1' }, request: { method: 'PUT', url: 'Condition/c-1' } },
        ],
      },
      '/fhir/stu3',
    );
    expect(response.status).toBe(200);
    const entries = response.body.entry as ResponseEntry[];
    expect(entries[0].response.status).toBe('200 OK');
    expect(entries[0].resource!.id).toBe(existing.id);
    expect(entries[1].resource!.subject).toEqual({ reference: `Patient/${existing.id}` });
  });

  it('refuses entries that reference each other in a cycle', async () => {
    const a = 'urn:uuid:00000000-0000-4000-8000-00000000000a';
    const b = 'urn:uuid:00000000-0000-4000-8000-00000000000b';
    const response = await postBundle({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: a, resource: { resourceType: 'Patient', link: [{ other: { reference: b }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: b, resource: { resourceType: 'Patient', link: [{ other: { reference: a }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
      ],
    });
    expect(response.status).toBe(400);
    expect(response.body.issue[0].expression).toEqual(['Bundle.entry[0]', 'Bundle.entry[1]']);
  });
});

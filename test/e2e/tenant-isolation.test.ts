import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/** Two hosted organisations on one gateway: the same id in both, and nothing of one ever visible to the other. */
let gateway: TestGateway;
const auth: Record<string, string> = {};

beforeAll(async () => {
  gateway = await startTestGateway(['hospital', 'vvt']);
  for (const tenant of ['hospital', 'vvt']) auth[tenant] = `Bearer ${await gateway.token(tenant)}`;
});
afterAll(async () => {
  await gateway?.close();
});

const as = (tenant: string) => ({
  get: (path: string) => request(gateway.url).get(path).set('Authorization', auth[tenant]),
  put: (path: string, body: unknown) =>
    request(gateway.url).put(path).set('Authorization', auth[tenant]).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body)),
  delete: (path: string) => request(gateway.url).delete(path).set('Authorization', auth[tenant]),
});

const patient = (family: string) => ({ resourceType: 'Patient', id: 'shared-id', name: [{ family }], identifier: [{ system: 'urn:test', value: 'same' }] });

describe('tenant isolation over HTTP', () => {
  it('keeps two resources with the same id apart, in every interaction', async () => {
    expect((await as('hospital').put('/fhir/Patient/shared-id', patient('Ziekenhuis'))).status).toBe(201);
    expect((await as('vvt').put('/fhir/Patient/shared-id', patient('Verpleeghuis'))).status).toBe(201);

    expect((await as('hospital').get('/fhir/Patient/shared-id')).body.name).toEqual([{ family: 'Ziekenhuis' }]);
    expect((await as('vvt').get('/fhir/Patient/shared-id')).body.name).toEqual([{ family: 'Verpleeghuis' }]);
    expect((await as('vvt').get('/fhir/Patient/shared-id/_history/1')).body.name).toEqual([{ family: 'Verpleeghuis' }]);

    const hospitalSearch = await as('hospital').get('/fhir/Patient?identifier=urn:test|same&_total=accurate');
    expect(hospitalSearch.body.total).toBe(1);
    expect(hospitalSearch.body.entry[0].resource.name).toEqual([{ family: 'Ziekenhuis' }]);
    const vvtHistory = await as('vvt').get('/fhir/Patient/shared-id/_history');
    expect(vvtHistory.body.entry).toHaveLength(1);

    expect((await as('hospital').delete('/fhir/Patient/shared-id')).status).toBe(200);
    expect((await as('hospital').get('/fhir/Patient/shared-id')).status).toBe(410);
    expect((await as('vvt').get('/fhir/Patient/shared-id')).status).toBe(200);
  });

  it('answers 404, not 403, for what only another tenant has', async () => {
    await as('hospital').put('/fhir/stu3/Patient/only-hospital', { ...patient('Alleen'), id: 'only-hospital' });
    expect((await as('vvt').get('/fhir/stu3/Patient/only-hospital')).status).toBe(404);
    expect((await as('vvt').get('/fhir/stu3/Patient/only-hospital/_history/1')).status).toBe(404);
    const search = await as('vvt').get('/fhir/stu3/Patient?_id=only-hospital');
    expect(search.body.entry ?? []).toEqual([]);
  });

  it('does not let a transaction reach into another tenant', async () => {
    await as('hospital').put('/fhir/Patient/hospital-only', { ...patient('Eigen'), id: 'hospital-only' });
    const response = await request(gateway.url)
      .post('/fhir')
      .set('Authorization', auth.vvt)
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient/hospital-only' } }] }));
    expect(response.status).toBe(404);
  });
});

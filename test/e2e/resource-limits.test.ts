import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { POPULATION_SYSTEM } from '../../src/capacity/canonical.js';
import { CARE_TYPE_SYSTEM } from '../../src/vocabulary/canonical.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/**
 * limits.resourceBytes and limits.resourceElements hold for every resource a client has stored, whichever way it
 * comes in: create, update, conditional create, each entry of a batch or transaction, and the capacity intake.
 */
let gateway: TestGateway;
let auth: string;

beforeAll(async () => {
  gateway = await startTestGateway(['tenant-a'], { limits: { resourceBytes: 4096, resourceElements: 200 } });
  auth = `Bearer ${await gateway.token('tenant-a')}`;
});
afterAll(async () => {
  await gateway?.close();
});

const send = (method: 'post' | 'put', path: string, body: unknown, headers: Record<string, string> = {}) =>
  request(gateway.url)[method](path).set({ Authorization: auth, 'Content-Type': 'application/fhir+json', ...headers }).send(JSON.stringify(body));

/** 60 names of some 80 bytes each: about 5 kB, over 4096 bytes, with only 123 values. */
const heavy = { resourceType: 'Patient', name: Array.from({ length: 60 }, (_, i) => ({ family: `${'Vermeulen-'.repeat(7)}${i}` })) };
/** 150 short names: 303 values, over 200, in about 2.5 kB. */
const crowded = { resourceType: 'Patient', name: Array.from({ length: 150 }, (_, i) => ({ family: `F${i}` })) };
const BYTES = /exceeds limits\.resourceBytes \(4096\)/;
const ELEMENTS = /exceeds limits\.resourceElements \(200\)/;

const texts = (outcome: { issue: { details?: { text?: string } }[] }) => outcome.issue.map((issue) => issue.details?.text ?? '');

function expectRefused(response: request.Response, status: number, limit: RegExp) {
  expect(response.status).toBe(status);
  expect(response.body.resourceType).toBe('OperationOutcome');
  expect(texts(response.body).some((text) => limit.test(text))).toBe(true);
}

describe('write limits on one resource', () => {
  it('stores a resource within both limits', async () => {
    expect((await send('post', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Jansen' }] })).status).toBe(201);
  });

  it('refuses a create over limits.resourceBytes with 413 and over limits.resourceElements with 422, in both releases', async () => {
    expectRefused(await send('post', '/fhir/Patient', heavy), 413, BYTES);
    expectRefused(await send('post', '/fhir/stu3/Patient', crowded), 422, ELEMENTS);
  });

  it('refuses an update, and a conditional create, over the limits', async () => {
    expectRefused(await send('put', '/fhir/Patient/heavy', { ...heavy, id: 'heavy' }), 413, BYTES);
    expectRefused(await send('put', '/fhir/Patient/crowded', { ...crowded, id: 'crowded' }), 422, ELEMENTS);
    expectRefused(await send('post', '/fhir/Patient', crowded, { 'If-None-Exist': 'identifier=urn:x|none' }), 422, ELEMENTS);
    expect((await request(gateway.url).get('/fhir/Patient/crowded').set('Authorization', auth)).status).toBe(404);
  });

  it('refuses each entry of a batch over the limits, and a transaction holding one', async () => {
    const entry = (resource: unknown) => ({ resource, request: { method: 'POST', url: 'Patient' } });
    const batch = await send('post', '/fhir', { resourceType: 'Bundle', type: 'batch', entry: [entry(heavy), entry(crowded), entry({ resourceType: 'Patient' })] });
    expect(batch.status).toBe(200);
    const statuses = batch.body.entry.map((item: { response: { status: string } }) => item.response.status.slice(0, 3));
    expect(statuses).toEqual(['413', '422', '201']);
    expect(texts(batch.body.entry[1].response.outcome)).toEqual([expect.stringMatching(ELEMENTS)]);
    const transaction = await send('post', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry: [entry({ resourceType: 'Patient' }), entry(crowded)] });
    expectRefused(transaction, 422, ELEMENTS);
  });

  it("refuses the EHR's capacity report over the limits (stored as sent)", async () => {
    const report = {
      resourceType: 'MeasureReport',
      status: 'complete',
      type: 'summary',
      measure: 'http://example.org/Measure/beds',
      date: '2025-03-14T09:31:00+01:00',
      period: { start: '2025-03-14T09:30:00+01:00', end: '2025-03-14T09:30:00+01:00' },
      group: [
        {
          code: { coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] },
          population: [{ code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] }, count: 3 }],
        },
      ],
      extension: Array.from({ length: 70 }, (_, i) => ({ url: `urn:x:${i}`, valueString: 'x' })),
    };
    expectRefused(await send('post', '/fhir/MeasureReport', report), 422, ELEMENTS);
  });
});

describe('issue 12, finding 1, with the default limits', () => {
  let defaults: TestGateway;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    defaults = await startTestGateway(['ehr-a', 'ehr-b']);
    for (const tenant of ['ehr-a', 'ehr-b']) tokens[tenant] = `Bearer ${await defaults.token(tenant)}`;
  });
  afterAll(async () => {
    await defaults?.close();
  });

  const names = (count: number) => Array.from({ length: count }, (_, i) => ({ family: `F${i}` }));
  const call = (tenant: string, method: 'get' | 'post', path: string, body?: unknown) => {
    const sent = request(defaults.url)[method](path).set('Authorization', tokens[tenant]);
    return body === undefined ? sent : sent.set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
  };

  it('refuses the Patient with 130,000 names; one with 30,000 is stored, set aside, and no search of any tenant fails', async () => {
    expectRefused(await call('ehr-a', 'post', '/fhir/Patient', { resourceType: 'Patient', name: names(130_000) }), 422, /exceeds limits\.resourceElements \(100000\)/);
    const stored = await call('ehr-a', 'post', '/fhir/Patient', { resourceType: 'Patient', name: names(30_000) });
    expect(stored.status).toBe(201);
    for (const tenant of ['ehr-b', 'ehr-a']) {
      for (const path of ['/fhir/Patient?family=F1', '/fhir/Observation?status=final', '/fhir/Condition?code=x', '/fhir/stu3/Patient?family=F1', '/fhir/stu3/Condition?code=x']) {
        const answer = await call(tenant, 'get', path);
        expect([path, answer.status, answer.body.total ?? answer.body.entry?.length ?? 0]).toEqual([path, 200, 0]);
      }
    }
    expect((await call('ehr-a', 'get', `/fhir/Patient/${stored.body.id}`)).body.name).toHaveLength(30_000);
  });
});

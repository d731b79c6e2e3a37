import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { CARE_TYPE_SYSTEM, POPULATION_SYSTEM } from '../../src/capacity/canonical.js';
import { startTestGateway, type TestGateway } from './gateway.js';

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

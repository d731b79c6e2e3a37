import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fhirCall } from '../harness/calls.js';
import { world, type World } from '../subscriptions/support.js';

/**
 * A remote organisation may do what its purpose needs and no more: a purpose without a batch or transaction rule
 * (auth/purposes.ts) gets neither, whatever the entries would ask (finding 2: a batch of 10,000 allowed searches
 * from a capacity-subscription token took a coordination point down).
 */
let setting: World;
let hospital: string;

beforeAll(async () => {
  setting = await world({ providers: 1 });
  hospital = await setting.hospitalToken();
}, 60_000);
afterAll(async () => {
  await setting?.close();
});

const searches = (type: 'batch' | 'transaction', count: number) => ({
  resourceType: 'Bundle',
  type,
  entry: Array.from({ length: count }, () => ({ request: { method: 'GET', url: 'MeasureReport?_count=1000' } })),
});

describe('Bundles from a remote organisation', () => {
  it.each(['batch', 'transaction'] as const)('refuses a %s of allowed searches to a capacity-subscription token (403)', async (type) => {
    const answer = await fhirCall(setting.url, hospital, 'POST', '/fhir', searches(type, 10_000));
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden' }] });
    expect(JSON.stringify(answer.body)).toContain(`${type} / is not granted to 'hospital' for purpose 'capacity-subscription'`);
  });

  it('still lets the same token search one entry at a time, and the EHR post a batch', async () => {
    expect((await fhirCall(setting.url, hospital, 'GET', '/fhir/MeasureReport?_count=1000')).status).toBe(200);
    const fromEhr = await fhirCall(setting.url, await setting.ehr(), 'POST', '/fhir', searches('batch', 2));
    expect(fromEhr.status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { subscriptionTopics } from '../../src/subscriptions/topics.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { fhirCall } from '../harness/calls.js';
import { transaction } from '../transfer/support.js';

/**
 * Records the gateway keeps for itself — the SubscriptionTopics it publishes (Basic resources), the audit trail
 * (AuditEvents) — can be read by the tenant's EHR but not written over REST. Its bookkeeping (a provider's capacity
 * state here; transfer records and authorization credentials: test/transfer/workflow.test.ts) is no FHIR resource.
 */
let gateway: TestGateway;
let token: string;

beforeAll(async () => {
  gateway = await startTestGateway(['vvt']);
  token = await gateway.token('vvt');
}, 60_000);
afterAll(async () => {
  await gateway?.close();
});

const refusal = (answer: { status: number; body: Record<string, unknown> }) => [answer.status, JSON.stringify(answer.body.issue)];

describe('internal Basic records over REST', () => {
  it('lets the EHR read a published SubscriptionTopic but not change or delete it', async () => {
    for (const { resource } of subscriptionTopics().values()) {
      const path = `/fhir/Basic/${resource.id}`;
      const stored = await fhirCall(gateway.url, token, 'GET', path);
      expect(stored.status).toBe(200);
      for (const answer of [
        await fhirCall(gateway.url, token, 'PUT', path, { ...stored.body, extension: [] }),
        await fhirCall(gateway.url, token, 'DELETE', path),
        await fhirCall(gateway.url, token, 'POST', '/fhir', transaction([{ ...stored.body, extension: [] }])),
      ]) {
        expect(refusal(answer)).toEqual([403, expect.stringMatching(/SubscriptionTopic this gateway publishes/)]);
      }
      expect((await fhirCall(gateway.url, token, 'GET', path)).body).toEqual(stored.body);
    }
  });

  it("keeps the provider's capacity state out of the EHR's data: a Basic of the state's old id is an ordinary Basic", async () => {
    expect((await fhirCall(gateway.url, token, 'GET', '/fhir/Basic/capacity-state')).status).toBe(404);
    const basic = { resourceType: 'Basic', id: 'capacity-state', code: { text: 'an ordinary Basic' } };
    expect((await fhirCall(gateway.url, token, 'PUT', '/fhir/Basic/capacity-state', basic)).status).toBe(201);
    expect((await fhirCall(gateway.url, token, 'DELETE', '/fhir/Basic/capacity-state')).status).toBeLessThan(300);
    expect((await fhirCall(gateway.url, token, 'PUT', '/fhir/Basic/note-1', { ...basic, id: 'note-1' })).status).toBe(201);
  });
});

describe('the audit trail over REST', () => {
  it("lets the EHR search and read its organisation's AuditEvents, and nothing write them", async () => {
    await fhirCall(gateway.url, token, 'GET', '/fhir/Patient/nobody');
    const found = await fhirCall(gateway.url, token, 'GET', '/fhir/AuditEvent?entity=Patient/nobody&outcome=8');
    expect(found.status).toBe(200);
    const [entry] = found.body.entry as { resource: Record<string, unknown> }[];
    expect(entry.resource).toMatchObject({ resourceType: 'AuditEvent', outcome: '8', entity: [{ what: { reference: 'Patient/nobody' } }] });
    const path = `/fhir/AuditEvent/${String(entry.resource.id)}`;
    expect((await fhirCall(gateway.url, token, 'GET', path)).body).toEqual(entry.resource);
    for (const answer of [
      await fhirCall(gateway.url, token, 'PUT', path, { ...entry.resource, outcome: '0' }),
      await fhirCall(gateway.url, token, 'DELETE', path),
      await fhirCall(gateway.url, token, 'POST', '/fhir/AuditEvent', { ...entry.resource, id: undefined }),
    ]) {
      expect(refusal(answer)).toEqual([405, expect.stringMatching(/append-only/)]);
    }
    expect((await fhirCall(gateway.url, token, 'GET', path)).body).toEqual(entry.resource);
    expect((await fhirCall(gateway.url, token, 'GET', '/fhir/stu3/AuditEvent')).status).toBe(404);
  });
});

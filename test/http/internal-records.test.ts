import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { subscriptionTopics } from '../../src/subscriptions/topics.js';
import { startTestGateway, type TestGateway } from '../e2e/gateway.js';
import { fhirCall } from '../transfer/support.js';

/**
 * Records the gateway keeps for itself — the SubscriptionTopics it publishes and a provider's capacity state (Basic
 * resources), the audit trail (AuditEvents) — can be read by the tenant's EHR but not written over REST. (Transfer
 * bookkeeping and authorization credentials: test/transfer/workflow.test.ts.)
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
      ]) {
        expect(refusal(answer)).toEqual([403, expect.stringMatching(/SubscriptionTopic this gateway publishes/)]);
      }
      expect((await fhirCall(gateway.url, token, 'GET', path)).body).toEqual(stored.body);
    }
  });

  it("refuses to let the EHR write the provider's capacity state, and leaves other Basics alone", async () => {
    const state = { resourceType: 'Basic', id: 'capacity-state', code: { text: 'forged' } };
    for (const answer of [await fhirCall(gateway.url, token, 'PUT', '/fhir/Basic/capacity-state', state), await fhirCall(gateway.url, token, 'POST', '/fhir/Basic', state)]) {
      expect(refusal(answer)).toEqual([403, expect.stringMatching(/capacity state/)]);
    }
    expect((await fhirCall(gateway.url, token, 'PUT', '/fhir/Basic/note-1', { resourceType: 'Basic', id: 'note-1', code: { text: 'an ordinary Basic' } })).status).toBe(201);
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

import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { fhirCall } from '../harness/calls.js';
import { receiver, topicSubscription, world, type Receiver, type World } from './support.js';

/**
 * Development mode lets the tenant's EHR aim a subscription at loopback, for a developer's own receiver; not at a
 * system service on a privileged port, and not at the gateway itself (the port it is listening on).
 */
let w: World;
let hooks: Receiver;

beforeAll(async () => {
  hooks = await receiver();
  w = await world({ mode: 'development' });
}, 60_000);

afterAll(async () => {
  await w?.close();
  await hooks?.close();
});

it.each([
  ['ssh', 'http://127.0.0.1:22/x', 'port 22 is a privileged port'],
  ['the default http port', 'http://localhost/x', 'port 80 is a privileged port'],
  ["the gateway's own port", 'OWN/fhir/Subscription', "is this gateway's own"],
])('refuses a loopback endpoint on %s', async (_name, endpoint, text) => {
  const answer = await fhirCall(w.url, await w.ehr(), 'POST', '/fhir/Subscription', topicSubscription({ endpoint: endpoint.replace('OWN', w.url) }));
  expect(answer.status).toBe(422);
  expect(JSON.stringify(answer.body)).toContain(text);
});

it("accepts a developer's receiver on an unprivileged loopback port", async () => {
  const answer = await fhirCall(w.url, await w.ehr(), 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${hooks.url}/dev` }));
  expect(answer.status).toBe(201);
});

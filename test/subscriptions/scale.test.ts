import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { eventNumbers, receiver, topicSubscription, world, type Receiver, type World } from './support.js';

/**
 * The first done-when: 1,000 subscribers on loopback each receive a capacity change. The gateway runs in
 * development mode (loopback endpoints allowed without an allowlist); the subscribers listen on four receivers.
 */
const SUBSCRIBERS = 1000;
const RECEIVERS = 4;
const WAIT_MS = 120_000;
let w: World;
let receivers: Receiver[];

beforeAll(async () => {
  receivers = await Promise.all(Array.from({ length: RECEIVERS }, () => receiver()));
  w = await world({ mode: 'development' });
}, 3 * WAIT_MS);

afterAll(async () => {
  await w?.close();
  await Promise.all((receivers ?? []).map((target) => target.close()));
});

const endpointOf = (i: number) => ({ target: receivers[i % RECEIVERS], path: `/subscriber/${i}` });

it(`delivers one capacity change to each of ${SUBSCRIBERS} subscribers`, async () => {
  const token = await w.ehr();
  for (let start = 0; start < SUBSCRIBERS; start += 250) {
    const entry = Array.from({ length: 250 }, (_, offset) => {
      const { target, path } = endpointOf(start + offset);
      return { resource: topicSubscription({ endpoint: `${target.url}${path}`, content: 'full-resource' }), request: { method: 'POST', url: 'Subscription' } };
    });
    const answer = await fhirCall(w.url, token, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry });
    expect(answer.status).toBe(200);
  }
  // Generous waits: this is about every subscriber getting its event, not about speed (`npm run bench` measures
  // that); on a loaded CI machine 1,000 handshakes through the outbox can take far longer than the 3 s they take alone.
  let active = 0;
  await eventually(
    'every subscription active',
    async () => {
      const { body } = await fhirCall(w.url, token, 'GET', '/fhir/Subscription/$status?status=active');
      active = Number(body.total);
      return active === SUBSCRIBERS ? true : undefined;
    },
    WAIT_MS,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ${active} of ${SUBSCRIBERS} active`);
  });

  expect(await w.publish(w.providers[0], [['elv-hoog', 4]])).toBe(201);
  const missing = () => Array.from({ length: SUBSCRIBERS }, (_, i) => i).filter((i) => eventNumbers(endpointOf(i).target, endpointOf(i).path).length === 0);
  await eventually('every subscriber notified', async () => (missing().length === 0 ? true : undefined), WAIT_MS).catch((error: Error) => {
    throw new Error(`${error.message}: ${missing().length} of ${SUBSCRIBERS} got nothing`);
  });
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    const { target, path } = endpointOf(i);
    expect(new Set(eventNumbers(target, path))).toEqual(new Set([1]));
  }
}, 3 * WAIT_MS);

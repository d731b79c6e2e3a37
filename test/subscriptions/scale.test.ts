import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { eventually } from '../transfer/support.js';
import { eventNumbers, fhirCall, receiver, topicSubscription, world, type Receiver, type World } from './support.js';

/**
 * The first done-when: 1,000 subscribers on loopback each receive a capacity change. The gateway runs in
 * development mode (loopback endpoints allowed without an allowlist); the subscribers listen on four receivers.
 */
const SUBSCRIBERS = 1000;
const RECEIVERS = 4;
let w: World;
let receivers: Receiver[];

beforeAll(async () => {
  receivers = await Promise.all(Array.from({ length: RECEIVERS }, () => receiver()));
  w = await world({ mode: 'development' });
}, 60_000);

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
  await eventually(
    'every subscription active',
    async () => {
      const { body } = await fhirCall(w.url, token, 'GET', '/fhir/Subscription/$status?status=active');
      return body.total === SUBSCRIBERS ? true : undefined;
    },
    30_000,
  );

  expect(await w.publish(w.providers[0], [['elv-hoog', 4]])).toBe(201);
  const missing = () => Array.from({ length: SUBSCRIBERS }, (_, i) => i).filter((i) => eventNumbers(endpointOf(i).target, endpointOf(i).path).length === 0);
  await eventually('every subscriber notified', async () => (missing().length === 0 ? true : undefined), 30_000);
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    const { target, path } = endpointOf(i);
    expect(new Set(eventNumbers(target, path))).toEqual(new Set([1]));
  }
}, 60_000);

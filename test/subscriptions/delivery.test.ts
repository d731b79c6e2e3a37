import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { eventNumbers, receiver, statusOf, topicSubscription, world, type Receiver, type World } from './support.js';

/**
 * Delivery from the outbox, on loopback with a short clock: retries with backoff until a subscriber answers, in
 * order per subscription; past the retry horizon the subscription turns error and `$events` recovers every event
 * (those raised while in error too) without a gap; a 4xx gives up at once; at most `maxConcurrentPerEndpoint` in
 * flight per endpoint; an attempt that takes too long is retried; `$resend`; heartbeats.
 */
let w: World;
let hooks: Receiver;
let down: Receiver;
const downPort = { port: 0 };

beforeAll(async () => {
  hooks = await receiver();
  down = await receiver();
  downPort.port = Number(new URL(down.url).port);
  w = await world({
    subscriptions: {
      allowedEndpoints: [hooks.url, down.url],
      retryBaseMs: 20,
      retryHorizonMs: 1500,
      deliveryTimeoutMs: 400,
      maxConcurrentPerEndpoint: 4,
    },
  });
}, 60_000);

afterAll(async () => {
  await w?.close();
  await hooks?.close();
  await down?.close();
});

let counter = 0;
const publishChange = () => {
  counter += 1;
  return w.publish(w.providers[0], [['elv-hoog', counter]]);
};

async function subscribe(body: Resource): Promise<string> {
  const answer = await fhirCall(w.url, await w.ehr(), 'POST', '/fhir/Subscription', body);
  expect(answer.status).toBe(201);
  return String(answer.body.id);
}

async function statusIs(id: string, status: string): Promise<Resource> {
  return eventually(`Subscription/${id} ${status}`, async () => {
    const answer = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${id}`);
    return answer.body.status === status ? answer.body : undefined;
  });
}

const numbersAt = (target: Receiver, path: string, count: number) =>
  eventually(`${count} events at ${path}`, async () => (eventNumbers(target, path).length >= count ? eventNumbers(target, path) : undefined));

describe('delivery', () => {
  it('retries a subscriber that is briefly down and delivers every event in order', async () => {
    const path = '/flaky';
    const id = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}` }));
    await statusIs(id, 'active');
    // Down for its first three attempts, however fast they come: the first event is retried until it is taken.
    let refusals = 0;
    hooks.answer = (request) => {
      if (request.path !== path || refusals === 3) return 200;
      refusals += 1;
      return 503;
    };
    for (let i = 0; i < 5; i += 1) await publishChange();
    expect(await numbersAt(hooks, path, 5)).toEqual([1, 2, 3, 4, 5]);
    expect(refusals).toBe(3);
    hooks.answer = 200;
  });

  it('turns a subscriber down past the horizon to error; $events recovers every event without a gap; reactivated, it is notified again', async () => {
    const path = '/down';
    const id = await subscribe(topicSubscription({ endpoint: `${down.url}${path}` }));
    await statusIs(id, 'active');
    await down.close();
    for (let i = 0; i < 3; i += 1) await publishChange();
    const failed = await statusIs(id, 'error');
    expect(String(failed.error)).toMatch(/not delivered/);
    await publishChange();
    await publishChange();

    const status = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${id}/$status`);
    const reported = statusOf(JSON.stringify({ entry: [{ resource: (status.body.entry as { resource: Resource }[])[0].resource }] }));
    expect(reported).toMatchObject({ status: 'error', eventsSinceStart: 5 });
    const recovered = await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${id}/$events?eventsSinceNumber=1`);
    expect(statusOf(JSON.stringify(recovered.body)).events.map((event) => event.number)).toEqual([1, 2, 3, 4, 5]);

    down = await receiver(downPort.port);
    const current = (await fhirCall(w.url, await w.ehr(), 'GET', `/fhir/Subscription/${id}`)).body;
    expect((await fhirCall(w.url, await w.ehr(), 'PUT', `/fhir/Subscription/${id}`, { ...current, status: 'requested' })).status).toBe(200);
    await statusIs(id, 'active');
    await publishChange();
    expect(await numbersAt(down, path, 1)).toEqual([6]);
    expect(statusOf(down.at(path)[0].body).type).toBe('handshake');
  });

  it('gives up at once on a 4xx answer', async () => {
    const path = '/gone';
    const id = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}` }));
    await statusIs(id, 'active');
    hooks.answer = (request) => (request.path === path ? 410 : 200);
    await publishChange();
    const failed = await statusIs(id, 'error');
    expect(String(failed.error)).toContain('410');
    hooks.answer = 200;
  });

  it('keeps at most maxConcurrentPerEndpoint notifications in flight per endpoint', async () => {
    const slow = await receiver();
    try {
      slow.delayMs = 60;
      const local = await world({ subscriptions: { allowedEndpoints: [slow.url], maxConcurrentPerEndpoint: 3 } });
      try {
        const token = await local.ehr();
        for (let i = 0; i < 10; i += 1) {
          expect((await fhirCall(local.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${slow.url}/s${i}` }))).status).toBe(201);
        }
        await eventually('10 handshakes', async () => (slow.all.length >= 10 ? true : undefined));
        await local.publish(local.providers[0], [['grz', 1]]);
        await eventually('10 events', async () => (slow.all.length >= 20 ? true : undefined));
        expect(slow.maxInFlight).toBe(3);
      } finally {
        await local.close();
      }
    } finally {
      await slow.close();
    }
  });

  it('retries an attempt that takes longer than the timeout', async () => {
    const path = '/slow-once';
    const id = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}` }));
    await statusIs(id, 'active');
    let first = true;
    hooks.answer = async (request) => {
      if (request.path === path && first) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
      return 200;
    };
    await publishChange();
    expect(await numbersAt(hooks, path, 1)).toEqual([1]);
    hooks.answer = 200;
  });

  it('resends stored events on request, after what is queued', async () => {
    const path = '/resend';
    const id = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}` }));
    await statusIs(id, 'active');
    await publishChange();
    await publishChange();
    await numbersAt(hooks, path, 2);
    const answer = await fhirCall(w.url, await w.ehr(), 'POST', `/fhir/Subscription/${id}/$resend`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'eventsSinceNumber', valueString: '1' }],
    });
    expect(answer.status).toBe(200);
    expect(await numbersAt(hooks, path, 4)).toEqual([1, 2, 1, 2]);
  });

  it('sends heartbeats to an active subscription that has nothing else to say', async () => {
    const path = '/heartbeat';
    const id = await subscribe(topicSubscription({ endpoint: `${hooks.url}${path}`, heartbeatSeconds: 1 }));
    await statusIs(id, 'active');
    const heartbeat = await eventually('a heartbeat', async () => hooks.at(path).map((request) => statusOf(request.body)).find((status) => status.type === 'heartbeat'), 10_000);
    expect(heartbeat).toMatchObject({ status: 'active', eventsSinceStart: 0, events: [] });
  });
});

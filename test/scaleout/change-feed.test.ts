import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDispatcher, type Dispatcher } from '../../src/outbox/dispatcher.js';
import { OUTBOX_CHANGED, type Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend, type Backend } from '../store/backends.js';

/**
 * The store's change feed (repository.ts `ChangeFeed`): signals go out when their transaction commits, never when it
 * rolls back, and once per topic and message per transaction; on PostgreSQL they reach every instance on the
 * database, which is how one instance's enqueue wakes the dispatchers of the others.
 */
const HOUR = 3_600_000;

/** Collects the signals of a topic; `next()` resolves with the next one (or one already waiting). */
async function recorder(store: Store, topic: string) {
  const received: (string | undefined)[] = [];
  let waiting: (() => void) | undefined;
  const stop = await store.changes.subscribe(topic, (message) => {
    received.push(message);
    waiting?.();
  });
  return {
    received,
    stop,
    async next(count = 1): Promise<(string | undefined)[]> {
      while (received.length < count) await new Promise<void>((resolve) => (waiting = resolve));
      return received.slice(0, count);
    },
  };
}

/** Lets signals in flight arrive (PostgreSQL delivers over another connection). */
const settle = async (store: Store) => {
  const marker = `settle-${freshTenant()}`;
  const probe = await recorder(store, marker);
  await store.changes.publish(marker);
  await probe.next();
  probe.stop();
};

describe.each(backends)('change feed on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  it('delivers a signal published outside a transaction, with its message', async () => {
    const topic = `topic-${freshTenant()}`;
    const signals = await recorder(store, topic);
    await store.changes.publish(topic, 'MeasureReport/ura-22222222');
    expect(await signals.next()).toEqual(['MeasureReport/ura-22222222']);
    signals.stop();
  });

  it('sends a transaction’s signals when it commits, each topic and message once, and none of a rolled-back one', async () => {
    const topic = `topic-${freshTenant()}`;
    const signals = await recorder(store, topic);
    await store
      .transaction(async (tx) => {
        await tx.changes.publish(topic, 'rolled-back');
        throw new Error('abort');
      })
      .catch(() => undefined);
    await store.transaction(async (tx) => {
      await tx.changes.publish(topic, 'a');
      await tx.changes.publish(topic, 'a');
      await tx.changes.publish(topic, 'b');
      expect(signals.received).toEqual([]);
    });
    await settle(store);
    expect(signals.received.sort()).toEqual(['a', 'b']);
    signals.stop();
  });

  it('signals the outbox on every enqueue, once per transaction', async () => {
    const signals = await recorder(store, OUTBOX_CHANGED);
    const tenant = freshTenant('feed');
    await store.transaction(async (tx) => {
      for (let i = 0; i < 5; i += 1) await tx.outbox.enqueue({ tenant, kind: `test.${tenant}`, destination: 'x', payload: { i } });
    });
    await settle(store);
    expect(signals.received).toEqual([undefined]);
    signals.stop();
  });
});

const postgres = backends.find(([name]) => name === 'postgres');

(postgres ? describe : describe.skip)('two instances on one PostgreSQL database', () => {
  let backend: Backend;
  let a: Store;
  let b: Store;
  const dispatchers: Dispatcher[] = [];

  beforeAll(async () => {
    backend = postgres![1]();
    a = await backend.open();
    b = await backend.open();
  });
  afterAll(async () => {
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()));
    await backend.dispose();
  });

  it('a signal published at one instance reaches the other', async () => {
    const topic = `topic-${freshTenant()}`;
    const atB = await recorder(b, topic);
    await a.transaction((tx) => tx.changes.publish(topic, 'Task/1'));
    expect(await atB.next()).toEqual(['Task/1']);
    atB.stop();
  });

  it('work enqueued at A wakes the dispatcher of B, which otherwise would not look for an hour', async () => {
    const tenant = freshTenant('wake');
    const kind = `test.${tenant}`;
    const delivered: string[] = [];
    let done: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const dispatcher = createDispatcher({
      outbox: b.outbox,
      pollMs: HOUR,
      handlers: {
        [kind]: async (message) => {
          delivered.push(message.id);
          if (delivered.length === 3) done();
        },
      },
    });
    dispatchers.push(dispatcher);
    const stop = await b.changes.subscribe(OUTBOX_CHANGED, () => dispatcher.wake());
    dispatcher.start();
    await dispatcher.drain();

    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push(await a.outbox.enqueue({ tenant, kind, destination: 'x', payload: { i } }));
    await all;
    expect(delivered.sort()).toEqual(ids.sort());
    stop();
  });

  it('two dispatchers on two instances deliver every message of a burst, none twice while no lease expires', async () => {
    const tenant = freshTenant('burst');
    const kind = `test.${tenant}`;
    const deliveries = new Map<string, string[]>();
    const handler = (instance: string) => async (message: { id: string }) => {
      deliveries.set(message.id, [...(deliveries.get(message.id) ?? []), instance]);
      await new Promise((resolve) => setImmediate(resolve));
    };
    const pair = [
      createDispatcher({ outbox: a.outbox, batchSize: 7, handlers: { [kind]: handler('a') } }),
      createDispatcher({ outbox: b.outbox, batchSize: 7, handlers: { [kind]: handler('b') } }),
    ];
    dispatchers.push(...pair);
    const stops = await Promise.all([a, b].map((store, i) => store.changes.subscribe(OUTBOX_CHANGED, () => pair[i].wake())));
    pair.forEach((dispatcher) => dispatcher.start());

    const ids = (
      await Promise.all(
        Array.from({ length: 10 }, (_, batch) =>
          (batch % 2 === 0 ? a : b).transaction(async (tx) => {
            const enqueued: string[] = [];
            for (let i = 0; i < 20; i += 1) enqueued.push(await tx.outbox.enqueue({ tenant, kind, destination: `d${i}`, payload: { batch, i } }));
            return enqueued;
          }),
        ),
      )
    ).flat();
    while ((await a.outbox.list(tenant, { status: 'delivered', limit: 1000 })).length < ids.length) await new Promise((resolve) => setTimeout(resolve, 20));

    expect([...deliveries.keys()].sort()).toEqual([...ids].sort());
    expect([...deliveries.values()].filter((instances) => instances.length > 1)).toEqual([]);
    const byInstance = [...deliveries.values()].flat();
    expect(new Set(byInstance)).toEqual(new Set(['a', 'b']));
    stops.forEach((stop) => stop());
  });
});

import { beforeAll, describe, expect, it } from '@jest/globals';
import type { NewOutboxMessage, OutboxMessage, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LONG_LEASE = 60_000;

describe.each(backends)('outbox and replay cache on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  let second: Store;

  beforeAll(async () => {
    store = await backend.open();
    second = await backend.open();
  });

  /** Each test uses its own kind, so claims never pick up another test's messages. */
  const fresh = () => {
    const tenant = freshTenant('outbox');
    const kind = `test.${tenant}`;
    const message = (extra: Partial<NewOutboxMessage> = {}): NewOutboxMessage => ({
      tenant,
      kind,
      destination: 'https://vvt.example/fhir/notification',
      payload: { task: 'Task/1' },
      ...extra,
    });
    return { tenant, kind, message };
  };

  describe('outbox', () => {
    it('enqueues pending messages and claims them with a lease', async () => {
      const { tenant, kind, message } = fresh();
      const id = await store.outbox.enqueue(message({ payload: { task: 'Task/42', status: 'requested' } }));
      const [listed] = await store.outbox.list(tenant);
      expect(listed).toMatchObject({ id, tenant, kind, status: 'pending', attempts: 0, payload: { task: 'Task/42', status: 'requested' } });

      const before = Date.now();
      const claimed = await store.outbox.claim([kind, 'some.other.kind'], 10, LONG_LEASE);
      expect(claimed.map((m) => m.id)).toEqual([id]);
      expect(claimed[0]).toMatchObject({ status: 'in-flight', attempts: 1 });
      expect(Date.parse(claimed[0].nextAttemptAt)).toBeGreaterThanOrEqual(before + LONG_LEASE);
      expect(await store.outbox.claim([kind], 10, LONG_LEASE)).toEqual([]);
      expect(await store.outbox.claim(['unrelated.kind'], 10, LONG_LEASE)).toEqual([]);
    });

    it('respects limit and notBefore, oldest first', async () => {
      const { kind, message } = fresh();
      const ids = [];
      for (let i = 0; i < 3; i += 1) ids.push(await store.outbox.enqueue(message({ payload: { i } })));
      await store.outbox.enqueue(message({ notBefore: new Date(Date.now() + LONG_LEASE).toISOString() }));
      expect((await store.outbox.claim([kind], 2, LONG_LEASE)).map((m) => m.id)).toEqual(ids.slice(0, 2));
      expect((await store.outbox.claim([kind], 10, LONG_LEASE)).map((m) => m.id)).toEqual(ids.slice(2));
      expect(await store.outbox.claim([kind], 10, LONG_LEASE)).toEqual([]);
    });

    it('hands a message out again when its lease expires (a crashed worker)', async () => {
      const { kind, message } = fresh();
      const id = await store.outbox.enqueue(message());
      expect((await store.outbox.claim([kind], 1, 1)).map((m) => m.id)).toEqual([id]);
      await pause(10);
      const again = await second.outbox.claim([kind], 1, LONG_LEASE);
      expect(again.map((m) => [m.id, m.attempts])).toEqual([[id, 2]]);
    });

    it('retries a failed message at the given time and dead-letters it without one', async () => {
      const { tenant, kind, message } = fresh();
      const id = await store.outbox.enqueue(message());
      await store.outbox.claim([kind], 1, LONG_LEASE);
      await store.outbox.fail(id, 'HTTP 503 from receiver', new Date(Date.now() + LONG_LEASE).toISOString());
      expect((await store.outbox.list(tenant))[0]).toMatchObject({ status: 'pending', lastError: 'HTTP 503 from receiver', attempts: 1 });
      expect(await store.outbox.claim([kind], 1, LONG_LEASE)).toEqual([]);

      await store.outbox.fail(id, 'HTTP 503 again', new Date(Date.now() - 1).toISOString());
      expect((await store.outbox.claim([kind], 1, LONG_LEASE)).map((m) => m.attempts)).toEqual([2]);
      await store.outbox.fail(id, 'HTTP 410: endpoint gone');
      expect(await store.outbox.list(tenant, { status: 'dead' })).toMatchObject([{ id, lastError: 'HTTP 410: endpoint gone' }]);
      expect(await store.outbox.claim([kind], 1, LONG_LEASE)).toEqual([]);
    });

    it('replays dead and delivered messages of the own tenant only', async () => {
      const { tenant, kind, message } = fresh();
      const dead = await store.outbox.enqueue(message());
      const pending = await store.outbox.enqueue(message({ notBefore: new Date(Date.now() + LONG_LEASE).toISOString() }));
      await store.outbox.claim([kind], 1, LONG_LEASE);
      await store.outbox.fail(dead, 'receiver rejected the token');

      expect(await store.outbox.replay(freshTenant('intruder'), dead)).toBe(false);
      expect(await store.outbox.replay(tenant, pending)).toBe(false);
      expect(await store.outbox.replay(tenant, 'no-such-message')).toBe(false);
      expect(await store.outbox.replay(tenant, dead)).toBe(true);
      const [replayed] = await store.outbox.claim([kind], 1, LONG_LEASE);
      expect(replayed).toMatchObject({ id: dead, attempts: 1, status: 'in-flight' });
      await store.outbox.complete(dead);
      expect((await store.outbox.list(tenant, { status: 'delivered' })).map((m) => m.id)).toEqual([dead]);
      expect(await store.outbox.replay(tenant, dead)).toBe(true);
    });

    it('lists per tenant, newest first, filtered by status and kind', async () => {
      const a = fresh();
      const b = fresh();
      const first = await store.outbox.enqueue(a.message());
      const second_ = await store.outbox.enqueue(a.message({ kind: 'subscription.deliver' }));
      await store.outbox.enqueue(b.message());
      expect((await store.outbox.list(a.tenant)).map((m) => m.id)).toEqual([second_, first]);
      expect((await store.outbox.list(a.tenant, { kind: 'subscription.deliver' })).map((m) => m.id)).toEqual([second_]);
      expect((await store.outbox.list(a.tenant, { limit: 1 })).map((m) => m.id)).toEqual([second_]);
      expect(await store.outbox.list(a.tenant, { status: 'dead' })).toEqual([]);
    });

    it('hands out messages with one ordering key one at a time, oldest first', async () => {
      const { kind, message } = fresh();
      const [k1, k2, k3] = [
        await store.outbox.enqueue(message({ orderingKey: 'Task/7' })),
        await store.outbox.enqueue(message({ orderingKey: 'Task/7' })),
        await store.outbox.enqueue(message({ orderingKey: 'Task/7' })),
      ];
      const other = await store.outbox.enqueue(message({ orderingKey: 'Task/8' }));
      const free = await store.outbox.enqueue(message());

      expect((await store.outbox.claim([kind], 10, LONG_LEASE)).map((m) => m.id)).toEqual([k1, other, free]);
      expect(await store.outbox.claim([kind], 10, LONG_LEASE)).toEqual([]);
      await store.outbox.complete(k1);
      expect((await store.outbox.claim([kind], 10, LONG_LEASE)).map((m) => m.id)).toEqual([k2]);
      // A retry scheduled for later keeps the younger message waiting; a dead letter releases it.
      await store.outbox.fail(k2, 'timeout', new Date(Date.now() + LONG_LEASE).toISOString());
      expect(await store.outbox.claim([kind], 10, LONG_LEASE)).toEqual([]);
      await store.outbox.fail(k2, 'permanent');
      expect((await store.outbox.claim([kind], 10, LONG_LEASE)).map((m) => m.id)).toEqual([k3]);
    });

    it('never gives one message to two concurrent claimers on two instances, and keeps key order', async () => {
      const { kind, message } = fresh();
      const enqueued: string[] = [];
      for (let i = 0; i < 60; i += 1) enqueued.push(await store.outbox.enqueue(message({ orderingKey: i % 3 === 0 ? `key-${i % 2}` : undefined, payload: { i } })));

      const seen: string[] = [];
      const order = new Map<string, number[]>();
      const worker = async (instance: Store) => {
        for (let idle = 0; idle < 5; ) {
          const claimed: OutboxMessage[] = await instance.outbox.claim([kind], 4, LONG_LEASE);
          if (claimed.length === 0) {
            idle += 1;
            await pause(2);
            continue;
          }
          for (const m of claimed) {
            seen.push(m.id);
            if (m.orderingKey) order.set(m.orderingKey, [...(order.get(m.orderingKey) ?? []), (m.payload as { i: number }).i]);
            await instance.outbox.complete(m.id);
          }
        }
      };
      await Promise.all([worker(store), worker(second), worker(store), worker(second)]);

      expect(seen).toHaveLength(enqueued.length);
      expect(new Set(seen).size).toBe(enqueued.length);
      for (const sequence of order.values()) expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
    });
  });

  describe('replay cache', () => {
    it('remembers a key once until it expires', async () => {
      const key = `jti-${freshTenant()}`;
      const later = new Date(Date.now() + LONG_LEASE);
      expect(await store.replay.remember(key, later)).toBe(true);
      expect(await store.replay.remember(key, later)).toBe(false);

      const expired = `jti-${freshTenant()}`;
      expect(await store.replay.remember(expired, new Date(Date.now() - 1000))).toBe(true);
      expect(await store.replay.remember(expired, later)).toBe(true);
      expect(await store.replay.remember(expired, later)).toBe(false);
    });

    it('is shared by two instances on one database: exactly one of many racing calls wins', async () => {
      const key = `jti-${freshTenant()}`;
      const later = new Date(Date.now() + LONG_LEASE);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : second).replay.remember(key, later)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await second.replay.remember(key, later)).toBe(false);
    });
  });
});

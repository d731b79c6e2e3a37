import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from '../store/backends.js';

/** The event streams subscriptions number their events with: gap-free, per stream and tenant, transactional. */
describe.each(backends)('event streams on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  it('numbers events from 1 per stream and reads ranges back in order', async () => {
    const tenant = freshTenant();
    expect(await store.streams.head(tenant, 's')).toBe(0);
    expect(await store.streams.append(tenant, 's', [{ n: 'a' }, { n: 'b' }])).toEqual([1, 2]);
    expect(await store.streams.append(tenant, 's', [{ n: 'c' }])).toEqual([3]);
    expect(await store.streams.append(tenant, 'other', [{ n: 'x' }])).toEqual([1]);
    expect(await store.streams.head(tenant, 's')).toBe(3);
    const all = await store.streams.read(tenant, 's', { from: 1, limit: 10 });
    expect(all.map((event) => [event.number, event.payload])).toEqual([
      [1, { n: 'a' }],
      [2, { n: 'b' }],
      [3, { n: 'c' }],
    ]);
    expect((await store.streams.read(tenant, 's', { from: 2, to: 2, limit: 10 })).map((event) => event.number)).toEqual([2]);
    expect((await store.streams.read(tenant, 's', { from: 1, limit: 2 })).map((event) => event.number)).toEqual([1, 2]);
    expect(Date.parse(all[0].createdAt)).not.toBeNaN();
  });

  it('appends one event to each of many streams at once, numbering each stream on', async () => {
    const tenant = freshTenant();
    await store.streams.append(tenant, 's-3', ['earlier']);
    const streams = Array.from({ length: 1200 }, (_, i) => `s-${i}`);
    const numbers = await store.streams.appendEach(tenant, streams.map((stream) => ({ stream, payload: { stream } })));
    expect(numbers.length).toBe(1200);
    expect(numbers.filter((number) => number !== 1)).toEqual([2]);
    expect(numbers[3]).toBe(2);
    expect(await store.streams.read(tenant, 's-1199', { from: 1, limit: 5 })).toMatchObject([{ number: 1, payload: { stream: 's-1199' } }]);
    expect(await store.streams.appendEach(tenant, [{ stream: 's-0', payload: 'again' }])).toEqual([2]);
    await expect(store.streams.appendEach(tenant, [{ stream: 'x', payload: 1 }, { stream: 'x', payload: 2 }])).rejects.toThrow('distinct');
  });

  it('enqueues many outbox messages at once, in order, each claimable in its turn', async () => {
    const tenant = freshTenant();
    const kind = `batch-${tenant}`;
    const messages = Array.from({ length: 700 }, (_, i) => ({ tenant, kind, destination: 'd', payload: i, orderingKey: `k-${i % 2}` }));
    const ids = await store.outbox.enqueueAll(messages);
    expect(new Set(ids).size).toBe(700);
    const claimed = await store.outbox.claim([kind], 10, 60_000);
    expect(claimed.map((message) => message.payload)).toEqual([0, 1]);
    expect(claimed.map((message) => message.id)).toEqual(ids.slice(0, 2));
  });

  it('keeps tenants apart', async () => {
    const [a, b] = [freshTenant(), freshTenant()];
    await store.streams.append(a, 's', [1, 2, 3]);
    expect(await store.streams.head(b, 's')).toBe(0);
    expect(await store.streams.read(b, 's', { from: 1, limit: 10 })).toEqual([]);
  });

  it('leaves no gap when the transaction that appended rolls back', async () => {
    const tenant = freshTenant();
    await store.streams.append(tenant, 's', ['first']);
    await expect(
      store.transaction(async (tx) => {
        await tx.streams.append(tenant, 's', ['lost']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await store.streams.append(tenant, 's', ['second'])).toEqual([2]);
    expect((await store.streams.read(tenant, 's', { from: 1, limit: 10 })).map((event) => event.payload)).toEqual(['first', 'second']);
  });

  it('gives concurrent writers (two instances on one database) consecutive numbers', async () => {
    const tenant = freshTenant();
    const second = await backend.open();
    const writes = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : second).streams.append(tenant, 's', [i]));
    const numbers = (await Promise.all(writes)).flat().sort((x, y) => x - y);
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await store.streams.read(tenant, 's', { from: 1, limit: 100 })).length).toBe(40);
  });
});

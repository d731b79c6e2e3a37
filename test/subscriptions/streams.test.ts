import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Store } from '../../src/store/repository.js';
import { backends, freshTenant, type Backend } from '../store/backends.js';

/** The event streams subscriptions number their events with: gap-free, per stream and tenant, transactional. */
describe.each(backends)('event streams on %s', (_name, makeBackend) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = makeBackend();
    store = await backend.open();
  });
  afterAll(() => backend.dispose());

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

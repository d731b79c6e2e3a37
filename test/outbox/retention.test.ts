import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pruneDelivered } from '../../src/outbox/retention.js';
import type { NewOutboxMessage, Store } from '../../src/store/repository.js';
import { backends, type Backend } from '../store/backends.js';

/** Delivered outbox messages are deleted after the retention period, oldest first, in chunks; dead letters stay. */
describe.each(backends)('outbox retention on %s', (_name, makeBackend) => {
  let backend: Backend;
  let store: Store;

  beforeAll(async () => {
    backend = makeBackend();
    store = await backend.open();
  });
  afterAll(() => backend.dispose());

  const messages = (count: number, tenant: string): NewOutboxMessage[] =>
    Array.from({ length: count }, (_, i) => ({ tenant, kind: 'test.retention', destination: 'https://x.example/', payload: { i } }));
  const statuses = async (tenant: string) => (await store.outbox.list(tenant, { limit: 10_000 })).map((message) => message.status).sort();

  it('deletes delivered messages queued before the cut-off, and nothing else', async () => {
    const tenant = 'retention-a';
    const [first, second, third, pending] = await store.outbox.enqueueAll(messages(4, tenant));
    await store.outbox.completeAll([first!, second!]);
    await store.outbox.fail(third!, 'gave up');
    expect(await store.outbox.pruneDelivered(new Date(Date.now() - 60_000), 10)).toBe(0);
    expect(await store.outbox.pruneDelivered(new Date(Date.now() + 1000), 1)).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'delivered', 'pending']);
    expect(await pruneDelivered(store.outbox, new Date(Date.now() + 1000))).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'pending']);
    expect((await store.outbox.list(tenant)).map((message) => message.id).sort()).toEqual([third, pending].sort());
  });

  it('gets through more than one chunk', async () => {
    const tenant = 'retention-b';
    await store.outbox.completeAll(await store.outbox.enqueueAll(messages(5_003, tenant)));
    expect(await pruneDelivered(store.outbox, new Date(Date.now() + 1000))).toBe(5_003);
    expect(await statuses(tenant)).toEqual([]);
  });
});

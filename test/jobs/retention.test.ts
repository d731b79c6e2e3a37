import { beforeAll, describe, expect, it } from '@jest/globals';
import { applyRetention, pruneOlderThan } from '../../src/jobs/retention.js';
import type { NewOutboxMessage, Store } from '../../src/store/repository.js';
import { backends, useBackend } from '../store/backends.js';

/**
 * What is past its retention goes, oldest first and a chunk at a time: delivered outbox messages (dead letters and
 * unfinished ones stay) and subscription events.
 */
describe.each(backends)('retention on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  const messages = (count: number, tenant: string): NewOutboxMessage[] =>
    Array.from({ length: count }, (_, i) => ({ tenant, kind: 'test.retention', destination: 'https://x.example/', payload: { i } }));
  const statuses = async (tenant: string) => (await store.outbox.list(tenant, { limit: 10_000 })).map((message) => message.status).sort();
  const soon = () => new Date(Date.now() + 1000);

  it('deletes delivered outbox messages queued before the cut-off, and nothing else', async () => {
    const tenant = 'retention-a';
    const [first, second, third, pending] = await store.outbox.enqueueAll(messages(4, tenant));
    await store.outbox.completeAll([first!, second!]);
    await store.outbox.fail(third!, 'gave up');
    expect(await store.outbox.pruneDelivered(new Date(Date.now() - 60_000), 10)).toBe(0);
    expect(await store.outbox.pruneDelivered(soon(), 1)).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'delivered', 'pending']);
    expect(await pruneOlderThan((before, limit) => store.outbox.pruneDelivered(before, limit), soon())).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'pending']);
    expect((await store.outbox.list(tenant)).map((message) => message.id).sort()).toEqual([third, pending].sort());
  });

  it('gets through more than one chunk', async () => {
    const tenant = 'retention-b';
    await store.outbox.completeAll(await store.outbox.enqueueAll(messages(5_003, tenant)));
    expect(await pruneOlderThan((before, limit) => store.outbox.pruneDelivered(before, limit), soon())).toBe(5_003);
    expect(await statuses(tenant)).toEqual([]);
  });

  it('deletes subscription events raised before the cut-off, oldest first, and leaves the numbering as it was', async () => {
    const tenant = 'retention-c';
    await store.streams.append(tenant, 'subscription-1', ['one', 'two']);
    expect(await store.streams.pruneBefore(new Date(Date.now() - 60_000), 10)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cutOff = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.streams.append(tenant, 'subscription-1', ['three']);
    expect(await store.streams.pruneBefore(cutOff, 10)).toBe(2);
    expect((await store.streams.read(tenant, 'subscription-1', { from: 1, limit: 10 })).map((event) => [event.number, event.payload])).toEqual([[3, 'three']]);
    expect(await store.streams.head(tenant, 'subscription-1')).toBe(3);
    expect(await store.streams.append(tenant, 'subscription-1', ['four'])).toEqual([4]);
  });

  it('applies both retentions from one clock', async () => {
    const tenant = 'retention-d';
    await store.outbox.completeAll(await store.outbox.enqueueAll(messages(3, tenant)));
    await store.streams.appendEach(tenant, [{ stream: 'subscription-2', payload: 'x' }, { stream: 'subscription-3', payload: 'y' }]);
    const now = Date.now() + 1000;
    expect(await applyRetention(store, { deliveredOutboxHours: 1, subscriptionEventHours: 1 }, now)).toMatchObject({ outboxMessages: 0, subscriptionEvents: 0 });
    const later = await applyRetention(store, { deliveredOutboxHours: 1, subscriptionEventHours: 1 }, now + 3_600_000);
    expect(later.outboxMessages).toBeGreaterThanOrEqual(3);
    expect(later.subscriptionEvents).toBeGreaterThanOrEqual(2);
    expect(await statuses(tenant)).toEqual([]);
  });

  it('deletes jti keys and access tokens once they have expired, and keeps the live ones', async () => {
    const now = Date.now();
    const token = (id: string, expiresAt: number) => ({ id, secretHash: 'h', claims: '{}', expiresAt: new Date(expiresAt) });
    expect(await store.replay.remember('retention:expired', new Date(now - 1000))).toBe(true);
    expect(await store.replay.remember('retention:live', new Date(now + 60_000))).toBe(true);
    await store.accessTokens.save(token('01900000-0000-7000-8000-000000000001', now - 1000));
    await store.accessTokens.save(token('01900000-0000-7000-8000-000000000002', now + 60_000));
    const deleted = await applyRetention(store, { deliveredOutboxHours: 1, subscriptionEventHours: 1 }, now);
    expect({ replayKeys: deleted.replayKeys, accessTokens: deleted.accessTokens }).toEqual({ replayKeys: 1, accessTokens: 1 });
    expect(await store.accessTokens.find('01900000-0000-7000-8000-000000000001')).toBeUndefined();
    expect(await store.accessTokens.find('01900000-0000-7000-8000-000000000002')).toBeDefined();
    expect(await store.replay.remember('retention:live', new Date(now + 60_000))).toBe(false);
  });
});

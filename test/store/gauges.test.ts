import { describe, expect, it } from '@jest/globals';
import { backends, useBackend } from './backends.js';

/** The queues /metrics shows, read from the store across tenants. */
describe.each(backends)('store gauges on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);

  it('counts undelivered outbox messages by kind and status, and Subscriptions by status', async () => {
    const store = await backend.open();
    const message = (tenant: string) => ({ tenant, kind: 'test.notify', destination: 'https://vvt.example/notify', payload: {} });
    await store.outbox.enqueue(message('a'));
    await store.outbox.enqueue(message('b'));
    const [claimed] = await store.outbox.claim(['test.notify'], 1, 60_000);
    await store.outbox.fail(claimed.id, 'refused for good');
    const subscription = (status: string) => ({ resourceType: 'Subscription', status, reason: 'test', criteria: 'MeasureReport', channel: { type: 'rest-hook', endpoint: 'https://hub.example/hook' } });
    await store.resources.create({ tenant: 'a', version: 'r4' }, subscription('active'));
    await store.resources.create({ tenant: 'b', version: 'r4' }, subscription('active'));
    await store.resources.create({ tenant: 'b', version: 'r4' }, subscription('error'));

    const gauges = await store.gauges();
    expect(gauges.outbox.sort((x, y) => x.status.localeCompare(y.status))).toEqual([
      { kind: 'test.notify', status: 'dead', count: 1 },
      { kind: 'test.notify', status: 'pending', count: 1 },
    ]);
    expect(gauges.subscriptions.sort((x, y) => x.status.localeCompare(y.status))).toEqual([
      { status: 'active', count: 2 },
      { status: 'error', count: 1 },
    ]);
    expect(gauges).toMatchObject({ pendingIndex: 0, unindexable: 0 });
  });
});

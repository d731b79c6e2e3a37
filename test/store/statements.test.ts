import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';

/** Large batches are written in chunks of a few fixed sizes (CompiledStatements.insert); nothing may go missing. */
describe.each(backends)('batched inserts on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  it.each([1, 31, 32, 33, 300, 777])('appends %i events in order, each once', async (count) => {
    const tenant = freshTenant('batch');
    const payloads = Array.from({ length: count }, (_, i) => ({ i }));
    expect(await store.streams.append(tenant, 's', payloads)).toEqual(payloads.map((_, i) => i + 1));
    const events = await store.streams.read(tenant, 's', { from: 1, limit: 1000 });
    expect(events.map((event) => event.payload)).toEqual(payloads);
  });
});

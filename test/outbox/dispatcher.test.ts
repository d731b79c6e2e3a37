import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDispatcher, PermanentFailure } from '../../src/outbox/dispatcher.js';
import { openStore } from '../../src/store/index.js';
import type { OutboxMessage, Store } from '../../src/store/repository.js';

const fastBackoff = { baseMs: 1, maxMs: 2, horizonMs: 60_000 };

describe('outbox dispatcher', () => {
  let dataDir: string;
  let store: Store;

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'outbox-'));
    store = await openStore({ dataDir });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const enqueue = (n: number, kind = 'test.send', orderingKey?: string) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        store.outbox.enqueue({ tenant: 't1', kind, destination: `dest-${i}`, payload: { n: i }, orderingKey }),
      ),
    );

  it('delivers every message once and marks it delivered', async () => {
    await enqueue(25);
    const seen: number[] = [];
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      handlers: { 'test.send': async (message) => void seen.push((message.payload as { n: number }).n) },
    });
    await dispatcher.drain();
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await store.outbox.list('t1', { status: 'delivered' })).toHaveLength(25);
  });

  it('retries a failing delivery with backoff until it succeeds', async () => {
    await enqueue(1);
    let calls = 0;
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      backoff: fastBackoff,
      handlers: {
        'test.send': async () => {
          calls += 1;
          if (calls < 3) throw new Error('receiver down');
        },
      },
    });
    for (let round = 0; round < 50 && calls < 3; round += 1) {
      await dispatcher.drain();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [message] = await store.outbox.list('t1');
    expect(calls).toBe(3);
    expect(message.status).toBe('delivered');
  });

  it('dead-letters a permanent failure at once, keeps the reason, and can replay it', async () => {
    const [id] = await enqueue(1);
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      handlers: { 'test.send': async () => Promise.reject(new PermanentFailure('410 Gone at receiver')) },
    });
    await dispatcher.drain();
    const [dead] = await store.outbox.list('t1', { status: 'dead' });
    expect(dead).toMatchObject({ id, lastError: '410 Gone at receiver' });
    expect(await store.outbox.replay('t1', id)).toBe(true);
    expect((await store.outbox.list('t1', { status: 'pending' })).map((m) => m.id)).toEqual([id]);
  });

  it('dead-letters a message that keeps failing past the retry horizon', async () => {
    await enqueue(1);
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      backoff: { baseMs: 1, maxMs: 1, horizonMs: 0 },
      handlers: { 'test.send': async () => Promise.reject(new Error('timeout')) },
    });
    await dispatcher.drain();
    expect(await store.outbox.list('t1', { status: 'dead' })).toHaveLength(1);
  });

  it('keeps the order of messages that share an ordering key', async () => {
    for (let i = 0; i < 10; i += 1) {
      await store.outbox.enqueue({ tenant: 't1', kind: 'test.send', destination: 'sub-1', payload: { n: i }, orderingKey: 'sub-1' });
    }
    const order: number[] = [];
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      handlers: {
        'test.send': async (message: OutboxMessage) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
          order.push((message.payload as { n: number }).n);
        },
      },
    });
    await dispatcher.drain();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('delivers what a stopped dispatcher left behind when a new one starts', async () => {
    await enqueue(5);
    const first = createDispatcher({ outbox: store.outbox, handlers: { 'other.kind': async () => undefined } });
    await first.drain();
    const delivered: string[] = [];
    const second = createDispatcher({
      outbox: store.outbox,
      pollMs: 5,
      handlers: { 'test.send': async (message) => void delivered.push(message.destination) },
    });
    second.start();
    for (let i = 0; i < 100 && delivered.length < 5; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await second.stop();
    expect(delivered).toHaveLength(5);
  });

  it('runs a round woken inside a store transaction outside it: nothing of a rolled-back transaction is delivered', async () => {
    const delivered: unknown[] = [];
    const dispatcher = createDispatcher({ outbox: store.outbox, pollMs: 5, handlers: { 'test.send': async (message) => void delivered.push(message.payload) } });
    dispatcher.start();
    await store
      .transaction(async (tx) => {
        await tx.outbox.enqueue({ tenant: 't1', kind: 'test.send', destination: 'dest', payload: { rolledBack: true } });
        dispatcher.wake();
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await store.outbox.enqueue({ tenant: 't1', kind: 'test.send', destination: 'dest', payload: { committed: true } });
    for (let i = 0; i < 100 && delivered.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await dispatcher.stop();
    expect(delivered).toEqual([{ committed: true }]);
  });

  it('is woken by the change feed: at once for work due now, when it falls due for work due later', async () => {
    const delivered: { payload: unknown; at: number }[] = [];
    const handlers = { 'test.send': async (message: OutboxMessage) => void delivered.push({ payload: message.payload, at: Date.now() }) };
    const dispatcher = createDispatcher({ outbox: store.outbox, changes: store.changes, pollMs: 60_000, handlers });
    await dispatcher.start();
    try {
      await store.outbox.enqueue({ tenant: 't1', kind: 'test.send', destination: 'dest', payload: 'now' });
      for (let i = 0; i < 100 && delivered.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      const dueAt = Date.now() + 200;
      await store.outbox.enqueue({ tenant: 't1', kind: 'test.send', destination: 'dest', payload: 'later', notBefore: new Date(dueAt).toISOString() });
      for (let i = 0; i < 300 && delivered.length < 2; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(delivered.map((delivery) => delivery.payload)).toEqual(['now', 'later']);
      expect(delivered[1].at).toBeGreaterThanOrEqual(dueAt);
    } finally {
      await dispatcher.stop();
    }
  });
});

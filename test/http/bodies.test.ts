import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createMemoryGate, type Release } from '../../src/http/bodies.js';

/** The memory gate of request bodies in flight (limits.inFlightBytes): room, a bounded queue, a bounded wait. */
describe('createMemoryGate', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Settles `promise` as far as it can without timers: 'pending', or what it resolved with. */
  const state = async (promise: Promise<Release | undefined>) => Promise.race([promise, new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))]);

  it('admits while the reservations fit, and lets a waiting request in when room comes back', async () => {
    const budget = createMemoryGate(1000, { maxWaiting: 4, maxWaitMs: 60_000 });
    const first = await budget.reserve(600);
    const second = budget.reserve(600);
    expect(await state(second)).toBe('pending');
    first!();
    expect(await state(second)).toBeInstanceOf(Function);
  });

  it('serves the queue in order: a large body at its head is not overtaken by a smaller one behind it', async () => {
    const budget = createMemoryGate(1000, { maxWaiting: 4, maxWaitMs: 60_000 });
    const held = await budget.reserve(800);
    const large = budget.reserve(900);
    const small = budget.reserve(100);
    expect(await state(small)).toBe('pending');
    held!();
    const admittedLarge = await state(large);
    expect(admittedLarge).toBeInstanceOf(Function);
    expect(await state(small)).toBeInstanceOf(Function);
  });

  it('refuses at once when the queue is full, and after maxWaitMs when no room came', async () => {
    jest.useFakeTimers();
    const budget = createMemoryGate(1000, { maxWaiting: 1, maxWaitMs: 5_000 });
    await budget.reserve(1000);
    const waiting = budget.reserve(10);
    expect(await budget.reserve(10)).toBeUndefined();
    jest.advanceTimersByTime(5_000);
    expect(await waiting).toBeUndefined();
  });

  it('gives back a reservation once however often it is released, and reads a body larger than the budget alone', async () => {
    const budget = createMemoryGate(1000, { maxWaiting: 0, maxWaitMs: 60_000 });
    const huge = await budget.reserve(5000);
    expect(huge).toBeInstanceOf(Function);
    expect(await budget.reserve(1)).toBeUndefined();
    huge!();
    huge!();
    const all = await budget.reserve(1000);
    expect(all).toBeInstanceOf(Function);
    expect(await budget.reserve(1)).toBeUndefined();
  });
});

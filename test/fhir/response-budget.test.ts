import { describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { ResponseBudget } from '../../src/fhir/response-budget.js';
import { createMemoryGate } from '../../src/http/bodies.js';

/** A request's response budget (limits.responseBytes) draws on the memory all requests in flight share (limits.inFlightBytes). */
describe('response budget', () => {
  it('stops at its own limit, but always takes the first thing gathered', () => {
    const budget = new ResponseBudget(100);
    expect(budget.take(150)).toBe(true);
    expect(budget.take(1)).toBe(false);
    expect(budget.exhausted).toBe(true);
    expect(budget.describe()).toBe('limits.responseBytes (100)');
  });

  it('stops short when the memory shared by the requests in flight has no room, and says which limit it met', () => {
    const gate = createMemoryGate(1000);
    const first = new ResponseBudget(10_000, gate);
    expect(first.take(900)).toBe(true);
    const second = new ResponseBudget(10_000, gate);
    expect(second.take(100)).toBe(true);
    expect(second.take(1)).toBe(false);
    expect(second.exhausted).toBe(true);
    expect(second.describe()).toMatch(/^limits\.inFlightBytes/);
  });

  it('asks a request that can gather nothing at all to come back (429)', () => {
    const gate = createMemoryGate(1000);
    new ResponseBudget(10_000, gate).take(1000);
    const starved = new ResponseBudget(10_000, gate);
    let refusal: unknown;
    try {
      starved.take(10);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(OperationOutcomeError);
    expect((refusal as OperationOutcomeError).outcome).toMatchObject({ id: 'too-many-requests', issue: [{ code: 'throttled' }] });
    expect(starved.exhausted).toBe(true);
  });

  it('gives what it gathered back once the answer is out, so that a body waiting for room is admitted', async () => {
    const gate = createMemoryGate(1000);
    const budget = new ResponseBudget(10_000, gate);
    budget.take(600);
    budget.spend(300);
    let admitted = false;
    const waiting = gate.reserve(500).then((release) => {
      admitted = release !== undefined;
      release?.();
    });
    await Promise.resolve();
    expect(admitted).toBe(false);
    budget.release();
    await waiting;
    expect(admitted).toBe(true);
    expect(gate.claim(1000)).toBe(true);
  });
});

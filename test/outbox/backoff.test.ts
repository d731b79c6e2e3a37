import { describe, expect, it } from '@jest/globals';
import { nextAttempt, retryDelay } from '../../src/outbox/backoff.js';

const policy = { baseMs: 1000, maxMs: 8000, horizonMs: 60_000 };

describe('outbox backoff', () => {
  it('doubles the ceiling per attempt up to the maximum, with jitter in the upper half', () => {
    expect([1, 2, 3, 4, 5, 9].map((attempt) => retryDelay(policy, attempt, () => 1))).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelay(policy, attempt, () => 0))).toEqual([500, 1000, 2000, 4000]);
  });

  it('retries inside the horizon and gives up after it', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const retry = nextAttempt(policy, '2026-01-01T00:00:30Z', 1, now);
    expect(Date.parse(retry!)).toBeGreaterThanOrEqual(now + 500);
    expect(nextAttempt(policy, '2026-01-01T00:00:00Z', 7, now)).toBeUndefined();
  });
});

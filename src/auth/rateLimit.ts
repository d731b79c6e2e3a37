/** Flood control, in memory per instance: token buckets per key, and sampling of what floods would write. */
export interface RateLimit {
  /** Burst size: requests allowed at once. */
  capacity: number;
  /** Sustained requests per second. */
  refillPerSecond: number;
}

export const DEFAULT_TOKEN_RATE_LIMIT: RateLimit = { capacity: 50, refillPerSecond: 20 };

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Keys tracked at most (client addresses are as many as an attacker has); beyond it the least recently used key is
 * forgotten, which only gives that key a fresh start.
 */
const MAX_TRACKED_KEYS = 100_000;

/** Sets `key` as the most recently used entry of `map`, forgetting the least recently used beyond MAX_TRACKED_KEYS. */
function touch<T>(map: Map<string, T>, key: string, value: T): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_TRACKED_KEYS) map.delete(map.keys().next().value as string);
}

export interface RateLimiter {
  /** Spends one request of `key`'s bucket, if it has one. */
  take(key: string): RateDecision;
  /** Whether `key` has a request left, spending nothing: for limits charged only by what the request turns out to be. */
  check(key: string): RateDecision;
}

export function createRateLimiter(limit: RateLimit, clock: () => number = Date.now): RateLimiter {
  const buckets = new Map<string, { tokens: number; updatedAt: number }>();

  function refilled(key: string): { tokens: number; updatedAt: number } {
    const now = clock();
    const bucket = buckets.get(key) ?? { tokens: limit.capacity, updatedAt: now };
    bucket.tokens = Math.min(limit.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit.refillPerSecond);
    bucket.updatedAt = now;
    touch(buckets, key, bucket);
    return bucket;
  }

  const decision = (tokens: number): RateDecision =>
    tokens >= 1 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / limit.refillPerSecond)) };

  return {
    take(key) {
      const bucket = refilled(key);
      const result = decision(bucket.tokens);
      if (result.allowed) bucket.tokens -= 1;
      return result;
    },
    check: (key) => decision(refilled(key).tokens),
  };
}

/**
 * Of the events under one key, the first of each window is recorded and the rest only counted; the count goes with
 * the next one recorded. A flood thus writes one record per key and window.
 */
export interface Sampler {
  /** undefined: count this one, do not record it; a number: record it, saying how many went unrecorded before it. */
  admit(key: string): number | undefined;
}

export function createSampler(windowMs: number, clock: () => number = Date.now): Sampler {
  const windows = new Map<string, { until: number; unrecorded: number }>();
  return {
    admit(key) {
      const now = clock();
      const window = windows.get(key);
      if (window && now < window.until) {
        window.unrecorded += 1;
        return undefined;
      }
      touch(windows, key, { until: now + windowMs, unrecorded: 0 });
      return window?.unrecorded ?? 0;
    },
  };
}

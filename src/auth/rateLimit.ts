/** Token-bucket rate limiting per requester, in memory per instance. */
export interface RateLimit {
  /** Burst size: requests allowed at once. */
  capacity: number;
  /** Sustained requests per second. */
  refillPerSecond: number;
}

export const DEFAULT_TOKEN_RATE_LIMIT: RateLimit = { capacity: 50, refillPerSecond: 20 };

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export function createRateLimiter(limit: RateLimit, clock: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; updatedAt: number }>();
  return {
    take(key: string): RateDecision {
      const now = clock();
      const bucket = buckets.get(key) ?? { tokens: limit.capacity, updatedAt: now };
      bucket.tokens = Math.min(limit.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * limit.refillPerSecond);
      bucket.updatedAt = now;
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { allowed: true };
      }
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / limit.refillPerSecond)) };
    },
  };
}

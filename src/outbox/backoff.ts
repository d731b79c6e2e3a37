/** Exponential backoff with full jitter: attempt 1 waits up to `baseMs`, each later attempt up to twice as long. */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** After this long since the message was created, a failure dead-letters it instead of retrying. */
  horizonMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 5 * 60_000, horizonMs: 24 * 3600_000 };

export function retryDelay(policy: BackoffPolicy, attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** When to try again, or undefined when the message has outlived the retry horizon. */
export function nextAttempt(policy: BackoffPolicy, createdAt: string, attempts: number, now: number): string | undefined {
  const age = now - Date.parse(createdAt);
  if (age >= policy.horizonMs) return undefined;
  return new Date(now + retryDelay(policy, attempts)).toISOString();
}

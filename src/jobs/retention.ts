import { setImmediate as nextTurn } from 'node:timers/promises';
import cron, { type ScheduledTask } from 'node-cron';
import { DEFAULT_AUDIT, type AuditSettings } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/repository.js';

/**
 * What the store keeps only for a while, so its tables do not grow with every notification and token ever made:
 * delivered outbox messages (operators look at them, `replay` sends one again; dead letters stay until someone
 * acts) and subscription events (what `$events` replays) for the hours configured; single-use `jti` keys and access
 * tokens until they expire; the audit trail as configured (docs/auth.md, Audit): the events of refused requests
 * whose requester was not verified for `unverifiedRetentionDays`, and all events for `retentionDays` only when that
 * is set (NEN 7513 logs are kept for years: pruning them is the operator's decision, never a default).
 */
export interface Retention {
  deliveredOutboxHours: number;
  subscriptionEventHours: number;
  audit: AuditSettings;
}

export const DEFAULT_RETENTION: Retention = { deliveredOutboxHours: 7 * 24, subscriptionEventHours: 30 * 24, audit: DEFAULT_AUDIT };

/** Deleted per statement: a short hold on the database, and the event loop gets a turn between two. */
const CHUNK = 5000;

/** Runs `prune` (delete up to a chunk of rows older than `before`, say how many) until fewer than a chunk are left. */
export async function pruneOlderThan(prune: (before: Date, limit: number) => Promise<number>, before: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await prune(before, CHUNK);
    total += deleted;
    if (deleted < CHUNK) return total;
    await nextTurn();
  }
}

export interface Deleted {
  outboxMessages: number;
  subscriptionEvents: number;
  replayKeys: number;
  accessTokens: number;
  unverifiedAuditEvents: number;
  auditEvents: number;
}

/** Deletes what is past its retention, once. */
export async function applyRetention(store: Store, retention: Retention, now: number): Promise<Deleted> {
  const hoursAgo = (hours: number) => new Date(now - hours * 3_600_000);
  const { retentionDays, unverifiedRetentionDays } = retention.audit;
  return {
    outboxMessages: await pruneOlderThan((before, limit) => store.outbox.pruneDelivered(before, limit), hoursAgo(retention.deliveredOutboxHours)),
    subscriptionEvents: await pruneOlderThan((before, limit) => store.streams.pruneBefore(before, limit), hoursAgo(retention.subscriptionEventHours)),
    replayKeys: await pruneOlderThan((before, limit) => store.replay.pruneExpired(before, limit), new Date(now)),
    accessTokens: await pruneOlderThan((before, limit) => store.accessTokens.pruneExpired(before, limit), new Date(now)),
    unverifiedAuditEvents: await pruneOlderThan((before, limit) => store.audit.pruneBefore(before, limit, 'unverified'), hoursAgo(unverifiedRetentionDays * 24)),
    auditEvents: retentionDays === undefined ? 0 : await pruneOlderThan((before, limit) => store.audit.pruneBefore(before, limit, 'all'), hoursAgo(retentionDays * 24)),
  };
}

/**
 * Every five minutes (node-cron): expired keys and tokens pile up at the token endpoint's rate (a few thousand a
 * second under load), so they go often, in chunks, and never on a request's path.
 */
export function scheduleRetention(store: Store, retention: Retention, logger: Logger, clock: () => number = Date.now): { stop(): void } {
  const task: ScheduledTask = cron.schedule('*/5 * * * *', async () => {
    try {
      const deleted = await applyRetention(store, retention, clock());
      if (Object.values(deleted).some((count) => count > 0)) logger.info({ deleted, retention }, 'kept long enough: deleted');
    } catch (error) {
      logger.error({ err: error }, 'retention failed; the next round tries again');
    }
  });
  return { stop: () => void task.stop() };
}

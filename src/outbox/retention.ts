import { setImmediate as nextTurn } from 'node:timers/promises';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../logging.js';
import type { Outbox } from '../store/repository.js';

/**
 * Delivered outbox messages are kept for a while (operators look at them, `replay` can send one again) and then
 * deleted, so the table does not grow with every notification ever sent. Dead letters stay until someone acts.
 */
export const DEFAULT_DELIVERED_RETENTION_HOURS = 7 * 24;
/** Deleted per statement: a short hold on the database, the event loop gets a turn between two. */
const CHUNK = 5000;

/** Deletes every delivered message created before `before`, a chunk at a time; returns how many. */
export async function pruneDelivered(outbox: Outbox, before: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await outbox.pruneDelivered(before, CHUNK);
    total += deleted;
    if (deleted < CHUNK) return total;
    await nextTurn();
  }
}

export interface OutboxRetention {
  stop(): void;
}

/** Every hour (node-cron), deletes the delivered messages older than `retentionHours`. */
export function scheduleRetention(outbox: Outbox, retentionHours: number, logger: Logger, clock: () => number = Date.now): OutboxRetention {
  const task: ScheduledTask = cron.schedule('17 * * * *', async () => {
    try {
      const deleted = await pruneDelivered(outbox, new Date(clock() - retentionHours * 3_600_000));
      if (deleted > 0) logger.info({ deleted, retentionHours }, 'delivered outbox messages deleted');
    } catch (error) {
      logger.error({ err: error }, 'outbox retention failed; the next hour tries again');
    }
  });
  return { stop: () => void task.stop() };
}

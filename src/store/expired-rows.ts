import type { StoreContext } from './context.js';

const PURGE_INTERVAL_MS = 10 * 60_000;

/** Deletes a table's expired rows (column `expires_at`, epoch ms) on the back of a write, at most every ten minutes. */
export class ExpiredRows {
  private lastPurge = Date.now();

  constructor(
    private readonly context: StoreContext,
    private readonly table: 'replay_keys' | 'access_tokens',
  ) {}

  async purge(now: number): Promise<void> {
    if (now - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now;
    await this.context.db().deleteFrom(this.table).where('expires_at', '<=', now).execute();
  }
}

import type { ReplayCache } from './repository.js';
import type { StoreContext } from './context.js';

const PURGE_INTERVAL_MS = 10 * 60_000;

/**
 * Single-use keys in one table: remembering is one INSERT ... ON CONFLICT, which takes over an expired row and
 * changes nothing for a live one, so two instances racing for the same key get one `true` between them.
 */
export class KyselyReplayCache implements ReplayCache {
  private lastPurge = Date.now();

  constructor(private readonly context: StoreContext) {}

  async remember(key: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    const rows = await this.context.statements.run(
      'remember-replay-key',
      (db, slot) =>
        db
          .insertInto('replay_keys')
          .values({ key: slot(0), expires_at: slot(1) })
          .onConflict((conflict) =>
            conflict
              .column('key')
              .doUpdateSet({ expires_at: (eb) => eb.ref('excluded.expires_at') })
              .where('replay_keys.expires_at', '<=', slot(2)),
          )
          .returning('key'),
      [key, expiresAt.getTime(), now],
    );
    await this.purgeExpired(now);
    return rows.length > 0;
  }

  private async purgeExpired(now: number): Promise<void> {
    if (now - this.lastPurge < PURGE_INTERVAL_MS) return;
    this.lastPurge = now;
    await this.context.db().deleteFrom('replay_keys').where('expires_at', '<=', now).execute();
  }
}

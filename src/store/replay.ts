import type { ReplayCache } from './repository.js';
import type { StoreContext } from './context.js';
import { deleteExpired } from './expired-rows.js';

/**
 * Single-use keys in one table: remembering is one INSERT ... ON CONFLICT, which takes over an expired row and
 * changes nothing for a live one, so two instances racing for the same key get one `true` between them.
 */
export class KyselyReplayCache implements ReplayCache {
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
    return rows.length > 0;
  }

  pruneExpired(now: Date, limit: number): Promise<number> {
    return deleteExpired(this.context, 'replay_keys', now, limit);
  }
}

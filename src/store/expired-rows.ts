import type { Kysely } from 'kysely';
import type { StoreContext } from './context.js';

/** The tables whose rows carry an `expires_at` (epoch ms), with their key column. */
const KEY_OF = { replay_keys: 'key', access_tokens: 'id' } as const;

/** Deletes up to `limit` rows of `table` expired by `now`, the longest expired first; returns how many. */
export async function deleteExpired(context: StoreContext, table: keyof typeof KEY_OF, now: Date, limit: number): Promise<number> {
  const key = KEY_OF[table];
  // The two tables differ only in their key column's name, which kysely's table types cannot express generically.
  const db = context.db() as Kysely<any>;
  const result = await db
    .deleteFrom(table)
    .where(key, 'in', db.selectFrom(table).select(key).where('expires_at', '<=', now.getTime()).orderBy('expires_at').limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

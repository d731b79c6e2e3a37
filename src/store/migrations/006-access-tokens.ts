import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** The access tokens issued here (opaque to their holders): one row each, kept until a while after expiry. */
export function accessTokens(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('access_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('secret_hash', 'text', (c) => c.notNull())
        .addColumn('claims', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        // On SQLite the key is the table (WITHOUT ROWID): one b-tree fewer per token.
        .$call((table) => (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table))
        .execute();
      await db.schema.createIndex('access_tokens_expiry').on('access_tokens').column('expires_at').execute();
    },
  };
}

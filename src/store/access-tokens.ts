import type { StoreContext } from './context.js';
import { deleteExpired } from './expired-rows.js';
import type { AccessTokenRecord, AccessTokenRecords } from './repository.js';

/** Access tokens in one table keyed by id; a token id is a UUIDv7, so new rows go to the end of the key. */
export class KyselyAccessTokens implements AccessTokenRecords {
  constructor(private readonly context: StoreContext) {}

  async save(record: AccessTokenRecord): Promise<void> {
    await this.context.statements.insert(
      'access_tokens',
      ['id', 'secret_hash', 'claims', 'expires_at'],
      [[record.id, record.secretHash, record.claims, record.expiresAt.getTime()]],
    );
  }

  pruneExpired(now: Date, limit: number): Promise<number> {
    return deleteExpired(this.context, 'access_tokens', now, limit);
  }

  async find(id: string): Promise<AccessTokenRecord | undefined> {
    const [row] = await this.context.statements.run(
      'find-access-token',
      (db, slot) => db.selectFrom('access_tokens').select(['id', 'secret_hash', 'claims', 'expires_at']).where('id', '=', slot(0)),
      [id],
    );
    return row && { id: row.id, secretHash: row.secret_hash, claims: row.claims, expiresAt: new Date(Number(row.expires_at)) };
  }
}

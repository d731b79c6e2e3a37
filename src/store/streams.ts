import type { EventStreams, StreamEvent } from './repository.js';
import { toInstant, type StoreContext } from './context.js';

/**
 * Numbered event streams. Appending moves the stream's head with one upsert (a row lock on PostgreSQL, so a second
 * writer waits and continues from the committed head) and inserts the events under the numbers it handed out.
 */
export class KyselyEventStreams implements EventStreams {
  constructor(private readonly context: StoreContext) {}

  append(tenant: string, stream: string, payloads: unknown[]): Promise<number[]> {
    if (payloads.length === 0) return Promise.resolve([]);
    return this.context.atomically(async () => {
      const db = this.context.db();
      const head = await db
        .insertInto('stream_heads')
        .values({ tenant, stream, last_number: payloads.length })
        .onConflict((conflict) =>
          conflict.columns(['tenant', 'stream']).doUpdateSet((eb) => ({ last_number: eb('stream_heads.last_number', '+', payloads.length) })),
        )
        .returning('last_number')
        .executeTakeFirstOrThrow();
      const first = Number(head.last_number) - payloads.length + 1;
      const numbers = payloads.map((_, index) => first + index);
      const createdAt = Date.now();
      const columns = ['tenant', 'stream', 'number', 'payload', 'created_at'] as const;
      const rows = payloads.map((payload, index) => [tenant, stream, numbers[index], JSON.stringify(payload ?? null), createdAt]);
      await this.context.statements.insert('stream_events', columns, rows);
      return numbers;
    });
  }

  async read(tenant: string, stream: string, range: { from: number; to?: number; limit: number }): Promise<StreamEvent[]> {
    const rows = await this.context
      .db()
      .selectFrom('stream_events')
      .select(['number', 'payload', 'created_at'])
      .where('tenant', '=', tenant)
      .where('stream', '=', stream)
      .where('number', '>=', range.from)
      .$if(range.to !== undefined, (q) => q.where('number', '<=', range.to as number))
      .orderBy('number')
      .limit(Math.max(0, range.limit))
      .execute();
    return rows.map((row) => ({ number: Number(row.number), payload: JSON.parse(row.payload) as unknown, createdAt: toInstant(Number(row.created_at)) }));
  }

  async head(tenant: string, stream: string): Promise<number> {
    const row = await this.context
      .db()
      .selectFrom('stream_heads')
      .select('last_number')
      .where('tenant', '=', tenant)
      .where('stream', '=', stream)
      .executeTakeFirst();
    return row ? Number(row.last_number) : 0;
  }
}

import type { EventStreams, StreamEvent } from './repository.js';
import { toInstant, type StoreContext } from './context.js';

const EVENT_COLUMNS = ['tenant', 'stream', 'number', 'payload', 'created_at'] as const;
/** Streams per statement: well below the bound-parameter limits of both engines. */
const ROWS_PER_STATEMENT = 500;

/**
 * Numbered event streams. Appending moves the stream's head with one upsert (a row lock on PostgreSQL, so a second
 * writer waits and continues from the committed head) and inserts the events under the numbers it handed out.
 */
export class KyselyEventStreams implements EventStreams {
  constructor(private readonly context: StoreContext) {}

  append(tenant: string, stream: string, payloads: unknown[]): Promise<number[]> {
    if (payloads.length === 0) return Promise.resolve([]);
    return this.context.atomically(async (context) => {
      const db = context.db();
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
      const rows = payloads.map((payload, index) => [tenant, stream, numbers[index], JSON.stringify(payload ?? null), createdAt]);
      await context.statements.insert('stream_events', EVENT_COLUMNS, rows);
      return numbers;
    });
  }

  /** One upsert moves every stream's head (streams must be distinct: a row is updated once per statement). */
  async appendEach(tenant: string, events: { stream: string; payload: unknown }[]): Promise<number[]> {
    if (new Set(events.map((event) => event.stream)).size !== events.length) throw new Error('appendEach needs distinct streams');
    return this.context.atomically(async (context) => {
      const numbers: number[] = [];
      for (let start = 0; start < events.length; start += ROWS_PER_STATEMENT) {
        numbers.push(...(await appendChunk(context, tenant, events.slice(start, start + ROWS_PER_STATEMENT))));
      }
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

  async pruneBefore(before: Date, limit: number): Promise<number> {
    const result = await this.context
      .db()
      .deleteFrom('stream_events')
      .where(({ eb, refTuple, selectFrom }) =>
        eb(
          refTuple('tenant', 'stream', 'number'),
          'in',
          selectFrom('stream_events as old')
            .select(['old.tenant', 'old.stream', 'old.number'])
            .where('old.created_at', '<', before.getTime())
            .orderBy('old.created_at')
            .limit(limit)
            .$asTuple('tenant', 'stream', 'number'),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

async function appendChunk(context: StoreContext, tenant: string, events: { stream: string; payload: unknown }[]): Promise<number[]> {
  const heads = await context.statements.run<{ stream: string; last_number: number }>(
    `stream_heads.bump|${events.length}`,
    (db, slot) =>
      db
        .insertInto('stream_heads')
        .values(events.map((_, i) => ({ tenant: slot(2 * i), stream: slot(2 * i + 1), last_number: 1 })))
        .onConflict((conflict) => conflict.columns(['tenant', 'stream']).doUpdateSet((eb) => ({ last_number: eb('stream_heads.last_number', '+', 1) })))
        .returning(['stream', 'last_number']),
    events.flatMap((event) => [tenant, event.stream]),
  );
  const headOf = new Map(heads.map((head) => [head.stream, Number(head.last_number)]));
  const numbers = events.map((event) => headOf.get(event.stream) as number);
  const createdAt = Date.now();
  const rows = events.map((event, i) => [tenant, event.stream, numbers[i], JSON.stringify(event.payload ?? null), createdAt]);
  await context.statements.insert('stream_events', EVENT_COLUMNS, rows);
  return numbers;
}

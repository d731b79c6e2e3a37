import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import { OUTBOX_CHANGED, type NewOutboxMessage, type Outbox, type OutboxMessage } from './repository.js';
import { toInstant, type StoreContext } from './context.js';
import type { OutboxTable } from './schema.js';

const MAX_ERROR_LENGTH = 2000;
const OUTBOX_COLUMNS = ['id', 'tenant', 'kind', 'destination', 'payload', 'ordering_key', 'attempts', 'status', 'next_attempt_at', 'created_at', 'last_error'] as const;
/** Rows per multi-row statement: well below the bound-parameter limits of both engines. */
const ROWS_PER_STATEMENT = 500;

/**
 * The durable outbox. A claim is one UPDATE over the due messages (on PostgreSQL selected `FOR UPDATE SKIP LOCKED`,
 * so concurrent instances never take the same one); an in-flight message's `next_attempt_at` is its lease expiry.
 * Enqueueing (and replaying) signals `OUTBOX_CHANGED`, so every instance's dispatcher starts a round when it is due.
 */
export class KyselyOutbox implements Outbox {
  constructor(private readonly context: StoreContext) {}

  async enqueue(message: NewOutboxMessage): Promise<string> {
    const [id] = await this.enqueueAll([message]);
    return id;
  }

  async enqueueAll(messages: NewOutboxMessage[]): Promise<string[]> {
    if (messages.length === 0) return [];
    const now = Date.now();
    let firstDue = Infinity;
    const rows = messages.map((message) => {
      const notBefore = message.notBefore === undefined ? now : Date.parse(message.notBefore);
      if (Number.isNaN(notBefore)) throw new OperationOutcomeError(badRequest(`notBefore '${message.notBefore}' is not an instant`));
      firstDue = Math.min(firstDue, notBefore);
      const payload = JSON.stringify(message.payload ?? null);
      return [randomUUID(), message.tenant, message.kind, message.destination, payload, message.orderingKey ?? null, 0, 'pending', notBefore, now, null];
    });
    await this.context.atomically(async (context) => {
      for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
        await context.statements.insert('outbox', OUTBOX_COLUMNS, rows.slice(start, start + ROWS_PER_STATEMENT));
      }
    });
    // Work due later says when, so that the dispatchers wake then.
    await this.context.publish(OUTBOX_CHANGED, firstDue > now ? String(firstDue) : undefined);
    return rows.map((row) => row[0] as string);
  }

  /**
   * Due: pending and past its next attempt, or in-flight with an expired lease. A message with an ordering key waits
   * while an older one with the same key (and tenant) is unfinished. The unfinished messages are walked in queue
   * order (index `outbox_unfinished`) until the batch is full, so a claim costs about the batch, whatever the backlog.
   */
  async claim(kinds: string[], limit: number, leaseMs: number): Promise<OutboxMessage[]> {
    if (kinds.length === 0 || limit <= 0) return [];
    const now = Date.now();
    const sqlite = this.context.dialect === 'sqlite';
    // SQLite's planner would take the due-time index and sort everything unfinished; it is told which index to walk.
    const queue = sqlite ? sql`outbox as m indexed by outbox_unfinished` : sql`outbox as m`;
    const lock = sqlite ? sql`` : sql`for update skip locked`;
    const { rows } = await sql<OutboxRow>`
      update outbox set status = 'in-flight', next_attempt_at = ${now + leaseMs}, attempts = attempts + 1
      where seq in (
        select m.seq from ${queue}
        where m.status in ('pending', 'in-flight') and m.next_attempt_at <= ${now} and m.kind in (${sql.join(kinds)})
          and (m.ordering_key is null or not exists (
            select 1 from outbox as older
            where older.tenant = m.tenant and older.ordering_key = m.ordering_key and older.seq < m.seq
              and older.status in ('pending', 'in-flight')))
        order by m.seq
        limit ${limit}
        ${lock})
      returning *`.execute(this.context.db());
    return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(toMessage);
  }

  complete(id: string): Promise<void> {
    return this.completeAll([id]);
  }

  async completeAll(ids: string[]): Promise<void> {
    for (let start = 0; start < ids.length; start += ROWS_PER_STATEMENT) {
      const chunk = ids.slice(start, start + ROWS_PER_STATEMENT);
      await this.context.statements.run(
        `outbox.complete|${chunk.length}`,
        (db, slot) => db.updateTable('outbox').set({ status: 'delivered' }).where('id', 'in', chunk.map((_, i) => slot(i))),
        chunk,
      );
    }
  }

  async fail(id: string, error: string, retryAt?: string): Promise<void> {
    const next = retryAt === undefined ? undefined : Date.parse(retryAt);
    const lastError = error.slice(0, MAX_ERROR_LENGTH);
    await this.context
      .db()
      .updateTable('outbox')
      .set(next === undefined || Number.isNaN(next) ? { status: 'dead', last_error: lastError } : { status: 'pending', next_attempt_at: next, last_error: lastError })
      .where('id', '=', id)
      .execute();
  }

  async list(tenant: string, filter: { status?: OutboxMessage['status']; kind?: string; limit?: number } = {}): Promise<OutboxMessage[]> {
    const rows = await this.context
      .db()
      .selectFrom('outbox')
      .selectAll()
      .where('tenant', '=', tenant)
      .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status as OutboxMessage['status']))
      .$if(filter.kind !== undefined, (q) => q.where('kind', '=', filter.kind as string))
      .orderBy('seq', 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map(toMessage);
  }

  async replay(tenant: string, id: string): Promise<boolean> {
    const result = await this.context
      .db()
      .updateTable('outbox')
      .set({ status: 'pending', next_attempt_at: Date.now(), attempts: 0 })
      .where('tenant', '=', tenant)
      .where('id', '=', id)
      .where('status', 'in', ['dead', 'delivered'])
      .executeTakeFirst();
    const replayed = Number(result.numUpdatedRows) > 0;
    if (replayed) await this.context.publish(OUTBOX_CHANGED);
    return replayed;
  }

  async pruneDelivered(before: Date, limit: number): Promise<number> {
    // The status as a literal: SQLite uses the partial index `outbox_delivered` only for a query that names it so.
    const result = await this.context
      .db()
      .deleteFrom('outbox')
      .where('seq', 'in', (eb) =>
        eb
          .selectFrom('outbox')
          .select('seq')
          .where('status', '=', sql.lit('delivered'))
          .where('created_at', '<', before.getTime())
          .orderBy('created_at')
          .limit(limit),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

type OutboxRow = Omit<OutboxTable, 'seq'> & { seq: number };

function toMessage(row: OutboxRow): OutboxMessage {
  const message: OutboxMessage = {
    id: row.id,
    tenant: row.tenant,
    kind: row.kind,
    destination: row.destination,
    payload: JSON.parse(row.payload) as unknown,
    attempts: row.attempts,
    status: row.status,
    nextAttemptAt: toInstant(row.next_attempt_at),
    createdAt: toInstant(row.created_at),
  };
  if (row.ordering_key !== null) message.orderingKey = row.ordering_key;
  if (row.last_error !== null) message.lastError = row.last_error;
  return message;
}

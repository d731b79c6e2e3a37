import { setImmediate as nextTurn } from 'node:timers/promises';
import { indexEntries, isIndexedLater, type IndexEntries } from '../fhir/search/index.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { Logger } from '../logging/logger.js';
import type { StoreContext } from './context.js';
import { insertIndexEntries, setAside, type IndexedResource, type SetAsideResource } from './index-writer.js';

type IndexingContext = Pick<StoreContext, 'dialect' | 'db' | 'atomically' | 'statements'>;

/** After a deferred write, the background round waits this long to gather a batch. */
const ROUND_DELAY_MS = 200;
/**
 * Resources indexed per background round (one transaction, about 60 µs each): a round holds the event loop for a
 * few milliseconds, and the loop gets a turn between rounds.
 */
const BACKGROUND_ROUND = 50;
/** Resources per round when a search waits for them anyway. */
const FLUSH_ROUND = 1000;
/**
 * A round takes no more resources once it has this many index entries (a few hundred milliseconds of inserts on a
 * 2-core machine): fifty resources of MAX_INDEX_ENTRIES each would otherwise hold the event loop for many seconds.
 */
const ROUND_ENTRIES = 10_000;
/**
 * With this many resources pending, writes index their own entries again until the background has caught up: a
 * search never waits for more than about this many (some 30-50 ms), and a bulk load cannot pile up a backlog.
 */
const MAX_PENDING = 500;

/**
 * Index entries of some types are written in batches, after the resource (written with it, they cost a write about
 * as much again: a page per entry at commit). The resource is stored as any other, in the caller's transaction,
 * together with its row in `pending_index`; a round indexes pending resources many at a time (one INSERT per index
 * table for all of them) and takes them off the queue, in one transaction.
 * Rounds run in the background shortly after such writes, and before any search that can see these types for
 * what its tenant has pending, so a search never misses a stored resource (and never waits for another tenant's
 * backlog). The queue is in the database: a crash loses nothing, the next round (or search) picks up where it was.
 * A resource that cannot be indexed (indexEntries throws) is set aside with the reason and logged; it leaves the
 * queue like the others, so it never holds them up.
 */
export class DeferredIndex {
  private timer?: NodeJS.Timeout;
  private background?: Promise<void>;
  /** Something was queued since the background round was set off (it may not have seen it). */
  private queuedSince = false;
  /** This instance's view of the queue's length: what it queued less what it indexed, set from the table now and then. */
  private pending = 0;
  private closed = false;

  constructor(
    /** The store outside any transaction, where background rounds run. */
    private readonly context: IndexingContext,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {}

  /** The types indexed this way (search/indexed.ts: the patient data read by id). */
  static defers(resourceType: string): boolean {
    return isIndexedLater(resourceType);
  }

  /** Whether a write may leave its entries to a round now (false: the queue is long, the write indexes itself). */
  accepts(): boolean {
    return this.pending < MAX_PENDING;
  }

  /** Queues resource `rid` of `tenant`, written in the unit of work `context`, for indexing. */
  async enqueue(context: Pick<IndexingContext, 'statements'>, rid: number, tenant: string): Promise<void> {
    await context.statements.run(
      'enqueue-pending-index',
      (db, slot) =>
        db
          .insertInto('pending_index')
          .values({ rid: slot(0), tenant: slot(1) })
          .onConflict((conflict) => conflict.column('rid').doNothing()),
      [rid, tenant],
    );
    this.pending += 1;
    this.queuedSince = true;
    this.schedule();
  }

  /**
   * Indexes everything `tenant` has pending, before a search of that tenant that may see a deferred type: rounds
   * until none is left of what was queued when the flush began (waiting for other instances' rounds; what others
   * queue meanwhile is theirs), in the searching unit of work `context`.
   */
  async flush(context: IndexingContext, tenant: string): Promise<void> {
    const last = await lastPending(context, tenant);
    if (last === undefined) return;
    while ((await this.round(context, 'wait', FLUSH_ROUND, { tenant, last })).taken > 0) await nextTurn();
  }

  /** At start-up: what an earlier run left pending is indexed in the background. */
  async resume(): Promise<void> {
    await this.recount();
    if (this.pending > 0) this.schedule();
  }

  /** The queue's length from the table (a rolled-back write's count, another instance's work). */
  private async recount(): Promise<void> {
    const [row] = await this.context.statements.run('count-pending-index', (db) => db.selectFrom('pending_index').select((eb) => eb.fn.countAll<number>().as('n')), []);
    this.pending = Number(row?.n ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.background;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.queuedSince = false;
      this.background = this.catchUp().finally(() => {
        this.background = undefined;
        this.timer = undefined;
        if (this.queuedSince) this.schedule();
      });
    }, ROUND_DELAY_MS);
    this.timer.unref();
  }

  private async catchUp(): Promise<void> {
    try {
      while (!this.closed && (await this.round(this.context, 'skip', BACKGROUND_ROUND)).more) await nextTurn();
    } catch {
      // The queue stays as it was: the next round, or the next search, indexes it.
    }
    if (!this.closed) await this.recount().catch(() => undefined);
  }

  /**
   * One transaction: the oldest pending resources, locked (on PostgreSQL the resource rows too, so a concurrent
   * update waits and then replaces these entries), indexed or set aside, and taken off the queue; with `until`, only
   * one tenant's, up to rid `last`; up to `size` of them, and no more once ROUND_ENTRIES entries are written. Background
   * rounds skip rows another instance is indexing; a flush waits for them. Returns how many were taken, and whether
   * more may be waiting.
   */
  private async round(
    context: IndexingContext,
    locking: 'wait' | 'skip',
    size: number,
    until?: { tenant: string; last: number },
  ): Promise<{ taken: number; more: boolean }> {
    const done = await context.atomically(async (tx) => {
      const db = tx.db();
      const rows = await db
        .selectFrom('pending_index as p')
        .innerJoin('resources as r', 'r.rid', 'p.rid')
        .select(['p.rid', 'r.tenant', 'r.fhir_version', 'r.resource_type', 'r.id', 'r.content'])
        .$if(until !== undefined, (q) => q.where('p.tenant', '=', until!.tenant).where('p.rid', '<=', until!.last))
        .orderBy('p.rid')
        .limit(size)
        .$if(tx.dialect === 'postgres', (q) => (locking === 'skip' ? q.forUpdate(['p', 'r']).skipLocked() : q.forUpdate(['p', 'r'])))
        .execute();
      if (rows.length === 0) return { taken: [], more: false, setAside: [] };
      const taken: number[] = [];
      const indexed: IndexedResource[] = [];
      const unindexable: SetAsideResource[] = [];
      let entryCount = 0;
      for (const row of rows) {
        if (entryCount >= ROUND_ENTRIES) break;
        taken.push(row.rid);
        // A deleted resource has nothing to index.
        if (row.content === null) continue;
        const version = row.fhir_version as FhirVersion;
        const resource = { rid: row.rid, tenant: row.tenant, version, resourceType: row.resource_type };
        try {
          const entries = indexEntries(version, JSON.parse(row.content) as Resource);
          entryCount += countEntries(entries);
          indexed.push({ ...resource, entries });
        } catch (error) {
          unindexable.push({ ...resource, id: row.id, reason: `${row.resource_type}/${row.id} cannot be indexed: ${(error as Error).message}` });
        }
      }
      await insertIndexEntries(tx, indexed);
      await setAside(tx, unindexable);
      await db.deleteFrom('pending_index').where('rid', 'in', taken).execute();
      return { taken, more: rows.length === size || taken.length < rows.length, setAside: unindexable };
    });
    this.pending = Math.max(0, this.pending - done.taken.length);
    for (const resource of done.setAside) this.logger.warn({ tenant: resource.tenant, fhirVersion: resource.version, reason: resource.reason }, 'resource set aside: not indexed');
    return { taken: done.taken.length, more: done.more };
  }
}

const countEntries = (entries: IndexEntries): number => Object.values(entries).reduce((sum, list) => sum + list.length, 0);

/** A read first: with nothing pending, a search takes no write lock. */
async function lastPending(context: IndexingContext, tenant: string): Promise<number | undefined> {
  // No index on the tenant: the queue is short (MAX_PENDING per instance), and an index would cost every write.
  const [row] = await context.statements.run(
    'last-pending-index-of-tenant',
    (db, slot) => db.selectFrom('pending_index').select((eb) => eb.fn.max('rid').as('last')).where('tenant', '=', slot(0)),
    [tenant],
  );
  return row?.last ?? undefined;
}

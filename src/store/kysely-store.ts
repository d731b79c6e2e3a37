import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type Kysely } from 'kysely';
import type { EventStreams, Outbox, ReplayCache, ResourceRepository, Store } from './repository.js';
import type { StoreContext } from './context.js';
import { InsertStatements } from './insert-statements.js';
import { KyselyOutbox } from './outbox.js';
import { KyselyReplayCache } from './replay.js';
import { KyselyResourceRepository } from './resources.js';
import { KyselyEventStreams } from './streams.js';
import type { Database, Dialect } from './schema.js';

/**
 * The Store over either engine. An open transaction belongs to the async context that started it: inside
 * `transaction(work)`, every call on this store (or the `tx` handed to `work`, the same object) runs in that
 * transaction, and a nested `transaction` joins it.
 */
export class KyselyStore implements Store {
  readonly resources: ResourceRepository;
  readonly outbox: Outbox;
  readonly replay: ReplayCache;
  readonly streams: EventStreams;
  private readonly context: StoreContext;
  private readonly openTransaction = new AsyncLocalStorage<Kysely<Database>>();

  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    /** Runs before the database closes (the SQLite checkpointer thread stops there). */
    private readonly beforeClose: () => Promise<void> = async () => undefined,
  ) {
    this.context = {
      dialect: kind,
      db: () => this.openTransaction.getStore() ?? db,
      atomically: (work) => this.transaction(() => work()),
      inserts: new InsertStatements(),
    };
    this.resources = new KyselyResourceRepository(this.context);
    this.outbox = new KyselyOutbox(this.context);
    this.replay = new KyselyReplayCache(this.context);
    this.streams = new KyselyEventStreams(this.context);
  }

  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.openTransaction.getStore()) return work(this);
    return this.db.transaction().execute((trx) => this.openTransaction.run(trx, () => work(this)));
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.context.db());
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.beforeClose();
    await this.db.destroy();
  }
}

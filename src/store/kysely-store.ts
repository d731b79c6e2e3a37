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

/** The transaction an async context runs in; `trx` is cleared when the transaction ends. */
interface OpenTransaction {
  trx?: Kysely<Database>;
}

/**
 * The Store over either engine. An open transaction belongs to the async context that started it: inside
 * `transaction(work)`, every call on this store (or the `tx` handed to `work`, the same object) runs in that
 * transaction, and a nested `transaction` joins it. Work the transaction leaves behind (a timer, an unawaited
 * promise) inherits that context; once the transaction has ended, it runs outside it.
 */
export class KyselyStore implements Store {
  readonly resources: ResourceRepository;
  readonly outbox: Outbox;
  readonly replay: ReplayCache;
  readonly streams: EventStreams;
  private readonly context: StoreContext;
  private readonly openTransaction = new AsyncLocalStorage<OpenTransaction>();

  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    /** Runs before the database closes (the SQLite checkpointer thread stops there). */
    private readonly beforeClose: () => Promise<void> = async () => undefined,
  ) {
    this.context = {
      dialect: kind,
      db: () => this.openTransaction.getStore()?.trx ?? db,
      atomically: (work) => this.transaction(() => work()),
      inserts: new InsertStatements(),
    };
    this.resources = new KyselyResourceRepository(this.context);
    this.outbox = new KyselyOutbox(this.context);
    this.replay = new KyselyReplayCache(this.context);
    this.streams = new KyselyEventStreams(this.context);
  }

  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.openTransaction.getStore()?.trx) return work(this);
    return this.db.transaction().execute(async (trx) => {
      const open: OpenTransaction = { trx };
      try {
        return await this.openTransaction.run(open, () => work(this));
      } finally {
        delete open.trx;
      }
    });
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

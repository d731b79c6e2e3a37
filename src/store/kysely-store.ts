import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type Kysely } from 'kysely';
import type { ChangeFeed, EventStreams, Outbox, ReplayCache, ResourceRepository, Store } from './repository.js';
import { InProcessSignals, type Signal, type SignalTransport } from './changes.js';
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
  /** Change signals published in it, by topic and message (the same one twice goes out once). */
  signals: Map<string, Signal>;
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
  readonly changes: ChangeFeed;
  private readonly context: StoreContext;
  private readonly openTransaction = new AsyncLocalStorage<OpenTransaction>();

  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    /** Runs before the database closes (the SQLite checkpointer thread stops there). */
    private readonly beforeClose: () => Promise<void> = async () => undefined,
    /** How change signals reach the other instances (in-process unless given). */
    private readonly signals: SignalTransport = new InProcessSignals(),
  ) {
    this.changes = {
      publish: (topic, message) => this.publish({ topic, message }),
      subscribe: (topic, listener) => signals.subscribe(topic, listener),
    };
    this.context = {
      dialect: kind,
      db: () => this.openTransaction.getStore()?.trx ?? db,
      atomically: (work) => this.transaction(() => work()),
      inserts: new InsertStatements(),
      publish: (topic, message) => this.changes.publish(topic, message),
    };
    this.resources = new KyselyResourceRepository(this.context);
    this.outbox = new KyselyOutbox(this.context);
    this.replay = new KyselyReplayCache(this.context);
    this.streams = new KyselyEventStreams(this.context);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.openTransaction.getStore()?.trx) return work(this);
    const open: OpenTransaction = { signals: new Map() };
    const result = await this.db.transaction().execute(async (trx) => {
      open.trx = trx;
      try {
        const value = await this.openTransaction.run(open, () => work(this));
        if (this.signals.sendsInTransaction) await this.signals.send([...open.signals.values()], trx);
        return value;
      } finally {
        delete open.trx;
      }
    });
    if (!this.signals.sendsInTransaction) await this.signals.send([...open.signals.values()], this.db);
    return result;
  }

  /** Inside a transaction the signal waits for its end (and is dropped on rollback); outside one it goes now. */
  private async publish(signal: Signal): Promise<void> {
    const open = this.openTransaction.getStore();
    if (open?.trx) {
      open.signals.set(JSON.stringify([signal.topic, signal.message]), signal);
      return;
    }
    await this.signals.send([signal], this.db);
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
    await this.signals.close();
    await this.beforeClose();
    await this.db.destroy();
  }
}

import { sql, type Kysely } from 'kysely';
import type { ChangeFeed, Store, StoreGauges, UnitOfWork } from './repository.js';
import { withAuditTrail } from './audit-resources.js';
import { KyselyAuditTrail } from './audit-trail.js';
import { KyselyAccessTokens } from './access-tokens.js';
import { KyselyCapacityStates, KyselyCredentialRecords, KyselyTransferRecords } from './bookkeeping.js';
import { InProcessSignals, type Signal, type SignalTransport } from './changes.js';
import type { StoreContext } from './context.js';
import { DEFAULT_LIMITS } from '../config/config.js';
import type { ResourceLimits } from '../fhir/resource-limits.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { DeferredIndex } from './deferred-index.js';
import { KyselyOutbox } from './outbox.js';
import { KyselyReplayCache } from './replay.js';
import { KyselyResourceRepository } from './resources.js';
import type { DirectSql } from './sqlite.js';
import { CompiledStatements } from './statements.js';
import { KyselyEventStreams } from './streams.js';
import type { Database, Dialect } from './schema.js';

export interface KyselyStoreOptions {
  /** Runs before the database closes (the SQLite checkpointer thread stops there). */
  beforeClose?: () => Promise<void>;
  /** How change signals reach the other instances (in-process unless given). */
  signals?: SignalTransport;
  /** SQLite: the connection itself, for statements that may skip kysely's queue (see CompiledStatements). */
  direct?: DirectSql;
  /** Where the store reports what an operator should see (a resource set aside unindexed); LOG_LEVEL's unless given. */
  logger?: Logger;
  /** What one resource written may hold; the configuration's defaults unless given. */
  limits?: ResourceLimits;
}

type Repositories = Pick<
  UnitOfWork,
  'resources' | 'audit' | 'outbox' | 'replay' | 'accessTokens' | 'transfers' | 'capacityStates' | 'credentials' | 'streams'
>;

/** The repositories of one unit of work, every one over its context. */
function repositoriesOver(context: StoreContext, limits: ResourceLimits): Repositories {
  const audit = new KyselyAuditTrail(context);
  return {
    resources: withAuditTrail(new KyselyResourceRepository(context, limits), audit),
    audit,
    outbox: new KyselyOutbox(context),
    replay: new KyselyReplayCache(context),
    accessTokens: new KyselyAccessTokens(context),
    transfers: new KyselyTransferRecords(context),
    capacityStates: new KyselyCapacityStates(context),
    credentials: new KyselyCredentialRecords(context),
    streams: new KyselyEventStreams(context),
  };
}

/** The `tx` of one transaction: its repositories, its signals (sent at commit); a nested `transaction` joins it. */
class TransactionUnit implements UnitOfWork {
  readonly changes: ChangeFeed;

  constructor(
    readonly kind: Dialect,
    private readonly context: StoreContext,
    repositories: Repositories,
    subscribe: ChangeFeed['subscribe'],
  ) {
    Object.assign(this, repositories);
    this.changes = { publish: (topic, message) => this.context.publish(topic, message), subscribe };
  }

  transaction<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
    return work(this);
  }
}
// The repositories are fields of both, assigned from `repositoriesOver` in their constructors.
interface TransactionUnit extends Repositories {}
export interface KyselyStore extends Repositories {}

/**
 * The Store over either engine. Outside a transaction every call is atomic on its own; `transaction(work)` hands
 * `work` a unit of work of its own (`tx`), and only what goes through `tx` is in the transaction.
 */
export class KyselyStore implements Store {
  readonly changes: ChangeFeed;
  private readonly context: StoreContext;

  private readonly beforeClose: () => Promise<void>;
  private readonly deferredIndex: DeferredIndex;
  private readonly signals: SignalTransport;
  private readonly direct?: DirectSql;
  private readonly limits: ResourceLimits;
  /** Transactions begun and not yet ended on this store (waiting for the connection included). */
  private transactionsOpen = 0;
  private closing?: Promise<void>;

  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    options: KyselyStoreOptions = {},
  ) {
    this.beforeClose = options.beforeClose ?? (async () => undefined);
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.direct = options.direct;
    const signals = (this.signals = options.signals ?? new InProcessSignals());
    this.changes = {
      publish: (topic, message) => signals.send([{ topic, message }], db),
      subscribe: (topic, listener) => signals.subscribe(topic, listener),
    };
    const shared = {
      dialect: kind,
      db: () => db,
      atomically: <T>(work: (context: StoreContext) => Promise<T>) => this.inTransaction(work),
      // With no transaction open, a read can't interleave with anyone's (better-sqlite3 runs it to the end first).
      statements: new CompiledStatements({ db: () => db, direct: this.direct && { sql: this.direct, allowed: (readOnly) => readOnly && this.transactionsOpen === 0 } }),
      publish: this.changes.publish,
    };
    this.deferredIndex = new DeferredIndex(shared, options.logger ?? createLogger());
    this.context = { ...shared, deferredIndex: this.deferredIndex };
    Object.assign(this, repositoriesOver(this.context, this.limits));
  }

  transaction<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
    return this.inTransaction((context) => work(new TransactionUnit(this.kind, context, repositoriesOver(context, this.limits), this.changes.subscribe)));
  }

  /**
   * Runs `work` on the context of a new transaction. Signals published in it wait for its end (the same topic and
   * message twice go out once) and are dropped on rollback.
   */
  private async inTransaction<T>(work: (context: StoreContext) => Promise<T>): Promise<T> {
    const signals = new Map<string, Signal>();
    this.transactionsOpen += 1;
    let result: T;
    try {
      result = await this.db.transaction().execute(async (trx) => {
        const open = { ended: false };
        try {
          const value = await work(this.transactionContext(trx, signals, open));
          if (this.signals.sendsInTransaction) await this.signals.send([...signals.values()], trx);
          return value;
        } finally {
          open.ended = true;
        }
      });
    } finally {
      this.transactionsOpen -= 1;
    }
    if (!this.signals.sendsInTransaction) await this.signals.send([...signals.values()], this.db);
    return result;
  }

  private transactionContext(trx: Kysely<Database>, signals: Map<string, Signal>, open: { ended: boolean }): StoreContext {
    const context: StoreContext = {
      dialect: this.kind,
      db: () => trx,
      atomically: (work) => work(context),
      // The transaction holds the connection until it ends: its statements may run on it directly.
      statements: this.context.statements.on({ db: () => trx, direct: this.direct && { sql: this.direct, allowed: () => !open.ended } }),
      deferredIndex: this.deferredIndex,
      publish: async (topic, message) => {
        signals.set(JSON.stringify([topic, message]), { topic, message });
      },
    };
    return context;
  }

  /** Called once the schema is up to date: picks up work an earlier run left (the deferred index). */
  async start(): Promise<void> {
    await this.deferredIndex.resume();
  }

  async gauges(): Promise<StoreGauges> {
    const db = this.context.db();
    const [outbox, pending, unindexable, subscriptions] = await Promise.all([
      db.selectFrom('outbox').select(['kind', 'status', (eb) => eb.fn.countAll<number>().as('count')]).where('status', '!=', 'delivered').groupBy(['kind', 'status']).execute(),
      db.selectFrom('pending_index').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
      db.selectFrom('unindexable_resources').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow(),
      db
        .selectFrom('search_token')
        .select(['code', (eb) => eb.fn.countAll<number>().as('count')])
        .where('resource_type', '=', 'Subscription')
        .where('fhir_version', '=', 'r4')
        .where('param', '=', 'status')
        .groupBy('code')
        .execute(),
    ]);
    return {
      outbox: outbox.map((row) => ({ kind: row.kind, status: row.status, count: Number(row.count) })),
      pendingIndex: Number(pending.count),
      unindexable: Number(unindexable.count),
      subscriptions: subscriptions.map((row) => ({ status: row.code, count: Number(row.count) })),
    };
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.context.db());
      return true;
    } catch {
      return false;
    }
  }

  /** Closes the store; closing it again waits for the same close. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.deferredIndex.close();
    await this.signals.close();
    await this.beforeClose();
    await this.db.destroy();
  }
}

import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type Kysely } from 'kysely';
import type { AccessTokenRecords, AuditTrail, CapacityStates, CredentialRecords, TransferRecords, ChangeFeed, EventStreams, Outbox, ReplayCache, ResourceRepository, Store, StoreGauges } from './repository.js';
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
  readonly audit: AuditTrail;
  readonly outbox: Outbox;
  readonly replay: ReplayCache;
  readonly accessTokens: AccessTokenRecords;
  readonly transfers: TransferRecords;
  readonly capacityStates: CapacityStates;
  readonly credentials: CredentialRecords;
  readonly streams: EventStreams;
  readonly changes: ChangeFeed;
  private readonly context: StoreContext;
  private readonly openTransaction = new AsyncLocalStorage<OpenTransaction>();

  private readonly beforeClose: () => Promise<void>;
  private readonly deferredIndex: DeferredIndex;
  private readonly signals: SignalTransport;
  /** Transactions begun and not yet ended on this store (waiting for the connection included). */
  private transactionsOpen = 0;
  private closing?: Promise<void>;

  constructor(
    readonly kind: Dialect,
    private readonly db: Kysely<Database>,
    options: KyselyStoreOptions = {},
  ) {
    this.beforeClose = options.beforeClose ?? (async () => undefined);
    const signals = (this.signals = options.signals ?? new InProcessSignals());
    this.changes = {
      publish: (topic, message) => this.publish({ topic, message }),
      subscribe: (topic, listener) => signals.subscribe(topic, listener),
    };
    const current = () => this.openTransaction.getStore()?.trx ?? this.db;
    // Inside its own transaction an async context holds the connection; with no transaction open, a read can't
    // interleave with anyone's (better-sqlite3 runs it to the end before anything else runs).
    const allowed = (readOnly: boolean) => this.openTransaction.getStore()?.trx !== undefined || (readOnly && this.transactionsOpen === 0);
    const shared = {
      dialect: kind,
      db: current,
      atomically: <T>(work: () => Promise<T>) => this.transaction(() => work()),
      statements: new CompiledStatements({ db: current, direct: options.direct && { sql: options.direct, allowed } }),
      publish: (topic: string, message?: string) => this.changes.publish(topic, message),
    };
    this.deferredIndex = new DeferredIndex(shared, (work) => this.openTransaction.exit(work), options.logger ?? createLogger());
    this.context = { ...shared, deferredIndex: this.deferredIndex };
    this.audit = new KyselyAuditTrail(this.context);
    this.resources = withAuditTrail(new KyselyResourceRepository(this.context, options.limits ?? DEFAULT_LIMITS), this.audit);
    this.outbox = new KyselyOutbox(this.context);
    this.replay = new KyselyReplayCache(this.context);
    this.accessTokens = new KyselyAccessTokens(this.context);
    this.transfers = new KyselyTransferRecords(this.context);
    this.capacityStates = new KyselyCapacityStates(this.context);
    this.credentials = new KyselyCredentialRecords(this.context);
    this.streams = new KyselyEventStreams(this.context);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.openTransaction.getStore()?.trx) return work(this);
    const open: OpenTransaction = { signals: new Map() };
    this.transactionsOpen += 1;
    let result: T;
    try {
      result = await this.db.transaction().execute(async (trx) => {
        open.trx = trx;
        try {
          const value = await this.openTransaction.run(open, () => work(this));
          if (this.signals.sendsInTransaction) await this.signals.send([...open.signals.values()], trx);
          return value;
        } finally {
          delete open.trx;
        }
      });
    } finally {
      this.transactionsOpen -= 1;
    }
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

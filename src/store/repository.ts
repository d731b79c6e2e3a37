import type { ResponseBudget } from '../fhir/response-budget.js';
import type { HistoryEntry, HistoryRequest } from '../fhir/history.js';
import type { SearchRequest, SearchResult } from '../fhir/search/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { Person } from '../fhir/principal.js';

/**
 * The storage contract every capability works against. SQLite (embedded default) and PostgreSQL implement it;
 * domain modules see only this interface, never SQL.
 *
 * Every call is scoped to one tenant (a hosted organisation) and one FHIR release: a resource stored by one
 * tenant is invisible to every other tenant, whatever id is asked for.
 */
export interface Scope {
  tenant: string;
  version: FhirVersion;
}

export interface WriteOptions {
  /** Optimistic locking: the versionId the caller last saw (from `If-Match: W/"n"`); else VersionConflict (412). */
  ifMatch?: string;
}

export interface ResourceRepository {
  /** Stores a new resource under a fresh server-assigned id; fills meta.versionId and meta.lastUpdated. */
  create<T extends Resource>(scope: Scope, resource: T): Promise<T>;
  /** Creates or replaces the resource with the id it carries (update-as-create is allowed). */
  update<T extends Resource>(scope: Scope, resource: T, options?: WriteOptions): Promise<{ resource: T; created: boolean }>;
  /** Throws OperationOutcomeError: not-found (never existed or other tenant), gone (deleted). */
  read(scope: Scope, resourceType: string, id: string): Promise<Resource>;
  vread(scope: Scope, resourceType: string, id: string, versionId: string): Promise<Resource>;
  /** Marks the resource deleted (a new history entry); deleting twice or a missing id is not an error. */
  delete(scope: Scope, resourceType: string, id: string, options?: WriteOptions): Promise<void>;
  /** Versions newest first; with a budget, a history whose versions do not all fit it is too-costly. */
  history(scope: Scope, request: HistoryRequest, budget?: ResponseBudget): Promise<HistoryEntry[]>;
  /** A page of matches and includes; with a budget, the page holds what fits it (the next page starts after). */
  search(scope: Scope, request: SearchRequest, budget?: ResponseBudget): Promise<SearchResult>;
}

/**
 * The audit trail (NEN 7513): each tenant's R4 AuditEvents, appended and never changed; deleted only by the retention
 * job, when configured (jobs/retention.ts). The resource repository serves them as the R4 base's AuditEvent type
 * (read and search) and refuses to write them.
 */
export interface AuditTrail {
  /** Stores `event` under a fresh id (meta.versionId 1, meta.lastUpdated its `recorded`); returns it as stored. */
  append(tenant: string, event: Resource): Promise<Resource>;
  /** Throws OperationOutcomeError not-found for an id this tenant's trail does not hold. */
  read(tenant: string, id: string): Promise<Resource>;
  /** AuditEvent's searchable parameters (search/indexed.ts); `_include` and `_revinclude` are refused. */
  search(tenant: string, request: SearchRequest): Promise<SearchResult>;
  /**
   * Deletes up to `limit` events recorded before `before`, in every tenant, the oldest first, with their references;
   * `unverified`: only those whose requester was not verified. Returns how many.
   */
  pruneBefore(before: Date, limit: number, which: 'all' | 'unverified'): Promise<number>;
}

/** Outbound work (notifications, pushes, subscription deliveries), written in the same transaction as its cause. */
export interface OutboxMessage {
  id: string;
  tenant: string;
  /** What kind of work this is; a dispatcher per kind handles it (e.g. `transfer.notify`, `subscription.deliver`). */
  kind: string;
  /** Where it goes, for visibility and per-destination ordering (a URL or an organisation id). */
  destination: string;
  payload: unknown;
  /** Messages with the same ordering key are handed out strictly one at a time, oldest first. */
  orderingKey?: string;
  attempts: number;
  status: 'pending' | 'in-flight' | 'delivered' | 'dead';
  nextAttemptAt: string;
  createdAt: string;
  lastError?: string;
}

export interface NewOutboxMessage {
  tenant: string;
  kind: string;
  destination: string;
  payload: unknown;
  orderingKey?: string;
  /** Earliest time to attempt it; default now. */
  notBefore?: string;
}

export interface Outbox {
  enqueue(message: NewOutboxMessage): Promise<string>;
  /** Enqueues several messages at once, in order (a fan-out to many subscribers): a few statements, one signal. */
  enqueueAll(messages: NewOutboxMessage[]): Promise<string[]>;
  /** Leases up to `limit` due messages of the given kinds for `leaseMs`; a crashed worker's lease expires. */
  claim(kinds: string[], limit: number, leaseMs: number): Promise<OutboxMessage[]>;
  complete(id: string): Promise<void>;
  /** Marks several messages delivered at once. */
  completeAll(ids: string[]): Promise<void>;
  /** Records a failed attempt; `retryAt` undefined moves the message to the dead letters. */
  fail(id: string, error: string, retryAt?: string): Promise<void>;
  list(tenant: string, filter?: { status?: OutboxMessage['status']; kind?: string; limit?: number }): Promise<OutboxMessage[]>;
  /** Puts a dead (or delivered) message back in the queue. */
  replay(tenant: string, id: string): Promise<boolean>;
  /** Deletes up to `limit` delivered messages created before `before`, oldest first; returns how many. Dead letters stay. */
  pruneDelivered(before: Date, limit: number): Promise<number>;
}

/** One event of a numbered stream. */
export interface StreamEvent {
  number: number;
  payload: unknown;
  createdAt: string;
}

/**
 * Append-only event streams, each numbered from 1 without gaps (e.g. one per subscription: its event numbers and
 * what `$events` replays). Appending inside `transaction` commits or rolls back with the rest of the work; two
 * writers appending to one stream get consecutive numbers.
 */
export interface EventStreams {
  /** Appends the payloads in order and returns the numbers they got. */
  append(tenant: string, stream: string, payloads: unknown[]): Promise<number[]>;
  /** Appends one event to each of several distinct streams at once; returns the number each got, in order. */
  appendEach(tenant: string, events: { stream: string; payload: unknown }[]): Promise<number[]>;
  /** The events numbered `from` to `to` (inclusive; open-ended without `to`), oldest first, at most `limit`. */
  read(tenant: string, stream: string, range: { from: number; to?: number; limit: number }): Promise<StreamEvent[]>;
  /** The last number given out (0 for a stream never appended to). */
  head(tenant: string, stream: string): Promise<number>;
  /** Deletes up to `limit` events (of any stream) appended before `before`, oldest first; returns how many. */
  pruneBefore(before: Date, limit: number): Promise<number>;
}

/** Single-use token ids (JWT `jti`), shared by every instance on the same database. */
export interface ReplayCache {
  /** Returns true the first time a key is seen, false on every later call until it expires. */
  remember(key: string, expiresAt: Date): Promise<boolean>;
  /** Deletes up to `limit` keys expired by `now`; returns how many. */
  pruneExpired(now: Date, limit: number): Promise<number>;
}

/** One access token issued here, as kept: what it grants, and a hash of its secret part. */
export interface AccessTokenRecord {
  id: string;
  secretHash: string;
  /** The claims, JSON (the store does not look inside). */
  claims: string;
  expiresAt: Date;
}

/** The access tokens issued by any instance on the same database; expired ones are dropped by the retention job. */
export interface AccessTokenRecords {
  save(record: AccessTokenRecord): Promise<void>;
  /** The token with this id, unless it has been dropped (the caller checks expiry against its own clock). */
  find(id: string): Promise<AccessTokenRecord | undefined>;
  /** Deletes up to `limit` tokens expired by `now`; returns how many. */
  pruneExpired(now: Date, limit: number): Promise<number>;
}

/** A bookkeeping record as read, with the version a write over it names (optimistic locking). */
export interface Versioned<T> {
  value: T;
  version: number;
}

/**
 * One eOverdracht transfer as a gateway keeps it, beside its Task (same id): the organisation on the other side and
 * the credentials that open the Task and its document.
 */
export interface TransferRecord {
  /** The Task at this gateway: the offered Task (outbound) or the local copy of the sender's Task (inbound). */
  task: string;
  side: 'outbound' | 'inbound';
  /** The receiver of an outbound transfer, the sender of an inbound one. */
  peer: string;
  /** Inbound: the sender's Task. */
  remoteTask?: string;
  /** Outbound: every Task of the same offer, this one included. */
  offer?: string[];
  /**
   * Outbound transfers from before the Consents: the ids of the credentials issued for the Task and its document,
   * revoked when the transfer ends. No transfer issues credentials any more (the Consents authorize the pull).
   */
  taskCredentialId?: string;
  documentCredentialId?: string;
  /** The credential JWTs of those transfers (outbound) or handed over by a sender (inbound, older still); nothing reads them. */
  taskCredentialJwt?: string;
  documentCredentialJwt?: string;
  /** Inbound: the person the receiving EHR named when it last acted on the transfer; its pulls carry them. */
  person?: Person;
}

/** Each tenant's transfer records, by Task id. */
export interface TransferRecords {
  find(tenant: string, task: string): Promise<Versioned<TransferRecord> | undefined>;
  /**
   * Writes the record over `version`, the one it was read at (undefined: a new record). VersionConflict
   * (optimistic.ts) when another writer changed or created it in between.
   */
  save(tenant: string, record: TransferRecord, version?: number): Promise<void>;
}

/** A place promised through eOverdracht, in a provider's capacity ledger. */
export interface Reservation {
  /** The eOverdracht Task the place is promised to. */
  task: string;
  careType: string;
  state: 'reserved' | 'occupied';
  /** When the place was reserved, or, once occupied, when it became occupied (ISO instant). */
  since: string;
}

/** A provider tenant's capacity state: which stored MeasureReport is the current census, and its ledger. */
export interface CapacityState {
  /** Id of the R4 MeasureReport holding the current census (as the EHR sent it, or counted from its beds). */
  census?: string;
  ledger: Reservation[];
}

/** One capacity state per tenant. */
export interface CapacityStates {
  find(tenant: string): Promise<Versioned<CapacityState> | undefined>;
  /** As TransferRecords.save: over the version read, VersionConflict when it moved. */
  save(tenant: string, state: CapacityState, version?: number): Promise<void>;
}

/** An authorization credential issued here, as kept (what it grants is in the signed JWT). */
export interface CredentialRecord {
  issuer: string;
  id: string;
  jwt: string;
  issuedAt: Date;
  revokedAt?: Date;
}

/**
 * The authorization credentials each hosted organisation issued. A credential changes once, when it is revoked, and
 * never back: a plain conditional update, no version to compare.
 */
export interface CredentialRecords {
  add(record: CredentialRecord): Promise<void>;
  find(issuer: string, id: string): Promise<CredentialRecord | undefined>;
  /** Marks the credential revoked at `at` (a revoked one keeps its first revocation); false when there is none. */
  revoke(issuer: string, id: string, at: Date): Promise<boolean>;
}

/**
 * Change fan-out between the instances sharing one database (PostgreSQL LISTEN/NOTIFY; on SQLite, the one process).
 * A signal is a hint to look again, never the data itself: it carries no more than a short message (e.g. an id), a
 * listener re-reads what it needs from the store. Published through a transaction's `tx`, a signal goes out when the
 * transaction commits and not at all when it rolls back; the same topic and message twice in one transaction go
 * out once. The outbox signals `OUTBOX_CHANGED` on every enqueue and replay (what wakes the outbox dispatchers):
 * without a message for work due now, with the time (epoch ms) its first message falls due for work due later.
 */
export interface ChangeFeed {
  publish(topic: string, message?: string): Promise<void>;
  /**
   * Calls `listener` for every signal of `topic`, from any instance (this one included), once listening has started.
   * `message` is undefined when signals may have been missed (the listening connection was lost and is back): look
   * at everything. Resolves to the function that stops listening.
   */
  subscribe(topic: string, listener: (message?: string) => void): Promise<() => void>;
}

export const OUTBOX_CHANGED = 'outbox';

/** How much work the gateway's queues hold, all tenants together (for /metrics). */
export interface StoreGauges {
  /** Outbox messages not yet delivered, by kind and status (`dead`: dead letters, waiting for a replay). */
  outbox: { kind: string; status: OutboxMessage['status']; count: number }[];
  /** Resources stored and waiting for their search index entries (the deferred index's backlog). */
  pendingIndex: number;
  /** Resources set aside: stored, readable by id, found by no search. */
  unindexable: number;
  /** R4 Subscriptions by status. */
  subscriptions: { status: string; count: number }[];
}

/**
 * What work does with the data: the repositories and the change feed, either straight on the store (each call
 * atomic on its own) or bound to one transaction, the `tx` that `Store.transaction` hands its work. A call inside
 * the transaction goes through `tx`: the store object itself runs outside it (on SQLite, which has one writer, it
 * waits for the transaction to end).
 */
export interface UnitOfWork {
  readonly kind: 'sqlite' | 'postgres';
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
  /**
   * Runs `work` atomically: everything it writes through `tx` commits or rolls back together. Called on a `tx`, it
   * joins that transaction.
   */
  transaction<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T>;
}

export interface Store extends UnitOfWork {
  /** True when the database answers (for /readyz). */
  ping(): Promise<boolean>;
  gauges(): Promise<StoreGauges>;
  close(): Promise<void>;
}

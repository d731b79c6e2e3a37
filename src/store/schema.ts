import type { Generated } from 'kysely';

/**
 * The tables, as kysely sees them. Instants are epoch milliseconds (bigint); JSON is text. Every resource and index
 * row carries its tenant, FHIR release and resource type, and every query filters on them first.
 */
interface ResourceKey {
  tenant: string;
  fhir_version: string;
  resource_type: string;
  id: string;
}

/**
 * The current version of each resource, the only copy of it (a deleted one keeps its row, with `deleted` = 1, method
 * DELETE and no content).
 */
export interface ResourcesTable extends ResourceKey {
  rid: Generated<number>;
  version_id: number;
  last_updated: number;
  deleted: number;
  method: HistoryMethod;
  /** Orders versions of the same `last_updated` (sequence.ts). */
  seq: number;
  content: string | null;
}

export type HistoryMethod = 'POST' | 'PUT' | 'DELETE';

/** The versions a later write superseded, deletions included (as rows without content). */
export interface ResourceHistoryTable extends ResourceKey {
  hid: Generated<number>;
  version_id: number;
  last_updated: number;
  method: HistoryMethod;
  seq: number;
  content: string | null;
}

/** Columns shared by the search index tables: whose value it is, for which parameter. */
export interface IndexRow {
  tenant: string;
  fhir_version: string;
  resource_type: string;
  param: string;
  rid: number;
}

export interface SearchTokenTable extends IndexRow {
  system: string;
  code: string;
}

export interface SearchStringTable extends IndexRow {
  normalized: string;
  exact: string;
}

export interface SearchReferenceTable extends IndexRow {
  reference: string;
}

export interface SearchDateTable extends IndexRow {
  start_ms: number;
  end_ms: number;
}

export interface SearchNumberTable extends IndexRow {
  value: number;
  system: string;
  code: string;
}

export interface SearchUriTable extends IndexRow {
  uri: string;
}

/** Resources whose index entries are still to be written (deferred-index.ts). */
export interface PendingIndexTable {
  rid: number;
  /** The resource's tenant: a search indexes what its own tenant has pending, nobody else's. */
  tenant: string;
}

/** Resources stored but not indexed (too many index entries, say): readable by id, found by no search. */
export interface UnindexableResourcesTable {
  rid: number;
  tenant: string;
  /** Why, for the operator. */
  reason: string;
  set_aside_at: number;
}

export interface OutboxTable {
  seq: Generated<number>;
  id: string;
  tenant: string;
  kind: string;
  destination: string;
  payload: string;
  ordering_key: string | null;
  attempts: number;
  status: 'pending' | 'in-flight' | 'delivered' | 'dead';
  /** For in-flight messages: when the lease expires. */
  next_attempt_at: number;
  created_at: number;
  last_error: string | null;
}

export interface ReplayKeysTable {
  key: string;
  expires_at: number;
}

export interface AccessTokensTable {
  id: string;
  /** SHA-256 of the token's secret part (base64url): the table alone does not give anyone a usable token. */
  secret_hash: string;
  /** The token's claims, JSON. */
  claims: string;
  expires_at: number;
}

export interface StreamHeadsTable {
  tenant: string;
  stream: string;
  last_number: number;
}

export interface StreamEventsTable {
  tenant: string;
  stream: string;
  number: number;
  payload: string;
  created_at: number;
}

/** One AuditEvent of the audit trail, with the single-valued parameters it is searched by as columns. */
export interface AuditEventsTable {
  seq: Generated<number>;
  tenant: string;
  id: string;
  /** `recorded`, in milliseconds since the epoch (also the event's meta.lastUpdated). */
  recorded: number;
  type_system: string | null;
  type_code: string | null;
  subtype_system: string | null;
  subtype_code: string | null;
  outcome: string | null;
  content: string;
  /** 1 when the requester was claimed, not verified (audit-rows.ts UNVERIFIED_AGENT): kept for a shorter time. */
  unverified: Generated<number>;
}

/** A reference an AuditEvent names, by search parameter: `agent:identifier`, `entity`, `entity:identifier`, `patient`. */
export interface AuditReferencesTable {
  tenant: string;
  param: string;
  /** A relative reference (`Patient/1`) or an identifier's value. */
  value: string;
  /** The identifier's system; '' for references and identifiers without one. */
  system: string;
  seq: number;
}

/** One eOverdracht transfer's bookkeeping (repository.ts TransferRecord); `offer` is a JSON array of Task ids. */
export interface TransferRecordsTable {
  tenant: string;
  task: string;
  side: 'outbound' | 'inbound';
  peer: string;
  remote_task: string | null;
  offer: string | null;
  task_credential_id: string | null;
  task_credential_jwt: string | null;
  document_credential_id: string | null;
  document_credential_jwt: string | null;
  /** JSON `{identifier, name, role?}`. */
  person: string | null;
  version: number;
}

/** A provider tenant's capacity state; `ledger` is a JSON array of reservations. */
export interface CapacityStatesTable {
  tenant: string;
  census: string | null;
  ledger: string;
  version: number;
}

export interface AuthorizationCredentialsTable {
  issuer: string;
  id: string;
  jwt: string;
  issued_at: number;
  revoked_at: number | null;
}

export interface Database {
  resources: ResourcesTable;
  resource_history: ResourceHistoryTable;
  search_token: SearchTokenTable;
  search_string: SearchStringTable;
  search_reference: SearchReferenceTable;
  search_date: SearchDateTable;
  search_number: SearchNumberTable;
  search_uri: SearchUriTable;
  pending_index: PendingIndexTable;
  unindexable_resources: UnindexableResourcesTable;
  outbox: OutboxTable;
  replay_keys: ReplayKeysTable;
  access_tokens: AccessTokensTable;
  stream_heads: StreamHeadsTable;
  stream_events: StreamEventsTable;
  audit_events: AuditEventsTable;
  audit_references: AuditReferencesTable;
  transfer_records: TransferRecordsTable;
  capacity_states: CapacityStatesTable;
  authorization_credentials: AuthorizationCredentialsTable;
}

export type IndexTable = 'search_token' | 'search_string' | 'search_reference' | 'search_date' | 'search_number' | 'search_uri';

export type Dialect = 'sqlite' | 'postgres';

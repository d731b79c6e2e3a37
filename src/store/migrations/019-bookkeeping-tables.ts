import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

const MOVE_BATCH = 500;
const INDEX_TABLES = ['search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'search_uri', 'pending_index'];

/**
 * The gateway's own bookkeeping leaves the resource store for tables of its own (bookkeeping.ts): transfer records,
 * each provider's capacity state and the authorization credentials issued, until now R4 `Basic` resources in each
 * tenant's scope. Every such Basic moves over, as it was last written (a revoked credential stays revoked, a
 * transfer in flight keeps its credentials), and its row, history and index entries are dropped. The Basics are
 * read here the way the gateway wrote them, with the encodings of the time: this migration is their only reader now.
 */
export function bookkeepingTables(dialect: Dialect): Migration {
  // On SQLite the key is the table (WITHOUT ROWID): one b-tree per record.
  const keyed = <T extends string, C extends string>(table: CreateTableBuilder<T, C>) => (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table);
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('transfer_records')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('task', 'text', (c) => c.notNull())
        .addColumn('side', 'text', (c) => c.notNull())
        .addColumn('peer', 'text', (c) => c.notNull())
        .addColumn('remote_task', 'text')
        .addColumn('offer', 'text')
        .addColumn('task_credential_id', 'text')
        .addColumn('task_credential_jwt', 'text')
        .addColumn('document_credential_id', 'text')
        .addColumn('document_credential_jwt', 'text')
        .addColumn('version', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('transfer_records_key', ['tenant', 'task'] as never)
        .$call(keyed)
        .execute();
      await db.schema
        .createTable('capacity_states')
        .addColumn('tenant', 'text', (c) => c.primaryKey())
        .addColumn('census', 'text')
        .addColumn('ledger', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .$call(keyed)
        .execute();
      await db.schema
        .createTable('authorization_credentials')
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('jwt', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addPrimaryKeyConstraint('authorization_credentials_key', ['issuer', 'id'] as never)
        .$call(keyed)
        .execute();
      await moveStoredBookkeeping(db);
    },
  };
}

interface StoredBasic {
  rid: number | string;
  tenant: string;
  id: string;
  content: string;
}

async function moveStoredBookkeeping(db: Kysely<any>): Promise<void> {
  for (let after = 0; ; ) {
    const batch: StoredBasic[] = await db
      .selectFrom('resources')
      .select(['rid', 'tenant', 'id', 'content'])
      .where('resource_type', '=', 'Basic')
      .where('fhir_version', '=', 'r4')
      .where('deleted', '=', 0)
      .where('rid', '>', after)
      .orderBy('rid')
      .limit(MOVE_BATCH)
      .execute();
    if (batch.length === 0) break;
    const moved: StoredBasic[] = [];
    for (const basic of batch) {
      const row = bookkeepingRow(basic);
      if (!row) continue;
      await db.insertInto(row.table).values(row.values).execute();
      moved.push(basic);
    }
    await dropFromResourceStore(db, moved);
    after = Number(batch[batch.length - 1].rid);
  }
}

async function dropFromResourceStore(db: Kysely<any>, moved: StoredBasic[]): Promise<void> {
  if (moved.length === 0) return;
  const rids = moved.map((basic) => basic.rid);
  for (const table of INDEX_TABLES) await db.deleteFrom(table).where('rid', 'in', rids).execute();
  for (const basic of moved) {
    await db
      .deleteFrom('resource_history')
      .where('tenant', '=', basic.tenant)
      .where('fhir_version', '=', 'r4')
      .where('resource_type', '=', 'Basic')
      .where('id', '=', basic.id)
      .execute();
  }
  await db.deleteFrom('resources').where('rid', 'in', rids).execute();
}

// The encodings the gateway wrote (transfer/records.ts, capacity/provider/state.ts, auth/credentials.ts before 019).
const CANONICAL = 'https://vervolgzorg-gateway.example/fhir';
const KIND_SYSTEM = `${CANONICAL}/CodeSystem/basic-kind`;
const TRANSFER_EXTENSION = `${CANONICAL}/StructureDefinition/eoverdracht-transfer`;
const CREDENTIAL_JWT = `${CANONICAL}/StructureDefinition/authorization-credential-jwt`;
const CREDENTIAL_REVOKED = `${CANONICAL}/StructureDefinition/authorization-credential-revoked`;
const CENSUS_EXTENSION = `${CANONICAL}/StructureDefinition/capacity-census`;
const RESERVATION_EXTENSION = `${CANONICAL}/StructureDefinition/capacity-reservation`;
const CAPACITY_STATE_ID = 'capacity-state';

interface Extension {
  url: string;
  extension?: Extension[];
  valueString?: string;
  valueCode?: string;
  valueInstant?: string;
  valueDateTime?: string;
  valueReference?: { reference?: string };
}

interface OldBasic {
  id: string;
  code?: { coding?: { system?: string; code?: string }[] };
  created?: string;
  meta?: { lastUpdated?: string };
  extension?: Extension[];
}

type Row = { table: string; values: Record<string, unknown> };

function bookkeepingRow(stored: StoredBasic): Row | undefined {
  const basic = JSON.parse(stored.content) as OldBasic;
  const kind = basic.code?.coding?.find((coding) => coding.system === KIND_SYSTEM)?.code;
  if (kind === 'eoverdracht-outbound' || kind === 'eoverdracht-inbound') return transferRow(stored.tenant, basic, kind);
  if (kind === 'authorization-credential') return credentialRow(stored.tenant, basic);
  if (basic.id === CAPACITY_STATE_ID) return capacityRow(stored.tenant, basic);
  return undefined;
}

const extensionsOf = (parent: { extension?: Extension[] } | undefined, url: string) => (parent?.extension ?? []).filter((extension) => extension.url === url);

function transferRow(tenant: string, basic: OldBasic, kind: 'eoverdracht-outbound' | 'eoverdracht-inbound'): Row {
  const [record] = extensionsOf(basic, TRANSFER_EXTENSION);
  const all = (name: string) => extensionsOf(record, name).flatMap((part) => part.valueString ?? []);
  const one = (name: string) => all(name)[0] ?? null;
  const outbound = kind === 'eoverdracht-outbound';
  return {
    table: 'transfer_records',
    values: {
      tenant,
      task: basic.id,
      side: outbound ? 'outbound' : 'inbound',
      peer: one(outbound ? 'receiver' : 'sender') ?? '',
      remote_task: outbound ? null : one('remoteTask'),
      offer: outbound ? JSON.stringify(all('offer').length > 0 ? all('offer') : [basic.id]) : null,
      task_credential_id: one('taskCredentialId'),
      task_credential_jwt: one(outbound ? 'taskCredentialJwt' : 'taskCredential'),
      document_credential_id: one('documentCredentialId'),
      document_credential_jwt: one(outbound ? 'documentCredentialJwt' : 'documentCredential'),
      version: 1,
    },
  };
}

function credentialRow(issuer: string, basic: OldBasic): Row {
  const revoked = extensionsOf(basic, CREDENTIAL_REVOKED)[0];
  const jwt = extensionsOf(basic, CREDENTIAL_JWT)[0]?.valueString ?? '';
  return {
    table: 'authorization_credentials',
    values: {
      issuer,
      id: basic.id,
      jwt,
      issued_at: issuedAt(jwt) ?? (Date.parse(basic.created ?? '') || 0),
      // A revocation without its instant (none was ever written so) still revokes.
      revoked_at: revoked ? Date.parse(revoked.valueDateTime ?? '') || Date.parse(basic.meta?.lastUpdated ?? '') || 0 : null,
    },
  };
}

function capacityRow(tenant: string, basic: OldBasic): Row {
  const census = extensionsOf(basic, CENSUS_EXTENSION)[0]?.valueReference?.reference?.replace(/^MeasureReport\//, '') ?? null;
  const ledger = extensionsOf(basic, RESERVATION_EXTENSION).map((reservation) => {
    const part = (name: string) => extensionsOf(reservation, name)[0];
    return { task: part('task')?.valueString, careType: part('careType')?.valueCode, state: part('state')?.valueCode, since: part('since')?.valueInstant };
  });
  return { table: 'capacity_states', values: { tenant, census, ledger: JSON.stringify(ledger), version: 1 } };
}

/** The JWT's `iat` in milliseconds (the Basic's `created` is a date only). */
function issuedAt(jwt: string): number | undefined {
  try {
    const { iat } = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat?: unknown };
    return typeof iat === 'number' ? iat * 1000 : undefined;
  } catch {
    return undefined;
  }
}

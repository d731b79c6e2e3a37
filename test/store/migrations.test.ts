import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Migrator, sql, type Kysely } from 'kysely';
import pg from 'pg';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { MAX_INDEX_ENTRIES, parseSearchRequest } from '../../src/fhir/search/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { auditTrailRows, UNVERIFIED_AGENT } from '../../src/store/audit-rows.js';
import { openStore, type StoreOptions } from '../../src/store/index.js';
import { initialSchema } from '../../src/store/migrations/001-initial.js';
import { eventStreams } from '../../src/store/migrations/002-event-streams.js';
import { outboxOrderingIndex } from '../../src/store/migrations/003-outbox-ordering-index.js';
import { migrations } from '../../src/store/migrations/index.js';
import { openPostgres } from '../../src/store/postgres.js';
import type { Dialect } from '../../src/store/schema.js';
import { openSqlite } from '../../src/store/sqlite.js';
import { POSTGRES_URL, postgresAvailable } from './backends.js';

/**
 * A database written before migration 004 (every version, the current one too, in resource_history) is read the
 * same after it: current versions, older versions, deletions and history order; and later writes carry on from it.
 */
interface OldDatabase {
  db: Kysely<any>;
  options: StoreOptions;
  close(): Promise<void>;
  dispose(): Promise<void>;
}

function sqliteDatabase(): OldDatabase {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'migration-test-'));
  const { db, stopCheckpointer } = openSqlite(dataDir);
  return {
    db,
    options: { dataDir },
    close: async () => {
      await stopCheckpointer();
      await db.destroy();
    },
    dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

async function postgresDatabase(): Promise<OldDatabase> {
  const schema = `migration_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const db = await openPostgres(POSTGRES_URL, schema);
  return {
    db,
    options: { databaseUrl: POSTGRES_URL, dataDir: '', schema },
    close: () => db.destroy(),
    dispose: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  };
}

async function migrateTo003(old: OldDatabase, dialect: Dialect): Promise<void> {
  const migrations = { '001-initial': initialSchema(dialect), '002-event-streams': eventStreams(dialect), '003-outbox-ordering-index': outboxOrderingIndex() };
  const migrator = new Migrator({
    db: old.db,
    provider: { getMigrations: async () => migrations },
    ...(old.options.schema ? { migrationTableSchema: old.options.schema } : {}),
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** Migrates an old database up to and including migration `name` of this gateway's list, as the store would. */
async function migrateUpTo(old: OldDatabase, dialect: Dialect, name: string): Promise<void> {
  const migrator = new Migrator({ db: old.db, provider: { getMigrations: async () => migrations(dialect) }, ...(old.options.schema ? { migrationTableSchema: old.options.schema } : {}) });
  const { error } = await migrator.migrateTo(name);
  if (error) throw error;
}

const KEY = { tenant: 'old', fhir_version: 'r4' };
const at = (minute: number) => Date.UTC(2025, 0, 1, 10, minute);
const patient = (version: number, gender: string) =>
  JSON.stringify({ resourceType: 'Patient', id: 'p1', meta: { versionId: String(version), lastUpdated: new Date(at(version)).toISOString() }, gender });

/** What the store wrote before 004: p1 created and updated; f1 created and deleted; both in the same minute last. */
async function writeOldRows(db: Kysely<any>): Promise<void> {
  const history = [
    { resource_type: 'Patient', id: 'p1', version_id: 1, last_updated: at(1), method: 'POST', content: patient(1, 'female') },
    { resource_type: 'Flag', id: 'f1', version_id: 1, last_updated: at(1), method: 'POST', content: '{"resourceType":"Flag","id":"f1","status":"active"}' },
    { resource_type: 'Patient', id: 'p1', version_id: 2, last_updated: at(2), method: 'PUT', content: patient(2, 'male') },
    { resource_type: 'Flag', id: 'f1', version_id: 2, last_updated: at(2), method: 'DELETE', content: null },
  ];
  for (const row of history) await db.insertInto('resource_history').values({ ...KEY, ...row }).execute();
  await db
    .insertInto('resources')
    .values([
      { ...KEY, resource_type: 'Patient', id: 'p1', version_id: 2, last_updated: at(2), deleted: 0, content: patient(2, 'male') },
      { ...KEY, resource_type: 'Flag', id: 'f1', version_id: 2, last_updated: at(2), deleted: 1, content: null },
    ])
    .execute();
}

const outcomeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: unknown) => (error instanceof OperationOutcomeError ? error.outcome.id : String(error)),
  );

const dialects: [Dialect, () => Promise<OldDatabase>][] = [
  ['sqlite', async () => sqliteDatabase()],
  ...(postgresAvailable ? [['postgres', postgresDatabase] as [Dialect, () => Promise<OldDatabase>]] : []),
];

describe.each(dialects)('migration 004 on %s', (dialect, makeDatabase) => {
  const disposals: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const dispose of disposals) await dispose();
  });

  it('keeps every version readable, deletions and history order included', async () => {
    const old = await makeDatabase();
    disposals.push(old.dispose);
    await migrateTo003(old, dialect);
    await writeOldRows(old.db);
    await old.close();

    const store = await openStore(old.options);
    try {
      const scope = { tenant: 'old', version: 'r4' as const };
      expect((await store.resources.read(scope, 'Patient', 'p1')).gender).toBe('male');
      expect((await store.resources.vread(scope, 'Patient', 'p1', '1')).gender).toBe('female');
      expect((await store.resources.vread(scope, 'Patient', 'p1', '2')).gender).toBe('male');
      expect(await outcomeOf(store.resources.read(scope, 'Flag', 'f1'))).toBe('gone');
      expect(await outcomeOf(store.resources.vread(scope, 'Flag', 'f1', '2'))).toBe('gone');
      expect((await store.resources.history(scope, { count: 10 })).map((e) => `${e.resourceType}/${e.versionId}/${e.method}`)).toEqual([
        'Flag/2/DELETE',
        'Patient/2/PUT',
        'Flag/1/POST',
        'Patient/1/POST',
      ]);

      const updated = await store.resources.update(scope, { resourceType: 'Patient', id: 'p1', gender: 'other' } as Resource);
      expect(updated.resource.meta?.versionId).toBe('3');
      expect((await store.resources.history(scope, { resourceType: 'Patient', id: 'p1', count: 10 })).map((e) => [e.versionId, e.method, e.resource?.gender])).toEqual([
        ['3', 'PUT', 'other'],
        ['2', 'PUT', 'male'],
        ['1', 'POST', 'female'],
      ]);
      // Each version once: p1 v1 and v2 and f1 v1 superseded, p1 v3 and the deletion of f1 current.
      const superseded = await sql<{ versions: number }>`select count(*) as versions from resource_history`.execute(
        (store as unknown as { db: Kysely<any> }).db,
      );
      expect(Number(superseded.rows[0]?.versions)).toBe(3);
    } finally {
      await store.close();
    }
  });
});

/** An AuditEvent the resource store held before migration 011, with an index entry and a queue row, as it wrote them. */
async function writeStoredAuditEvent(db: Kysely<any>, version: 'r4' | 'stu3', id: string): Promise<void> {
  const content = JSON.stringify({
    resourceType: 'AuditEvent',
    id,
    meta: { versionId: '1', lastUpdated: '2026-02-01T10:00:00.000Z' },
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    recorded: '2026-02-01T10:00:00.000Z',
    outcome: '0',
    agent: [{ who: { identifier: { system: 'urn:ehr', value: 'ehr-1' } }, requestor: true }],
    entity: [{ what: { reference: 'Patient/p1' } }],
  });
  const key = { tenant: 'old', fhir_version: version, resource_type: 'AuditEvent' };
  const row = { ...key, id, version_id: 1, last_updated: Date.parse('2026-02-01T10:00:00Z'), deleted: 0, method: 'POST', seq: 1, content };
  const [{ rid }] = await db.insertInto('resources').values(row).returning('rid').execute();
  await db.insertInto('search_token').values({ ...key, param: 'outcome', rid, system: '', code: '0' }).execute();
  await db.insertInto('pending_index').values({ rid }).execute();
}

describe.each(dialects)('migration 011 on %s', (dialect, makeDatabase) => {
  it('moves the R4 AuditEvents from the resource store into the audit trail, under their ids', async () => {
    const old = await makeDatabase();
    try {
      await migrateUpTo(old, dialect, '010-stream-events-age');
      await writeStoredAuditEvent(old.db, 'r4', 'a1');
      await writeStoredAuditEvent(old.db, 'stu3', 'a2');
      await old.close();

      const store = await openStore(old.options);
      try {
        const scope = { tenant: 'old', version: 'r4' as const };
        expect(await store.resources.read(scope, 'AuditEvent', 'a1')).toMatchObject({ id: 'a1', entity: [{ what: { reference: 'Patient/p1' } }] });
        const found = await store.audit.search('old', { resourceType: 'AuditEvent', params: [{ code: 'patient', values: ['Patient/p1'] }], count: 10, offset: 0, sort: [], include: [], revinclude: [], total: 'none' });
        expect(found.resources.map((resource) => resource.id)).toEqual(['a1']);
        const db = (store as unknown as { db: Kysely<any> }).db;
        const left = await db.selectFrom('resources').select(['fhir_version', 'id']).where('resource_type', '=', 'AuditEvent').execute();
        expect(left).toEqual([{ fhir_version: 'stu3', id: 'a2' }]);
        const entries = await db.selectFrom('search_token').select('rid').where('resource_type', '=', 'AuditEvent').where('fhir_version', '=', 'r4').execute();
        expect(entries).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await old.dispose();
    }
  });
});

/** A resource as the store wrote it before migration 012: its row, and its place in the (tenant-less) deferred index queue. */
async function writeQueuedResource(db: Kysely<any>, tenant: string, version: 'r4' | 'stu3', resource: Resource): Promise<void> {
  const content = JSON.stringify({ ...resource, meta: { versionId: '1', lastUpdated: '2026-02-01T10:00:00.000Z' } });
  const row = { tenant, fhir_version: version, resource_type: resource.resourceType, id: resource.id, version_id: 1, last_updated: Date.parse('2026-02-01T10:00:00Z'), deleted: 0, method: 'POST', seq: 1, content };
  const [{ rid }] = await db.insertInto('resources').values(row).returning('rid').execute();
  await db.insertInto('pending_index').values({ rid }).execute();
}

describe.each(dialects)('migration 012 on %s', (dialect, makeDatabase) => {
  it('gives queued resources their tenant; the queue then drains, a resource that cannot be indexed set aside, and every tenant searches', async () => {
    const old = await makeDatabase();
    try {
      await migrateUpTo(old, dialect, '011-audit-trail');
      // One EHR's Patients with 130,000 names (in both releases) queued first, another tenant's data after them.
      const name = Array.from({ length: 130_000 }, (_, i) => ({ family: `F${i}` }));
      await writeQueuedResource(old.db, 'crowded', 'r4', { resourceType: 'Patient', id: 'many', name });
      await writeQueuedResource(old.db, 'crowded', 'stu3', { resourceType: 'Patient', id: 'many', name });
      await writeQueuedResource(old.db, 'other', 'r4', { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'pulse' }, subject: { reference: 'Patient/p1' } });
      await writeQueuedResource(old.db, 'other', 'stu3', { resourceType: 'Condition', id: 'c1', subject: { reference: 'Patient/p1' } });
      await migrateUpTo(old, dialect, '012-tenant-pending-index');
      const queued = await old.db.selectFrom('pending_index').select('tenant').orderBy('rid').execute();
      expect(queued.map((row) => row.tenant)).toEqual(['crowded', 'crowded', 'other', 'other']);
      await old.close();

      const store = await openStore(old.options);
      try {
        const search = async (tenant: string, version: 'r4' | 'stu3', resourceType: string, query: Record<string, string>) =>
          (await store.resources.search({ tenant, version }, parseSearchRequest(version, resourceType, query))).resources.map((resource) => resource.id);
        expect(await search('other', 'r4', 'Observation', { subject: 'Patient/p1' })).toEqual(['o1']);
        expect(await search('other', 'stu3', 'Condition', { subject: 'Patient/p1' })).toEqual(['c1']);
        expect(await search('crowded', 'r4', 'Patient', { family: 'F1' })).toEqual([]);
        expect(await search('crowded', 'stu3', 'Patient', { family: 'F1' })).toEqual([]);
        expect(((await store.resources.read({ tenant: 'crowded', version: 'r4' }, 'Patient', 'many')).name as unknown[]).length).toBe(130_000);
        const db = (store as unknown as { db: Kysely<any> }).db;
        expect(await db.selectFrom('pending_index').selectAll().execute()).toEqual([]);
        const setAside = await db.selectFrom('unindexable_resources').select(['tenant', 'reason']).orderBy('rid').execute();
        expect(setAside).toEqual([
          { tenant: 'crowded', reason: `Patient/many cannot be indexed: it has more than ${MAX_INDEX_ENTRIES} search index entries` },
          { tenant: 'crowded', reason: `Patient/many cannot be indexed: it has more than ${MAX_INDEX_ENTRIES} search index entries` },
        ]);
      } finally {
        await store.close();
      }
    } finally {
      await old.dispose();
    }
  });
});

describe.each(dialects)('migration 013 on %s', (dialect, makeDatabase) => {
  it('keeps the events written before under the general retention (unflagged), and flags the unverified ones written after', async () => {
    const old = await makeDatabase();
    try {
      await migrateUpTo(old, dialect, '011-audit-trail');
      const refusal = {
        resourceType: 'AuditEvent',
        id: 'r1',
        recorded: '2026-02-01T10:00:00.000Z',
        outcome: '4',
        agent: [{ who: { identifier: { system: 'urn:org', value: 'claimed-org' } }, requestor: true }],
      };
      const { event, references } = auditTrailRows('old', refusal);
      const [{ seq }] = await old.db.insertInto('audit_events').values(event).returning('seq').execute();
      await old.db.insertInto('audit_references').values(references.map((reference) => ({ ...reference, seq }))).execute();
      await old.close();

      const store = await openStore(old.options);
      try {
        expect(await store.audit.read('old', 'r1')).toMatchObject({ outcome: '4' });
        const later = new Date('2030-01-01T00:00:00Z');
        expect(await store.audit.pruneBefore(later, 10, 'unverified')).toBe(0);
        await store.audit.append('old', { ...refusal, id: undefined, agent: [{ type: { coding: [UNVERIFIED_AGENT] }, requestor: true }] });
        expect(await store.audit.pruneBefore(later, 10, 'unverified')).toBe(1);
        expect(await store.audit.pruneBefore(later, 10, 'all')).toBe(1);
        const db = (store as unknown as { db: Kysely<any> }).db;
        expect(await db.selectFrom('audit_references').select('seq').execute()).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await old.dispose();
    }
  });
});

const CANONICAL = 'https://vervolgzorg-gateway.example/fhir';
const KIND = `${CANONICAL}/CodeSystem/basic-kind`;
/** A JWT as far as the migration reads one: its payload's `iat`. */
const jwtIssuedAt = (seconds: number) => `e30.${Buffer.from(JSON.stringify({ iat: seconds })).toString('base64url')}.sig`;

/** The bookkeeping Basics the gateway wrote before migration 019, as transfer/records.ts, state.ts and credentials.ts encoded them. */
const oldBookkeeping = {
  outbound: {
    resourceType: 'Basic',
    id: 'task-1',
    code: { coding: [{ system: KIND, code: 'eoverdracht-outbound' }] },
    subject: { reference: 'Task/task-1' },
    extension: [
      {
        url: `${CANONICAL}/StructureDefinition/eoverdracht-transfer`,
        extension: [
          { url: 'receiver', valueString: 'vvt-1' },
          { url: 'offer', valueString: 'task-1' },
          { url: 'offer', valueString: 'task-2' },
          { url: 'taskCredentialId', valueString: 'c1' },
          { url: 'taskCredentialJwt', valueString: 'jwt-c1' },
        ],
      },
    ],
  },
  inbound: {
    resourceType: 'Basic',
    id: 'local-1',
    code: { coding: [{ system: KIND, code: 'eoverdracht-inbound' }] },
    subject: { reference: 'Task/local-1' },
    extension: [
      {
        url: `${CANONICAL}/StructureDefinition/eoverdracht-transfer`,
        extension: [
          { url: 'sender', valueString: 'hospital' },
          { url: 'remoteTask', valueString: 'task-9' },
          { url: 'taskCredential', valueString: 'jwt-t' },
          { url: 'documentCredential', valueString: 'jwt-d' },
        ],
      },
    ],
  },
  credential: (id: string, revoked?: string) => ({
    resourceType: 'Basic',
    id,
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` }],
    code: { coding: [{ system: KIND, code: 'authorization-credential', display: 'Authorization credential' }] },
    created: '2026-02-01',
    author: { identifier: { system: 'https://vervolgzorg-gateway.example/fhir/NamingSystem/organization-id', value: 'old' } },
    extension: [
      { url: `${CANONICAL}/StructureDefinition/authorization-credential-jwt`, valueString: jwtIssuedAt(1769940000) },
      ...(revoked ? [{ url: `${CANONICAL}/StructureDefinition/authorization-credential-revoked`, valueDateTime: revoked }] : []),
    ],
  }),
  capacity: {
    resourceType: 'Basic',
    id: 'capacity-state',
    code: { text: 'Capaciteit: huidige telling en reserveringen (intern)' },
    extension: [
      { url: `${CANONICAL}/StructureDefinition/capacity-census`, valueReference: { reference: 'MeasureReport/census-1' } },
      {
        url: `${CANONICAL}/StructureDefinition/capacity-reservation`,
        extension: [
          { url: 'task', valueString: 'local-1' },
          { url: 'careType', valueCode: 'grz' },
          { url: 'state', valueCode: 'reserved' },
          { url: 'since', valueInstant: '2026-02-01T10:00:00.000Z' },
        ],
      },
    ],
  },
};

/** A Basic as the resource store held it: its row at version 2, the first version in its history, an index entry. */
async function writeStoredBasic(db: Kysely<any>, version: 'r4' | 'stu3', basic: Record<string, unknown>): Promise<void> {
  const key = { tenant: 'old', fhir_version: version, resource_type: 'Basic', id: String(basic.id) };
  const content = (versionId: number) => JSON.stringify({ ...basic, meta: { versionId: String(versionId), lastUpdated: '2026-02-01T10:00:00.000Z' } });
  const at = Date.parse('2026-02-01T10:00:00Z');
  await db.insertInto('resource_history').values({ ...key, version_id: 1, last_updated: at, method: 'POST', seq: 1, content: content(1) }).execute();
  const row = { ...key, version_id: 2, last_updated: at, deleted: 0, method: 'PUT', seq: 2, content: content(2) };
  const [{ rid }] = await db.insertInto('resources').values(row).returning('rid').execute();
  const { id, ...indexKey } = key;
  await db.insertInto('search_token').values({ ...indexKey, param: '_id', rid, system: '', code: id }).execute();
}

describe.each(dialects)('migration 019 on %s', (dialect, makeDatabase) => {
  it('moves transfer records, capacity states and credentials out of the resource store, leaving every other Basic', async () => {
    const old = await makeDatabase();
    try {
      await migrateUpTo(old, dialect, '011-audit-trail');
      const ordinary = { resourceType: 'Basic', id: 'note-1', code: { text: 'an EHR note' } };
      for (const basic of [
        oldBookkeeping.outbound,
        oldBookkeeping.inbound,
        oldBookkeeping.credential('c1'),
        oldBookkeeping.credential('c2', '2026-02-02T10:00:00.000Z'),
        oldBookkeeping.capacity,
        ordinary,
      ]) {
        await writeStoredBasic(old.db, 'r4', basic);
      }
      await writeStoredBasic(old.db, 'stu3', { ...oldBookkeeping.outbound, id: 'stu3-basic' });
      await old.close();

      const store = await openStore(old.options);
      try {
        expect(await store.transfers.find('old', 'task-1')).toEqual({
          value: { task: 'task-1', side: 'outbound', peer: 'vvt-1', offer: ['task-1', 'task-2'], taskCredentialId: 'c1', taskCredentialJwt: 'jwt-c1' },
          version: 1,
        });
        expect((await store.transfers.find('old', 'local-1'))?.value).toEqual({
          task: 'local-1',
          side: 'inbound',
          peer: 'hospital',
          remoteTask: 'task-9',
          taskCredentialJwt: 'jwt-t',
          documentCredentialJwt: 'jwt-d',
        });
        const issuedAt = new Date(1769940000 * 1000);
        expect(await store.credentials.find('old', 'c1')).toEqual({ issuer: 'old', id: 'c1', jwt: jwtIssuedAt(1769940000), issuedAt });
        expect((await store.credentials.find('old', 'c2'))?.revokedAt).toEqual(new Date('2026-02-02T10:00:00.000Z'));
        expect((await store.capacityStates.find('old'))?.value).toEqual({
          census: 'census-1',
          ledger: [{ task: 'local-1', careType: 'grz', state: 'reserved', since: '2026-02-01T10:00:00.000Z' }],
        });

        const db = (store as unknown as { db: Kysely<any> }).db;
        const left = await db.selectFrom('resources').select(['fhir_version', 'id']).where('resource_type', '=', 'Basic').orderBy('id').execute();
        expect(left).toEqual([
          { fhir_version: 'r4', id: 'note-1' },
          { fhir_version: 'stu3', id: 'stu3-basic' },
        ]);
        const history = await db.selectFrom('resource_history').select('id').where('resource_type', '=', 'Basic').orderBy('id').execute();
        expect(history.map((row) => row.id)).toEqual(['note-1', 'stu3-basic']);
        const entries = await db.selectFrom('search_token').select('code').where('resource_type', '=', 'Basic').orderBy('code').execute();
        expect(entries.map((row) => row.code)).toEqual(['note-1', 'stu3-basic']);
        expect((await store.resources.read({ tenant: 'old', version: 'r4' }, 'Basic', 'note-1')).code).toEqual(ordinary.code);
      } finally {
        await store.close();
      }
    } finally {
      await old.dispose();
    }
  });
});

describe.each(dialects)('migration 024 on %s', (dialect, makeDatabase) => {
  it('drops the Dezi id_tokens kept in clear, and keeps the person and everything else', async () => {
    const old = await makeDatabase();
    try {
      await migrateUpTo(old, dialect, '022-transfer-person');
      const nurse = { identifier: '900000123', name: 'J. Broek', role: '01.041' };
      const sealed = { exp: 1769940000, sealed: 'c2VhbGVk' };
      const inbound = { side: 'inbound', peer: 'hospital', remote_task: 'task-9', version: 1 };
      await old.db
        .insertInto('transfer_records')
        .values([
          { ...inbound, tenant: 'old', task: 'local-1', person: JSON.stringify({ ...nurse, dezi: 'eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln' }) },
          { ...inbound, tenant: 'old', task: 'local-2', person: JSON.stringify({ ...nurse, dezi: sealed }) },
          { ...inbound, tenant: 'old', task: 'local-3', person: JSON.stringify(nurse) },
        ])
        .execute();
      const claims = (person: object) => JSON.stringify({ iss: 'https://gw.test', tenant: 'old', kind: 'ehr', person, exp: 1769940000 });
      await old.db
        .insertInto('access_tokens')
        .values([
          { id: 't1', secret_hash: 'h1', claims: claims({ ...nurse, dezi: 'eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjF9.c2ln' }), expires_at: 1769940000000 },
          { id: 't2', secret_hash: 'h2', claims: claims({ ...nurse, dezi: sealed }), expires_at: 1769940000000 },
        ])
        .execute();
      await old.close();

      const store = await openStore(old.options);
      try {
        expect((await store.transfers.find('old', 'local-1'))?.value.person).toEqual(nurse);
        expect((await store.transfers.find('old', 'local-2'))?.value.person).toEqual({ ...nurse, dezi: sealed });
        expect((await store.transfers.find('old', 'local-3'))?.value.person).toEqual(nurse);
        expect(JSON.parse((await store.accessTokens.find('t1'))!.claims)).toEqual(JSON.parse(claims(nurse)));
        expect(JSON.parse((await store.accessTokens.find('t2'))!.claims)).toEqual(JSON.parse(claims({ ...nurse, dezi: sealed })));
      } finally {
        await store.close();
      }
    } finally {
      await old.dispose();
    }
  });
});

import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Kysely } from 'kysely';
import { MAX_INDEX_ENTRIES, parseSearchRequest, type SearchQuery } from '../../src/fhir/search/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { DeferredIndex } from '../../src/store/deferred-index.js';
import type { Scope, Store, UnitOfWork } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';

/** The patient data read by id is indexed in batches after it is stored (deferred-index.ts); searches must not notice. */
const observation = (patient: string, encounter: string, status = 'final'): Resource => ({
  resourceType: 'Observation',
  status,
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: patient },
  encounter: { reference: encounter },
  performer: [{ identifier: { system: 'urn:ehr', value: 'ehr-1' } }],
  effectiveDateTime: '2026-03-01T10:00:00Z',
});

/** Whether one resource waits in the queue (asked inside the calling transaction, if one is open). */
async function isPending(store: UnitOfWork, resource: Resource): Promise<boolean> {
  const db = (store as unknown as { context: { db(): Kysely<any> } }).context.db();
  const rows = await db
    .selectFrom('pending_index as p')
    .innerJoin('resources as r', 'r.rid', 'p.rid')
    .select('p.rid')
    .where('r.resource_type', '=', resource.resourceType)
    .where('r.id', '=', resource.id as string)
    .execute();
  return rows.length > 0;
}

describe.each(backends)('deferred index on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  let other: Store;
  let scope: Scope;

  beforeAll(async () => {
    store = await backend.open();
    other = await backend.open();
  });

  const newScope = () => (scope = { tenant: freshTenant('deferred'), version: 'r4' });
  const ids = async (query: SearchQuery, on: UnitOfWork = store, resourceType = 'Observation') =>
    (await on.resources.search(scope, parseSearchRequest('r4', resourceType, query))).resources.map((resource) => resource.id).sort();

  it('finds Observations by their parameters as soon as they are stored, also inside the writing transaction', async () => {
    newScope();
    const first = await store.resources.create(scope, observation('Patient/p1', 'Encounter/e1'));
    expect(await ids({ patient: 'Patient/p1' })).toEqual([first.id]);
    await store.transaction(async (tx) => {
      const second = await tx.resources.create(scope, observation('Patient/p2', 'Encounter/e1', 'amended'));
      expect(await ids({ encounter: 'Encounter/e1', status: 'amended' }, tx)).toEqual([second.id]);
    });
    expect(await ids({ 'performer:identifier': 'urn:ehr|ehr-1', date: 'ge2026-03-01' })).toHaveLength(2);
  });

  it('indexes them in the background, without a search', async () => {
    newScope();
    const stored = await store.transaction(async (tx) => {
      const created = await tx.resources.create(scope, observation('Patient/p1', 'Encounter/e1'));
      const db = (tx as unknown as { context: { db(): Kysely<any> } }).context.db();
      expect(await db.selectFrom('pending_index as p').innerJoin('resources as r', 'r.rid', 'p.rid').select('r.id').where('r.id', '=', created.id as string).execute()).toHaveLength(1);
      return created;
    });
    for (let waited = 0; (await isPending(store, stored)) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await isPending(store, stored)).toBe(false);
  });

  it('lets another instance on the same database find what one stored and left pending', async () => {
    newScope();
    const stored = await store.resources.create(scope, observation('Patient/p3', 'Encounter/e1'));
    expect(await ids({ patient: 'Patient/p3' }, other)).toEqual([stored.id]);
  });

  it('indexes what an earlier run left pending once a store opens on the database', async () => {
    newScope();
    const left = await backend.open();
    // Closed before its background round: the queue keeps the record.
    const stored = await left.resources.create(scope, observation('Patient/p8', 'Encounter/e8'));
    await left.close();
    await backend.open();
    for (let waited = 0; (await isPending(store, stored)) && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await isPending(store, stored)).toBe(false);
  });

  it('indexes writes itself while the queue is long, so a search never waits for a backlog', async () => {
    // On PostgreSQL a background round on another connection may recount the queue during the transaction (it sees
    // only committed rows), which this test cannot tell apart; SQLite runs that round after the commit.
    if (backend.name !== 'sqlite') return;
    newScope();
    const fresh = await backend.open();
    const queued = await fresh.transaction(async (tx) => {
      for (let i = 0; i < 600; i++) await tx.resources.create(scope, observation(`Patient/q${i}`, 'Encounter/e9'));
      const db = (tx as unknown as { context: { db(): Kysely<any> } }).context.db();
      const row = await db
        .selectFrom('pending_index as p')
        .innerJoin('resources as r', 'r.rid', 'p.rid')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('r.tenant', '=', scope.tenant)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    });
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(500);
    expect(await ids({ encounter: 'Encounter/e9', _count: '1000' }, fresh)).toHaveLength(600);
  });

  it('replaces the entries of an updated Observation and drops those of a deleted one', async () => {
    newScope();
    const stored = await store.resources.create(scope, observation('Patient/p4', 'Encounter/e4'));
    expect(await ids({ patient: 'Patient/p4' })).toEqual([stored.id]);
    await store.resources.update(scope, { ...observation('Patient/p5', 'Encounter/e4'), id: stored.id });
    expect(await ids({ patient: 'Patient/p4' })).toEqual([]);
    expect(await ids({ patient: 'Patient/p5' })).toEqual([stored.id]);
    await store.resources.delete(scope, 'Observation', stored.id as string);
    expect(await ids({ patient: 'Patient/p5' })).toEqual([]);
  });

  it('also defers the patient data read by id (a handoff), not Task or the directory', async () => {
    newScope();
    // Looked at inside the writing transaction, where no background round can take it off the queue yet.
    const queued = await store.transaction(async (tx) => {
      const observation = await tx.resources.create(scope, { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p7' } } as Resource);
      const task = await tx.resources.create(scope, { resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: 'Patient/p7' } } as Resource);
      const organization = await tx.resources.create(scope, { resourceType: 'Organization', name: 'VVT' } as Resource);
      const db = (tx as unknown as { context: { db(): Kysely<any> } }).context.db();
      const rows = await db.selectFrom('pending_index as p').innerJoin('resources as r', 'r.rid', 'p.rid').select('r.id').where('r.tenant', '=', scope.tenant).execute();
      const pendingIds = new Set(rows.map((row) => row.id));
      return [observation, task, organization].map((resource) => pendingIds.has(resource.id));
    });
    expect(queued).toEqual([true, false, false]);
    expect(await ids({ subject: 'Patient/p7' }, store, 'Observation')).toHaveLength(1);
  });

  it("indexes only the searching tenant's backlog, leaving another tenant's queued", async () => {
    newScope();
    const queuedTenant = scope;
    const searching = { tenant: freshTenant('deferred'), version: 'r4' } as const;
    // Inside one transaction no background round can take the queued resource off the queue.
    const stillPending = await store.transaction(async (tx) => {
      const queued = await tx.resources.create(queuedTenant, observation('Patient/q1', 'Encounter/q1'));
      await tx.resources.search(searching, parseSearchRequest('r4', 'Observation', { patient: 'Patient/q1' }));
      return isPending(tx, queued);
    });
    expect(stillPending).toBe(true);
  });

  it('sets aside a resource that cannot be indexed, with the reason; it stays readable and holds up no search', async () => {
    newScope();
    const before = { tenant: freshTenant('deferred'), version: 'r4' } as const;
    const earlier = await store.resources.create(before, observation('Patient/a1', 'Encounter/a1'));
    // 4,000 names give 12,000 index entries (name, family, phonetic), over MAX_INDEX_ENTRIES.
    const crowded = await store.resources.create(scope, { resourceType: 'Patient', name: Array.from({ length: 4_000 }, (_, i) => ({ family: `F${i}` })) } as Resource);
    const later = await store.resources.create(scope, observation('Patient/a2', 'Encounter/a2'));
    expect(await ids({ patient: 'Patient/a2' })).toEqual([later.id]);
    expect(await ids({ family: 'F1' }, store, 'Patient')).toEqual([]);
    expect((await store.resources.search(before, parseSearchRequest('r4', 'Observation', { patient: 'Patient/a1' }))).resources.map((r) => r.id)).toEqual([earlier.id]);
    expect(((await store.resources.read(scope, 'Patient', crowded.id as string)).name as unknown[]).length).toBe(4_000);
    const db = (store as unknown as { db: Kysely<any> }).db;
    const setAside = await db.selectFrom('unindexable_resources').select(['tenant', 'reason', 'set_aside_at']).execute();
    expect(setAside).toEqual([{ tenant: scope.tenant, reason: `Patient/${crowded.id} cannot be indexed: it has more than ${MAX_INDEX_ENTRIES} search index entries`, set_aside_at: expect.anything() }]);
    expect(await isPending(store, crowded)).toBe(false);
    // A new version that can be indexed is found again, and no longer noted as set aside.
    await store.resources.update(scope, { resourceType: 'Patient', id: crowded.id, name: [{ family: 'Jansen' }] } as Resource);
    expect(await ids({ family: 'Jansen' }, store, 'Patient')).toEqual([crowded.id]);
    expect(await db.selectFrom('unindexable_resources').selectAll().execute()).toEqual([]);
  });

  it("includes an Encounter's Observations with _revinclude", async () => {
    newScope();
    const encounter = await store.resources.create(scope, { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' } } as Resource);
    const measured = await store.resources.create(scope, observation('Patient/p6', `Encounter/${encounter.id}`));
    const result = await store.resources.search(scope, parseSearchRequest('r4', 'Encounter', { _id: encounter.id as string, _revinclude: 'Observation:encounter' }));
    expect(result.included.map((resource) => resource.id)).toEqual([measured.id]);
  });
});

describe('deferred index queue length', () => {
  /** A DeferredIndex over a stand-in database whose queue holds `stored` rows. */
  function queue(stored: number) {
    const statements = {
      run: async (shape: string) => (shape === 'count-pending-index' ? [{ n: stored }] : []),
    };
    const context = { dialect: 'sqlite', statements } as unknown as ConstructorParameters<typeof DeferredIndex>[0];
    return { index: new DeferredIndex(context, { warn: () => undefined }), context };
  }

  it('takes writes until 500 are pending, then lets them index themselves', async () => {
    const { index, context } = queue(0);
    for (let rid = 1; rid <= 499; rid++) await index.enqueue(context, rid, 'tenant');
    expect(index.accepts()).toBe(true);
    await index.enqueue(context, 500, 'tenant');
    expect(index.accepts()).toBe(false);
  });

  it('starts from what the table holds', async () => {
    const long = queue(800).index;
    await long.resume();
    expect(long.accepts()).toBe(false);
    const short = queue(3).index;
    await short.resume();
    expect(short.accepts()).toBe(true);
  });
});

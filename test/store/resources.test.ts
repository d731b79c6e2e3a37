import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { MAX_INDEX_ENTRIES } from '../../src/fhir/search/index.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';
import { fixtureFolder } from '../fixtures.js';

const fixtures = fixtureFolder();
const nlCorePatient = JSON.parse(readFileSync(path.join(fixtures, 'nl-core-r4/zib2020-json/nl-core-Patient-01.json'), 'utf8')) as Resource;

/** Literal resources typed as Resource, so the store's results carry id and meta. */
const r = (resource: Resource): Resource => resource;

/** The outcome kind (not-found, gone, precondition-failed, ...) a failed call threw. */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.id;
    throw error;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe.each(backends)('resources on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  let scope: Scope;

  beforeAll(async () => {
    store = await backend.open();
  });

  const newScope = (): Scope => (scope = { tenant: freshTenant(), version: 'r4' });

  it('creates with a server id, version 1 and lastUpdated, without touching the input', async () => {
    newScope();
    const input = r({ ...nlCorePatient, id: 'client-chosen', meta: { profile: ['http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient'] } });
    const before = Date.now();
    const created = await store.resources.create(scope, input);

    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.meta?.versionId).toBe('1');
    expect(created.meta?.profile).toEqual(['http://nictiz.nl/fhir/StructureDefinition/nl-core-Patient']);
    expect(Date.parse(created.meta?.lastUpdated as string)).toBeGreaterThanOrEqual(before - 1);
    expect(created.meta?.lastUpdated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(input.id).toBe('client-chosen');
    expect(await store.resources.read(scope, 'Patient', created.id as string)).toEqual(created);
  });

  it('updates create-or-replace with increasing versions, and vread returns every version', async () => {
    newScope();
    const first = await store.resources.update(scope, { ...nlCorePatient, id: 'pat-1' });
    expect(first.created).toBe(true);
    expect(first.resource.meta?.versionId).toBe('1');

    const second = await store.resources.update(scope, { ...first.resource, gender: 'male' });
    expect(second.created).toBe(false);
    expect(second.resource.meta?.versionId).toBe('2');

    expect((await store.resources.read(scope, 'Patient', 'pat-1')).gender).toBe('male');
    expect((await store.resources.vread(scope, 'Patient', 'pat-1', '1')).gender).toBe('female');
    expect((await store.resources.vread(scope, 'Patient', 'pat-1', '2')).gender).toBe('male');
    expect(await outcomeOf(store.resources.vread(scope, 'Patient', 'pat-1', '3'))).toBe('not-found');
  });

  it('rejects an update whose If-Match names another version, and accepts the current one', async () => {
    newScope();
    const { resource } = await store.resources.update(scope, r({ resourceType: 'Task', id: 'task-1', status: 'requested', intent: 'order' }));
    await store.resources.update(scope, { ...resource, status: 'received' }, { ifMatch: '1' });

    expect(await outcomeOf(store.resources.update(scope, { ...resource, status: 'accepted' }, { ifMatch: '1' }))).toBe('precondition-failed');
    expect(await outcomeOf(store.resources.delete(scope, 'Task', 'task-1', { ifMatch: 'W/"1"' }))).toBe('precondition-failed');
    expect(await outcomeOf(store.resources.update(scope, { ...resource, id: 'task-unknown' }, { ifMatch: '1' }))).toBe('precondition-failed');

    const accepted = await store.resources.update(scope, { ...resource, status: 'accepted' }, { ifMatch: 'W/"2"' });
    expect(accepted.resource.meta?.versionId).toBe('3');
    expect((await store.resources.read(scope, 'Task', 'task-1')).status).toBe('accepted');
  });

  it('lets exactly one of two concurrent If-Match updates from two instances win', async () => {
    newScope();
    const other = await backend.open();
    const { resource } = await store.resources.update(scope, r({ resourceType: 'Task', id: 'contested', status: 'requested', intent: 'order' }));
    const results = await Promise.allSettled([
      store.resources.update(scope, { ...resource, status: 'accepted' }, { ifMatch: '1' }),
      other.resources.update(scope, { ...resource, status: 'rejected' }, { ifMatch: '1' }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const loser = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect((loser.reason as OperationOutcomeError).outcome.id).toBe('precondition-failed');
    expect((await store.resources.read(scope, 'Task', 'contested')).meta?.versionId).toBe('2');
  });

  it('answers gone for a deleted resource and its deletion version, keeps older versions readable', async () => {
    newScope();
    const created = await store.resources.create(scope, r({ resourceType: 'Flag', status: 'active', code: { text: 'MRSA' } }));
    const id = created.id as string;
    await store.resources.delete(scope, 'Flag', id);
    await store.resources.delete(scope, 'Flag', id);
    await store.resources.delete(scope, 'Flag', 'never-existed');

    expect(await outcomeOf(store.resources.read(scope, 'Flag', id))).toBe('gone');
    expect(await outcomeOf(store.resources.vread(scope, 'Flag', id, '2'))).toBe('gone');
    expect((await store.resources.vread(scope, 'Flag', id, '1')).status).toBe('active');
    expect(await outcomeOf(store.resources.read(scope, 'Flag', 'never-existed'))).toBe('not-found');

    const revived = await store.resources.update(scope, { ...created, status: 'inactive' });
    expect(revived).toMatchObject({ created: true, resource: { meta: { versionId: '3' } } });
  });

  it('refuses resource types and ids that are not FHIR', async () => {
    newScope();
    expect(await outcomeOf(store.resources.create(scope, r({ resourceType: 'Spaceship' })))).toBe('bad-request');
    expect(await outcomeOf(store.resources.update(scope, r({ resourceType: 'Patient', id: 'no spaces allowed' })))).toBe('bad-request');
    expect(await outcomeOf(store.resources.read(scope, 'Patient', '../etc'))).toBe('not-found');
  });

  it('refuses a resource over the default write limits, naming the limit: the Patient with 130,000 names of issue 12', async () => {
    newScope();
    const patient = r({ resourceType: 'Patient', name: Array.from({ length: 130_000 }, (_, i) => ({ family: `F${i}` })) });
    const refusal = await store.resources.create(scope, patient).catch((error: unknown) => error as OperationOutcomeError);
    expect(refusal).toBeInstanceOf(OperationOutcomeError);
    expect((refusal as OperationOutcomeError).outcome).toMatchObject({
      id: 'unprocessable',
      issue: [{ details: { text: 'The Patient holds more than 100000 values: it exceeds limits.resourceElements (100000)' } }],
    });
  });

  it('refuses a resource indexed with its write that has more index entries than MAX_INDEX_ENTRIES, naming the cap', async () => {
    newScope();
    const identifier = Array.from({ length: MAX_INDEX_ENTRIES + 1 }, (_, i) => ({ system: 'urn:x', value: String(i) }));
    const refusal = await store.resources.create(scope, r({ resourceType: 'Task', status: 'requested', intent: 'order', identifier })).catch((error: unknown) => error);
    expect((refusal as OperationOutcomeError).outcome).toMatchObject({
      id: 'unprocessable',
      issue: [{ details: { text: `The Task cannot be indexed: it has more than ${MAX_INDEX_ENTRIES} search index entries` } }],
    });
  });

  it('keeps tenants apart in every method: another tenant sees not-found, never gone or data', async () => {
    const owner: Scope = { tenant: freshTenant('owner'), version: 'r4' };
    const other: Scope = { tenant: freshTenant('other'), version: 'r4' };
    const stu3: Scope = { tenant: owner.tenant, version: 'stu3' };
    const { resource } = await store.resources.update(owner, { ...nlCorePatient, id: 'shared-id' });
    const deleted = await store.resources.create(owner, r({ resourceType: 'Flag', status: 'active' }));
    await store.resources.delete(owner, 'Flag', deleted.id as string);

    for (const outsider of [other, stu3]) {
      expect(await outcomeOf(store.resources.read(outsider, 'Patient', 'shared-id'))).toBe('not-found');
      expect(await outcomeOf(store.resources.vread(outsider, 'Patient', 'shared-id', '1'))).toBe('not-found');
      expect(await outcomeOf(store.resources.read(outsider, 'Flag', deleted.id as string))).toBe('not-found');
      expect(await store.resources.history(outsider, { count: 10 })).toEqual([]);
      expect(await store.resources.history(outsider, { resourceType: 'Patient', id: 'shared-id', count: 10 })).toEqual([]);
      const search = await store.resources.search(outsider, {
        resourceType: 'Patient',
        params: [{ code: 'identifier', values: ['http://fhir.nl/fhir/NamingSystem/bsn|111222333'] }],
        count: 10,
        offset: 0,
        sort: [],
        include: [],
        revinclude: [],
        total: 'accurate',
      });
      expect(search).toMatchObject({ resources: [], total: 0 });
    }

    // Another tenant's delete and If-Match-guarded update of the same id touch nothing of the owner's.
    await store.resources.delete(other, 'Patient', 'shared-id');
    const theirs = await store.resources.update(other, { ...nlCorePatient, id: 'shared-id', gender: 'male' });
    expect(theirs).toMatchObject({ created: true, resource: { meta: { versionId: '1' } } });
    expect(await store.resources.read(owner, 'Patient', 'shared-id')).toEqual(resource);
  });

  it('lists history newest first per instance, type and tenant, with deletions, since and count', async () => {
    newScope();
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    const a = await store.resources.update(scope, r({ resourceType: 'Task', id: 'a', status: 'requested', intent: 'order' }));
    await pause();
    await store.resources.update(scope, { ...a.resource, status: 'accepted' });
    const middle = (await store.resources.history(scope, { resourceType: 'Task', id: 'a', count: 1 }))[0].lastUpdated;
    await pause();
    await store.resources.create(scope, r({ resourceType: 'Patient', gender: 'female' }));
    await store.resources.delete(scope, 'Task', 'a');

    const instance = await store.resources.history(scope, { resourceType: 'Task', id: 'a', count: 10 });
    expect(instance.map((e) => [e.versionId, e.method])).toEqual([
      ['3', 'DELETE'],
      ['2', 'PUT'],
      ['1', 'PUT'],
    ]);
    expect(instance[0].resource).toBeUndefined();
    expect(instance[1].resource?.status).toBe('accepted');

    const tenant = await store.resources.history(scope, { count: 10 });
    expect(tenant.map((e) => `${e.resourceType}/${e.method}`)).toEqual(['Task/DELETE', 'Patient/POST', 'Task/PUT', 'Task/PUT']);
    expect(await store.resources.history(scope, { resourceType: 'Patient', count: 10 })).toHaveLength(1);
    expect(await store.resources.history(scope, { count: 2 })).toHaveLength(2);

    const since = await store.resources.history(scope, { since: middle, count: 10 });
    expect(since.map((e) => e.method)).toEqual(['DELETE', 'POST', 'PUT']);
  });

  it('rolls back resources and outbox messages together when the transaction fails', async () => {
    newScope();
    const kept = await store.resources.create(scope, r({ resourceType: 'Patient', gender: 'female' }));
    let createdInside: string | undefined;
    await expect(
      store.transaction(async (tx) => {
        createdInside = (await tx.resources.create(scope, r({ resourceType: 'Task', status: 'requested', intent: 'order' }))).id;
        await tx.resources.update(scope, { ...kept, gender: 'male' });
        await tx.outbox.enqueue({ tenant: scope.tenant, kind: 'transfer.notify', destination: 'https://vvt.example/notify', payload: {} });
        // A nested transaction joins the outer one: its writes go when the outer one fails.
        await tx.transaction((inner) => inner.resources.create(scope, r({ resourceType: 'Flag', status: 'active' })));
        throw new Error('validation failed half-way');
      }),
    ).rejects.toThrow('validation failed half-way');

    expect(await outcomeOf(store.resources.read(scope, 'Task', createdInside as string))).toBe('not-found');
    expect((await store.resources.read(scope, 'Patient', kept.id as string)).gender).toBe('female');
    expect(await store.outbox.list(scope.tenant)).toEqual([]);
    expect(await store.resources.history(scope, { count: 10 })).toHaveLength(1);
  });

  it('commits everything written through the transaction, also through a transaction nested in it', async () => {
    newScope();
    const ids = await store.transaction(async (tx) => {
      const task = await tx.resources.create(scope, r({ resourceType: 'Task', status: 'requested', intent: 'order' }));
      const patient = await tx.transaction((inner) => inner.resources.create(scope, r({ resourceType: 'Patient' })));
      await tx.outbox.enqueue({ tenant: scope.tenant, kind: 'transfer.notify', destination: 'vvt', payload: { task: task.id } });
      return [task.id as string, patient.id as string];
    });
    expect((await store.resources.read(scope, 'Task', ids[0])).status).toBe('requested');
    expect((await store.resources.read(scope, 'Patient', ids[1])).resourceType).toBe('Patient');
    expect((await store.outbox.list(scope.tenant)).map((m) => m.payload)).toEqual([{ task: ids[0] }]);
  });

  it('runs work a transaction left behind (a timer) outside it once the transaction has ended', async () => {
    newScope();
    let later: Promise<Resource> | undefined;
    await store.transaction(async (tx) => {
      await tx.resources.create(scope, r({ resourceType: 'Patient' }));
      later = new Promise((resolve, reject) => {
        setTimeout(() => store.resources.create(scope, r({ resourceType: 'Flag', status: 'active' })).then(resolve, reject), 20);
      });
    });
    const flag = await later;
    expect((await store.resources.read(scope, 'Flag', flag?.id as string)).status).toBe('active');
    expect(await store.resources.history(scope, { count: 10 })).toHaveLength(2);
  });

  it('answers ping', async () => {
    expect(await store.ping()).toBe(true);
  });
});

import { beforeAll, describe, expect, it } from '@jest/globals';
import { optimisticTransaction, VersionConflict } from '../../src/store/optimistic.js';
import type { Store, TransferRecord } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from './backends.js';

/**
 * The gateway's bookkeeping tables: what is saved is found again as it was, a write names the version it read, and
 * a write over a version another instance moved (or a second creation) is a VersionConflict, retried by
 * `optimisticTransaction`.
 */
describe.each(backends)('bookkeeping tables on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  /** Two instances on one database. */
  let stores: Store[];

  beforeAll(async () => {
    stores = [await backend.open(), await backend.open()];
  });

  const outbound: TransferRecord = {
    task: 'task-1',
    side: 'outbound',
    peer: 'vvt-1',
    offer: ['task-1', 'task-2'],
    taskCredentialId: 'c1',
    taskCredentialJwt: 'jwt-1',
  };

  it('keeps a transfer record and writes it over the version read, once', async () => {
    const tenant = freshTenant('hospital');
    const [one, two] = stores;
    expect(await one.transfers.find(tenant, 'task-1')).toBeUndefined();
    await one.transfers.save(tenant, outbound);
    const read = await two.transfers.find(tenant, 'task-1');
    expect(read).toEqual({ value: outbound, version: 1 });

    const { taskCredentialId: _id, taskCredentialJwt: _jwt, ...revoked } = outbound;
    await two.transfers.save(tenant, revoked, read!.version);
    await expect(one.transfers.save(tenant, outbound, read!.version)).rejects.toBeInstanceOf(VersionConflict);
    await expect(one.transfers.save(tenant, outbound)).rejects.toBeInstanceOf(VersionConflict);
    expect(await one.transfers.find(tenant, 'task-1')).toEqual({ value: revoked, version: 2 });
    expect(await one.transfers.find(freshTenant('other'), 'task-1')).toBeUndefined();
  });

  it('keeps an inbound record apart from the outbound ones', async () => {
    const tenant = freshTenant('vvt');
    const inbound: TransferRecord = { task: 'local-1', side: 'inbound', peer: 'hospital', remoteTask: 'task-1', documentCredentialJwt: 'jwt-2' };
    await stores[0].transfers.save(tenant, inbound);
    expect((await stores[1].transfers.find(tenant, 'local-1'))?.value).toEqual(inbound);
  });

  it("keeps every change of a tenant's capacity state made by two instances at once", async () => {
    const tenant = freshTenant('vvt');
    const reserve = (store: Store, task: string) =>
      optimisticTransaction(store, async (tx) => {
        const found = await tx.capacityStates.find(tenant);
        const ledger = [...(found?.value.ledger ?? []), { task, careType: 'grz', state: 'reserved' as const, since: '2026-01-01T10:00:00.000Z' }];
        await tx.capacityStates.save(tenant, { census: 'report-1', ledger }, found?.version);
      });
    await Promise.all([reserve(stores[0], 'a'), reserve(stores[1], 'b')]);
    await Promise.all([reserve(stores[0], 'c'), reserve(stores[1], 'd')]);
    const state = await stores[0].capacityStates.find(tenant);
    expect(state?.value.census).toBe('report-1');
    expect(state?.value.ledger.map((reservation) => reservation.task).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(state?.version).toBe(4);
  });

  it('keeps the credentials issued, and the first revocation of each', async () => {
    const issuer = freshTenant('hospital');
    const issuedAt = new Date('2026-01-01T10:00:00.000Z');
    await stores[0].credentials.add({ issuer, id: 'c1', jwt: 'jwt-1', issuedAt });
    expect(await stores[1].credentials.find(issuer, 'c1')).toEqual({ issuer, id: 'c1', jwt: 'jwt-1', issuedAt });
    expect(await stores[1].credentials.find(freshTenant('other'), 'c1')).toBeUndefined();

    const first = new Date('2026-01-02T10:00:00.000Z');
    expect(await stores[1].credentials.revoke(issuer, 'c1', first)).toBe(true);
    expect(await stores[0].credentials.revoke(issuer, 'c1', new Date('2026-01-03T10:00:00.000Z'))).toBe(true);
    expect((await stores[0].credentials.find(issuer, 'c1'))?.revokedAt).toEqual(first);
    expect(await stores[0].credentials.revoke(issuer, 'unknown', first)).toBe(false);
  });
});

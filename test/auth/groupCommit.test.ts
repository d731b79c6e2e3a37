import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { groupCommit } from '../../src/auth/groupCommit.js';
import { openStore } from '../../src/store/index.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Store } from '../../src/store/repository.js';
import { temporaryFolder } from '../harness/folders.js';
import type { UnitOfWork } from '../../src/store/repository.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: temporaryFolder('auth-test-') });
});
afterAll(() => store.close());

const tenant = 'group';

describe('group commit', () => {
  it('runs the writes of one turn of the event loop in one transaction', async () => {
    let transactions = 0;
    const counting = { transaction: (work: (tx: UnitOfWork) => Promise<unknown>) => ((transactions += 1), store.transaction(work)) } as Store;
    const writes = groupCommit(counting);
    const event = (n: number): Resource => ({ resourceType: 'AuditEvent', recorded: new Date().toISOString(), outcomeDesc: `n${n}` });
    const appended = await Promise.all([1, 2, 3].map((n) => writes.audit.append(tenant, event(n))));
    expect(transactions).toBe(1);
    for (const resource of appended) expect((await store.audit.read(tenant, resource.id!)).outcomeDesc).toEqual(resource.outcomeDesc);
    await writes.run((tx) => tx.replay.remember('gc-1', new Date(Date.now() + 60_000)));
    expect(transactions).toBe(2);
  });

  it("keeps one caller's failure to that caller", async () => {
    const writes = groupCommit(store);
    const [ok, failed, alsoOk] = await Promise.allSettled([
      writes.run((tx) => tx.replay.remember('gc-2', new Date(Date.now() + 60_000))),
      writes.run(() => Promise.reject(new Error('boom'))),
      writes.run((tx) => tx.replay.remember('gc-2', new Date(Date.now() + 60_000))),
    ]);
    expect(ok).toEqual({ status: 'fulfilled', value: true });
    expect(failed).toMatchObject({ status: 'rejected', reason: { message: 'boom' } });
    expect(alsoOk).toEqual({ status: 'fulfilled', value: false });
  });

  it('rejects every caller when the transaction itself fails', async () => {
    const broken = { transaction: () => Promise.reject(new Error('database gone')) } as unknown as Store;
    const writes = groupCommit(broken);
    const results = await Promise.allSettled([writes.run(async () => 1), writes.run(async () => 2)]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  });
});

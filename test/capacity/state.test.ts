import { beforeAll, describe, expect, it } from '@jest/globals';
import { changeState, loadState } from '../../src/capacity/provider/state.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from '../store/backends.js';
import { pausedAfterFirstRead } from './paused-store.js';

/** A provider's capacity state is changed with optimistic locking: concurrent changes all end up in it. */
describe.each(backends)('capacity state on %s', (name, makeBackend) => {
  const backend = useBackend(makeBackend);
  /** Two gateway instances on one database. */
  let stores: Store[];

  beforeAll(async () => {
    stores = [await backend.open(), await backend.open()];
  });

  const reserve = (store: Store, scope: Scope, task: string) =>
    changeState(store, scope, async (state) => ({
      state: { ...state, ledger: [...state.ledger, { task, careType: 'grz', state: 'reserved' as const, since: '2025-03-14T10:00:00.000Z' }] },
      result: undefined,
    }));
  const reserved = async (scope: Scope) => (await loadState(stores[0], scope)).ledger.map((reservation) => reservation.task).sort();

  it('keeps the changes of two instances changing the state at once', async () => {
    const scope: Scope = { tenant: freshTenant('vvt'), version: 'r4' };
    await Promise.all([reserve(stores[0], scope, 'task-1'), reserve(stores[1], scope, 'task-2')]);
    await Promise.all([reserve(stores[0], scope, 'task-3'), reserve(stores[1], scope, 'task-4')]);
    expect(await reserved(scope)).toEqual(['task-1', 'task-2', 'task-3', 'task-4']);
  });

  (name === 'postgres' ? it : it.skip)('keeps a first state another instance created after this change found none', async () => {
    const scope: Scope = { tenant: freshTenant('vvt'), version: 'r4' };
    const paused = pausedAfterFirstRead(stores[0], ['capacityStates', 'find']);
    const late = reserve(paused.store, scope, 'task-1');
    await paused.reached;
    await reserve(stores[1], scope, 'task-2');
    paused.release();
    await late;
    expect(await reserved(scope)).toEqual(['task-1', 'task-2']);
  });
});

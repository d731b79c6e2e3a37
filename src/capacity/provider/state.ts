import type { CapacityState, Scope, UnitOfWork } from '../../store/repository.js';
import { optimisticTransaction } from '../../store/optimistic.js';

/**
 * A provider tenant's capacity state, kept in the store's capacity states (never a FHIR resource, it never leaves):
 * which stored MeasureReport is the current census, and the ledger of places promised through eOverdracht.
 */
export async function loadState(store: Pick<UnitOfWork, 'capacityStates'>, scope: Scope): Promise<CapacityState> {
  return (await store.capacityStates.find(scope.tenant))?.value ?? { ledger: [] };
}

/**
 * Changes the state atomically: `change` runs inside a transaction on the current state and may write other
 * resources through the transaction's store; a concurrent writer makes it run again on the newer state.
 */
export async function changeState<T>(
  store: UnitOfWork,
  scope: Scope,
  change: (state: CapacityState, tx: UnitOfWork) => Promise<{ state: CapacityState; result: T }>,
): Promise<T> {
  return optimisticTransaction(store, async (tx) => {
    const found = await tx.capacityStates.find(scope.tenant);
    const state = found?.value ?? { ledger: [] };
    const next = await change(state, tx);
    if (JSON.stringify(next.state) !== JSON.stringify(state)) await tx.capacityStates.save(scope.tenant, next.state, found?.version);
    return next.result;
  });
}

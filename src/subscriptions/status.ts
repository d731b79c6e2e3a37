import type { Resource } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import type { SubscriptionDirectory } from './directory.js';
import { scopeOf } from './directory.js';
import type { SubscriptionStatus } from './subscription.js';
import { readOptional } from '../store/optional.js';
import { optimisticTransaction, writeOver } from '../store/optimistic.js';

/**
 * The server's own status changes: requested → active after a handshake, → error when the handshake or a delivery
 * fails for good. A change applies only from the statuses named, and is written with If-Match: a client's update in
 * between wins, and the change is judged again on the version the client wrote.
 */
export interface StatusChange {
  from: SubscriptionStatus[];
  to: SubscriptionStatus;
  /** Kept in `Subscription.error` (R4) while the status is error. */
  error?: string;
}

export async function changeStatus(store: UnitOfWork, directory: SubscriptionDirectory, tenant: string, id: string, change: StatusChange): Promise<Resource | undefined> {
  const changed = await optimisticTransaction(store, async (tx) => {
    const current = await readOptional(tx.resources, scopeOf(tenant), 'Subscription', id);
    if (!current || !change.from.includes(current.status as SubscriptionStatus)) return undefined;
    const { error: _previousError, ...rest } = current;
    const next: Resource = { ...rest, status: change.to, ...(change.to === 'error' && change.error ? { error: change.error } : {}) };
    return (await writeOver(tx.resources, scopeOf(tenant), next, current.meta?.versionId)).resource;
  });
  if (changed) directory.remember(tenant, id, changed);
  return changed;
}

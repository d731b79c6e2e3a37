import type { Resource } from '../fhir/version.js';
import type { Store } from '../store/repository.js';
import type { SubscriptionDirectory } from './directory.js';
import { scopeOf } from './directory.js';
import { isOperationOutcomeError } from './errors.js';
import type { SubscriptionStatus } from './subscription.js';
import { readOptional } from '../store/optional.js';

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

const ATTEMPTS = 5;

export async function changeStatus(store: Store, directory: SubscriptionDirectory, tenant: string, id: string, change: StatusChange): Promise<Resource | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await readOptional(store.resources, scopeOf(tenant), 'Subscription', id);
    if (!current || !change.from.includes(current.status as SubscriptionStatus)) return undefined;
    const { error: _previousError, ...rest } = current;
    const next: Resource = { ...rest, status: change.to, ...(change.to === 'error' && change.error ? { error: change.error } : {}) };
    try {
      const { resource } = await store.resources.update(scopeOf(tenant), next, { ifMatch: current.meta?.versionId });
      directory.remember(tenant, id, resource);
      return resource;
    } catch (error) {
      if (attempt >= ATTEMPTS || !isOperationOutcomeError(error, 'precondition-failed', 'conflict')) throw error;
    }
  }
}

import type { Principal } from '../fhir/principal.js';
import { conflict, notFound, OperationOutcomeError } from '../fhir/outcome.js';
import type { RestContext } from '../rest/types.js';
import type { Resource } from '../fhir/version.js';
import type { SubscriptionDirectory } from './directory.js';
import type { Owner } from './endpoints.js';
import { ownerOf, type SubscriptionPlan } from './subscription.js';

/**
 * Who may see a Subscription: the tenant's own EHR every one of the tenant; a remote organisation only the ones it
 * made (another's is as unknown to it as a missing one).
 */
export const callerOf = (principal: Principal): Owner => (principal.kind === 'ehr' ? { kind: 'ehr' } : { kind: 'organization', id: principal.requester });

export async function visibleSubscription(context: RestContext, id: string): Promise<Resource> {
  const resource = await context.store.resources.read(context.scope, 'Subscription', id);
  const caller = callerOf(context.principal);
  const owner = ownerOf(resource);
  if (caller.kind === 'organization' && (owner.kind !== 'organization' || owner.id !== caller.id)) {
    throw new OperationOutcomeError(notFound(`Subscription/${id} is not known`));
  }
  return resource;
}

export function planOf(directory: SubscriptionDirectory, context: RestContext, resource: Resource): SubscriptionPlan {
  const plan = directory.plan(context.scope.tenant, resource);
  if (!plan) throw new OperationOutcomeError(conflict(`Subscription/${resource.id} can no longer be served (its topic or criteria is unknown)`));
  return plan;
}

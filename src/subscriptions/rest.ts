import { allOk, badRequest, forbidden, isOperationOutcomeError, OperationOutcomeError, outcome, unprocessable } from '../fhir/outcome.js';
import { stringAt } from '../vocabulary/json.js';
import { resourceBody, validateForWrite, writeOutcome } from '../rest/resource-body.js';
import { searchType } from '../rest/search.js';
import type { FhirRequest, FhirResponse, RestContext } from '../rest/types.js';
import { ifMatchVersion } from '../rest/update.js';
import type { Resource } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import { callerOf, visibleSubscription } from './access.js';
import { OUTBOX_KINDS, TASK_STATUS_CHANGED_TOPIC } from './canonical.js';
import type { SubscriptionDirectory } from './directory.js';
import type { EndpointPolicy } from './endpoints.js';
import { orderingKeyOf } from './events.js';
import { ownerTag, readSubscription, withOwner } from './subscription.js';
import type { SubscriptionTopic } from './topics.js';
import type { SearchLimits } from '../fhir/search/parse.js';

/**
 * Create, read, update, delete and search of Subscriptions. A write is validated (the R4 base rules, then what this
 * server supports and allows, each problem with its FHIRPath); the status and the owner are the server's: a topic
 * subscription is stored `requested` with its handshake queued in the same transaction.
 */
export interface RestServices {
  topics: ReadonlyMap<string, SubscriptionTopic>;
  /** The search limits of a client's query, which classic criteria are held to. */
  limits: SearchLimits;
  directory: SubscriptionDirectory;
  policy: EndpointPolicy;
}

export class SubscriptionRest {
  constructor(private readonly services: RestServices) {}

  async create(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const prepared = this.prepare(resourceBody(request), context);
    const notes = validateForWrite(context, prepared);
    const stored = await context.store.transaction(async (tx) => {
      const created = await tx.resources.create(context.scope, prepared);
      await queueHandshake(tx, context.scope.tenant, created);
      return created;
    });
    this.written(context, stored);
    return [writeOutcome('created', notes, 'Created'), stored];
  }

  async read(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    return [allOk, await visibleSubscription(context, request.params.id)];
  }

  async update(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const { id } = request.params;
    const body = resourceBody(request);
    if (body.id !== id) throw new OperationOutcomeError(badRequest(`The body's id '${String(body.id)}' differs from the id '${id}' in the URL`, 'Subscription.id'));
    const existing = await visibleSubscription(context, id).catch((error: unknown) => {
      if (isOperationOutcomeError(error, 'not-found', 'gone')) return undefined;
      throw error;
    });
    const prepared = this.prepare(body, context);
    const notes = validateForWrite(context, prepared);
    const ifMatch = ifMatchVersion(request.headers['if-match']);
    const result = await context.store.transaction(async (tx) => {
      const written = await tx.resources.update(context.scope, prepared, { ifMatch });
      await queueHandshake(tx, context.scope.tenant, written.resource);
      return written;
    });
    this.written(context, result.resource);
    return [existing ? writeOutcome('ok', notes, 'Updated') : writeOutcome('created', notes, 'Created'), result.resource];
  }

  async delete(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const { id } = request.params;
    await visibleSubscription(context, id);
    await context.store.resources.delete(context.scope, 'Subscription', id, { ifMatch: ifMatchVersion(request.headers['if-match']) });
    this.services.directory.remember(context.scope.tenant, id, undefined);
    return [writeOutcome('ok', [], `Deleted Subscription/${id}`)];
  }

  /** A remote organisation's search is narrowed to its own Subscriptions (by the owner tag). */
  search(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const caller = callerOf(context.principal);
    if (caller.kind === 'ehr') return searchType({ ...request, params: { type: 'Subscription' } }, context);
    const tag = ownerTag(caller);
    const query = { ...request.query, _tag: [request.query._tag ?? []].flat().concat(`${tag.system}|${tag.code}`) };
    return searchType({ ...request, params: { type: 'Subscription' }, query }, context);
  }

  /** The client's Subscription as the server stores it, or the reason it is refused. */
  private prepare(body: Resource, context: RestContext): Resource {
    const caller = callerOf(context.principal);
    if (body.status === 'error') throw new OperationOutcomeError(unprocessable('Only the server sets status error', 'Subscription.status'));
    const { error: _error, ...rest } = body;
    const draft = withOwner({ ...rest, status: body.status === 'off' ? 'off' : 'requested' }, caller);
    const plan = readSubscription(draft, this.services.topics, this.services.limits);
    if (Array.isArray(plan)) throw new OperationOutcomeError(outcome('unprocessable', plan));
    if (plan.trigger.kind === 'topic' && plan.trigger.topic.url === TASK_STATUS_CHANGED_TOPIC && caller.kind !== 'ehr') {
      throw new OperationOutcomeError(forbidden("Only the organisation's own EHR may subscribe to its Task status changes"));
    }
    const decision = this.services.policy.decideChannel(plan.endpoint, plan.headers, caller);
    if ('problems' in decision) throw new OperationOutcomeError(outcome('unprocessable', decision.problems));
    // Classic criteria subscriptions have no handshake: active at once, as R4 servers do.
    return plan.trigger.kind === 'criteria' && draft.status === 'requested' ? { ...draft, status: 'active' } : draft;
  }

  private written(context: RestContext, resource: Resource): void {
    this.services.directory.remember(context.scope.tenant, String(resource.id), resource);
  }
}

/** A topic subscription waiting for its handshake gets it queued first under its ordering key. */
async function queueHandshake(tx: UnitOfWork, tenant: string, subscription: Resource): Promise<void> {
  const endpoint = stringAt(subscription.channel, 'endpoint');
  if (subscription.status !== 'requested' || !endpoint) return;
  const id = String(subscription.id);
  await tx.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.handshake, destination: endpoint, payload: { subscription: id }, orderingKey: orderingKeyOf(id) });
}

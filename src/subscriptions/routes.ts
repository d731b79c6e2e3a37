import type { Principal } from '../auth/principal.js';
import { allOk, forbidden, notFound, OperationOutcomeError, conflict, outcome, issue, unprocessable, badRequest } from '../fhir/outcome.js';
import { resourceBody, validateForWrite, writeOutcome } from '../fhir/rest/resource-body.js';
import type { RouteDefinition } from '../fhir/rest/router.js';
import { searchType } from '../fhir/rest/search.js';
import type { FhirHandler, FhirRequest, FhirResponse, RestContext } from '../fhir/rest/types.js';
import { ifMatchVersion } from '../fhir/rest/update.js';
import type { Resource } from '../fhir/version.js';
import type { Store } from '../store/repository.js';
import { CONTENT_LEVELS, EVENTS_OPERATION, OUTBOX_KINDS, RESEND_OPERATION, STATUS_OPERATION, SUBSCRIPTION_OWNER_SYSTEM, TASK_STATUS_CHANGED_TOPIC, type ContentLevel } from './canonical.js';
import { recordRelease, type FocusContent } from './content.js';
import type { SubscriptionDirectory } from './directory.js';
import type { EndpointPolicy, Owner } from './endpoints.js';
import { isOperationOutcomeError } from './errors.js';
import { orderingKeyOf, streamOf, type NotifyPayload } from './events.js';
import { focusEntry, notificationBundle, subscriptionStatus, type SubscriptionEvent } from './notifications.js';
import { operationParameters, positiveInteger } from './parameters.js';
import { ownerOf, ownerTag, readSubscription, withOwner, type SubscriptionPlan } from './subscription.js';
import type { SubscriptionTopic } from './topics.js';

/**
 * The Subscription REST surface of the R4 base: create, read, update, delete and search (each caller sees only its
 * own: the tenant's EHR every Subscription of the tenant, a remote organisation the ones it made), and the backport
 * operations `$status`, `$events` (replay by event number) and `$resend`. Writes are validated, the status is the
 * server's (requested until a handshake succeeds, then active), and a handshake is queued in the same transaction.
 */
export interface SubscriptionRouteServices {
  topics: ReadonlyMap<string, SubscriptionTopic>;
  directory: SubscriptionDirectory;
  policy: EndpointPolicy;
  content: FocusContent;
  clock: () => number;
  /** Asks the subscription dispatcher for a round (after a write queued work). */
  wake(): void;
}

/** Most events one `$events` or `$resend` call covers; ask again from the next number for more. */
export const MAX_EVENTS_PER_CALL = 1000;

export function subscriptionRoutes(services: SubscriptionRouteServices): RouteDefinition[] {
  const handlers = new SubscriptionHandlers(services);
  const route = (method: RouteDefinition['method'], path: string, access: RouteDefinition['access'], handler: FhirHandler, interactions: string[] = []) => ({
    method,
    path,
    access,
    interactions,
    handler,
  });
  const operation = (method: RouteDefinition['method'], path: string, definition: RouteDefinition['operation'], handler: FhirHandler): RouteDefinition => ({
    ...route(method, path, 'operation', handler),
    operation: definition,
  });
  return [
    route('POST', 'Subscription', 'create', (request, context) => handlers.create(request, context), ['create']),
    route('GET', 'Subscription', 'search', (request, context) => handlers.search(request, context), ['search-type']),
    route('POST', 'Subscription/_search', 'search', (request, context) => handlers.search(request, context), ['search-type']),
    route('GET', 'Subscription/:id', 'read', (request, context) => handlers.read(request, context), ['read']),
    route('PUT', 'Subscription/:id', 'update', (request, context) => handlers.update(request, context), ['update']),
    route('DELETE', 'Subscription/:id', 'delete', (request, context) => handlers.delete(request, context), ['delete']),
    ...(['GET', 'POST'] as const).flatMap((method) => [
      operation(method, 'Subscription/$status', STATUS_OPERATION, (request, context) => handlers.statusOfMany(request, context)),
      operation(method, 'Subscription/:id/$status', STATUS_OPERATION, (request, context) => handlers.statusOfOne(request, context)),
      operation(method, 'Subscription/:id/$events', EVENTS_OPERATION, (request, context) => handlers.events(request, context)),
    ]),
    operation('POST', 'Subscription/:id/$resend', RESEND_OPERATION, (request, context) => handlers.resend(request, context)),
  ];
}

const callerOf = (principal: Principal): Owner => (principal.kind === 'ehr' ? { kind: 'ehr' } : { kind: 'organization', id: principal.requester });

class SubscriptionHandlers {
  constructor(private readonly services: SubscriptionRouteServices) {}

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
    return [allOk, await this.visible(context, request.params.id)];
  }

  async update(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const { id } = request.params;
    const body = resourceBody(request);
    if (body.id !== id) throw new OperationOutcomeError(badRequest(`The body's id '${String(body.id)}' differs from the id '${id}' in the URL`, 'Subscription.id'));
    const existing = await this.visible(context, id).catch((error: unknown) => {
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
    await this.visible(context, id);
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

  async statusOfOne(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const plan = this.planOf(context, await this.visible(context, request.params.id));
    return [allOk, await this.statusBundle(context, [plan])];
  }

  /** Type level: the caller's Subscriptions, narrowed by `id` and `status` parameters (values OR-ed). */
  async statusOfMany(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const parameters = operationParameters(request);
    const query: Record<string, string> = {};
    for (const name of ['id', 'status']) {
      const values = parameters.get(name);
      if (values?.length) query[name === 'id' ? '_id' : 'status'] = values.join(',');
    }
    const caller = callerOf(context.principal);
    if (caller.kind === 'organization') query._tag = `${SUBSCRIPTION_OWNER_SYSTEM}|${ownerTag(caller).code}`;
    const plans = await this.services.directory.search(context.store, context.scope.tenant, query);
    return [allOk, await this.statusBundle(context, plans)];
  }

  /** Replays stored events by number (`eventsSinceNumber`..`eventsUntilNumber`), in the content level asked for. */
  async events(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const plan = this.planOf(context, await this.visible(context, request.params.id));
    const parameters = operationParameters(request);
    const content = (parameters.get('content')?.[0] ?? plan.content) as ContentLevel;
    if (!CONTENT_LEVELS.includes(content)) throw new OperationOutcomeError(badRequest(`content must be one of ${CONTENT_LEVELS.join(', ')}`, 'content'));
    const { tenant } = context.scope;
    const head = await context.store.streams.head(tenant, streamOf(plan.id));
    const events = await this.eventRange(context, plan, parameters, head);
    const focusUrl = (event: SubscriptionEvent) => this.services.content.url(event.focus);
    const entries = content === 'full-resource' ? await this.focusEntries(context, events.map((event) => event.payload)) : [];
    const status = subscriptionStatus({
      subscription: `${context.baseUrl}/Subscription/${plan.id}`,
      ...(content !== 'empty' && plan.trigger.kind === 'topic' ? { topic: plan.trigger.topic.url } : {}),
      status: plan.status,
      type: 'query-event',
      eventsSinceSubscriptionStart: head,
      events: events.map(({ number, payload }) => ({ number, timestamp: payload.timestamp, ...(content === 'empty' ? {} : { focus: focusUrl(payload) }) })),
      ...(plan.error ? { error: plan.error } : {}),
    });
    return [allOk, notificationBundle(status, `Subscription/${plan.id}`, entries, new Date(this.services.clock()).toISOString())];
  }

  /** Queues the given events for delivery again (after the subscriber lost them), in order, behind what is queued. */
  async resend(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const plan = this.planOf(context, await this.visible(context, request.params.id));
    if (plan.status !== 'active') throw new OperationOutcomeError(conflict(`Subscription/${plan.id} is ${plan.status}; resend needs it active (update it to requested first)`));
    const { tenant } = context.scope;
    const head = await context.store.streams.head(tenant, streamOf(plan.id));
    const events = await this.eventRange(context, plan, operationParameters(request), head);
    await context.store.transaction(async (tx) => {
      for (const { number, payload } of events) {
        const notify: NotifyPayload = { subscription: plan.id, number, event: payload };
        await tx.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.notify, destination: plan.endpoint, payload: notify, orderingKey: orderingKeyOf(plan.id) });
      }
    });
    this.services.wake();
    const first = events[0]?.number;
    const text = events.length === 0 ? 'No events in that range' : `Queued events ${first} to ${events[events.length - 1].number} again`;
    return [outcome('ok', [issue('information', 'informational', text)])];
  }

  /** The client's Subscription as the server stores it, or the reason it is refused. */
  private prepare(body: Resource, context: RestContext): Resource {
    const caller = callerOf(context.principal);
    if (body.status === 'error') throw new OperationOutcomeError(unprocessable('Only the server sets status error', 'Subscription.status'));
    const { error: _error, ...rest } = body;
    const draft = withOwner({ ...rest, status: body.status === 'off' ? 'off' : 'requested' }, caller);
    const plan = readSubscription(draft, this.services.topics);
    if (Array.isArray(plan)) throw new OperationOutcomeError(outcome('unprocessable', plan));
    if (plan.trigger.kind === 'topic' && plan.trigger.topic.url === TASK_STATUS_CHANGED_TOPIC && caller.kind !== 'ehr') {
      throw new OperationOutcomeError(forbidden("Only the organisation's own EHR may subscribe to its Task status changes"));
    }
    const decision = this.services.policy.decide(plan.endpoint, caller);
    if ('problem' in decision) throw new OperationOutcomeError(unprocessable(`channel.endpoint: ${decision.problem}`, 'Subscription.channel.endpoint'));
    // Classic criteria subscriptions have no handshake: active at once, as R4 servers do.
    return plan.trigger.kind === 'criteria' && draft.status === 'requested' ? { ...draft, status: 'active' } : draft;
  }

  /** The Subscription if the caller may see it; another owner's is as unknown as a missing one. */
  private async visible(context: RestContext, id: string): Promise<Resource> {
    const resource = await context.store.resources.read(context.scope, 'Subscription', id);
    const caller = callerOf(context.principal);
    const owner = ownerOf(resource);
    if (caller.kind === 'organization' && (owner.kind !== 'organization' || owner.id !== caller.id)) {
      throw new OperationOutcomeError(notFound(`Subscription/${id} is not known`));
    }
    return resource;
  }

  private planOf(context: RestContext, resource: Resource): SubscriptionPlan {
    const plan = this.services.directory.plan(context.scope.tenant, resource);
    if (!plan) throw new OperationOutcomeError(conflict(`Subscription/${resource.id} can no longer be served (its topic or criteria is unknown)`));
    return plan;
  }

  private written(context: RestContext, resource: Resource): void {
    this.services.directory.remember(context.scope.tenant, String(resource.id), resource);
    this.services.wake();
  }

  private async eventRange(context: RestContext, plan: SubscriptionPlan, parameters: Map<string, string[]>, head: number) {
    const since = positiveInteger(parameters, 'eventsSinceNumber') ?? 1;
    const until = Math.min(positiveInteger(parameters, 'eventsUntilNumber') ?? head, since + MAX_EVENTS_PER_CALL - 1);
    if (until < since) return [];
    const events = await context.store.streams.read(context.scope.tenant, streamOf(plan.id), { from: since, to: until, limit: MAX_EVENTS_PER_CALL });
    return events.map(({ number, payload }) => ({ number, payload: payload as SubscriptionEvent }));
  }

  /** The focus of each event, once per version, as it may leave (availability is released through the egress policy). */
  private async focusEntries(context: RestContext, events: SubscriptionEvent[]) {
    const { tenant } = context.scope;
    const entries = [];
    const seen = new Set<string>();
    for (const { focus } of events) {
      const key = `${focus.fhirVersion}|${focus.resourceType}/${focus.id}/${focus.versionId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const resource = await this.services.content.resource(context.store, tenant, focus);
      if (!resource) continue;
      if (focus.resourceType === 'MeasureReport') await recordRelease(context.store, tenant, focus, requesterOf(context.principal), new Date(this.services.clock()));
      entries.push(focusEntry(this.services.content.url(focus), resource));
    }
    return entries;
  }

  private async statusBundle(context: RestContext, plans: SubscriptionPlan[]): Promise<Resource> {
    const entry = [];
    for (const plan of plans) {
      const status = subscriptionStatus({
        subscription: `${context.baseUrl}/Subscription/${plan.id}`,
        ...(plan.trigger.kind === 'topic' ? { topic: plan.trigger.topic.url } : {}),
        status: plan.status,
        type: 'query-status',
        eventsSinceSubscriptionStart: await context.store.streams.head(context.scope.tenant, streamOf(plan.id)),
        ...(plan.error ? { error: plan.error } : {}),
      });
      entry.push({ fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' as const } });
    }
    return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
  }
}

const requesterOf = (principal: Principal) => (principal.kind === 'ehr' ? `ehr ${principal.requester}` : `organization ${principal.requester}`);

/** A topic subscription waiting for its handshake gets it queued first under its ordering key. */
async function queueHandshake(tx: Store, tenant: string, subscription: Resource): Promise<void> {
  const channel = subscription.channel as { endpoint?: string } | undefined;
  if (subscription.status !== 'requested' || !channel?.endpoint) return;
  const id = String(subscription.id);
  await tx.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.handshake, destination: channel.endpoint, payload: { subscription: id }, orderingKey: orderingKeyOf(id) });
}

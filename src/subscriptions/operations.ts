import type { Principal } from '../fhir/principal.js';
import type { BundleEntry } from '../fhir/bundle.js';
import { operationDefinition } from '../rest/operations/definitions.js';
import { readOperationInput, type OperationParameters } from '../rest/operations/parameters.js';
import { allOk, badRequest, conflict, issue, OperationOutcomeError, outcome } from '../fhir/outcome.js';
import type { FhirRequest, FhirResponse, RestContext } from '../rest/types.js';
import type { Resource } from '../fhir/version.js';
import { callerOf, planOf, visibleSubscription } from './access.js';
import { CONTENT_LEVELS, OUTBOX_KINDS, SUBSCRIPTION_OWNER_SYSTEM, type ContentLevel } from './canonical.js';
import type { FocusContent } from './content.js';
import type { SubscriptionDirectory } from './directory.js';
import { orderingKeyOf, streamOf, type NotifyPayload } from './events.js';
import { focusEntry, notificationBundle, subscriptionStatus, type SubscriptionEvent } from './notifications.js';
import { ownerTag, type SubscriptionPlan } from './subscription.js';

/**
 * The backport operations: `$status` (instance and type level), `$events` (replay of stored events by number, the
 * recovery path) and `$resend` (queue stored events for delivery again).
 */
export interface OperationServices {
  directory: SubscriptionDirectory;
  content: FocusContent;
  clock: () => number;
}

export const STATUS_OPERATION = operationDefinition('backport-subscription-status');
export const EVENTS_OPERATION = operationDefinition('backport-subscription-events');
export const RESEND_OPERATION = operationDefinition('backport-subscription-resend');

/** Most events one `$events` or `$resend` call covers; ask again from the next number for more. */
const MAX_EVENTS_PER_CALL = 1000;

export class SubscriptionOperations {
  constructor(private readonly services: OperationServices) {}

  /** Instance level: `id` and `status` are read (and checked) but, as the IG says, ignored. */
  async statusOfOne(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    readOperationInput(STATUS_OPERATION, request);
    const plan = planOf(this.services.directory, context, await visibleSubscription(context, request.params.id));
    return [allOk, await statusBundle(context, [plan])];
  }

  /** Type level: the caller's Subscriptions, narrowed by `id` and `status` parameters (values OR-ed). */
  async statusOfMany(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const parameters = readOperationInput(STATUS_OPERATION, request);
    const query: Record<string, string> = {};
    for (const [parameter, searchParameter] of [['id', '_id'], ['status', 'status']]) {
      const values = parameters.values<string>(parameter);
      if (values.length > 0) query[searchParameter] = values.join(',');
    }
    const caller = callerOf(context.principal);
    if (caller.kind === 'organization') query._tag = `${SUBSCRIPTION_OWNER_SYSTEM}|${ownerTag(caller).code}`;
    const plans = await this.services.directory.search(context.store, context.scope.tenant, query);
    return [allOk, await statusBundle(context, plans)];
  }

  /** Replays stored events by number (`eventsSinceNumber`..`eventsUntilNumber`), in the content level asked for. */
  async events(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const plan = planOf(this.services.directory, context, await visibleSubscription(context, request.params.id));
    const parameters = readOperationInput(EVENTS_OPERATION, request);
    const content = (parameters.value<string>('content') ?? plan.content) as ContentLevel;
    if (!CONTENT_LEVELS.includes(content)) throw new OperationOutcomeError(badRequest(`content must be one of ${CONTENT_LEVELS.join(', ')}`, 'content'));
    const head = await context.store.streams.head(context.scope.tenant, streamOf(plan.id));
    const events = await eventRange(context, plan, parameters, head);
    const entries = content === 'full-resource' ? await this.focusEntries(context, events.map((event) => event.event)) : [];
    const status = subscriptionStatus({
      subscription: `${context.baseUrl}/Subscription/${plan.id}`,
      ...(content !== 'empty' && plan.trigger.kind === 'topic' ? { topic: plan.trigger.topic.url } : {}),
      status: plan.status,
      type: 'query-event',
      eventsSinceSubscriptionStart: head,
      events: events.map(({ number, event }) => ({ number, timestamp: event.timestamp, ...(content === 'empty' ? {} : { focus: this.services.content.url(event.focus) }) })),
      ...(plan.error ? { error: plan.error } : {}),
    });
    return [allOk, notificationBundle(status, `Subscription/${plan.id}`, entries, new Date(this.services.clock()).toISOString())];
  }

  /** Queues the given events for delivery again (after the subscriber lost them), in order, behind what is queued. */
  async resend(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const plan = planOf(this.services.directory, context, await visibleSubscription(context, request.params.id));
    if (plan.status !== 'active') throw new OperationOutcomeError(conflict(`Subscription/${plan.id} is ${plan.status}; resend needs it active (update it to requested first)`));
    const { tenant } = context.scope;
    const head = await context.store.streams.head(tenant, streamOf(plan.id));
    const events = await eventRange(context, plan, readOperationInput(RESEND_OPERATION, request), head);
    await context.store.outbox.enqueueAll(
      events.map(({ number, event }) => {
        const payload: NotifyPayload = { subscription: plan.id, number, event };
        return { tenant, kind: OUTBOX_KINDS.notify, destination: plan.endpoint, payload, orderingKey: orderingKeyOf(plan.id) };
      }),
    );
    const text = events.length === 0 ? 'No events in that range' : `Queued events ${events[0].number} to ${events[events.length - 1].number} again`;
    return [outcome('ok', [issue('information', 'informational', text)])];
  }

  /** The focus of each event, once per version, as it may leave (availability is released through the egress policy). */
  private async focusEntries(context: RestContext, events: SubscriptionEvent[]): Promise<BundleEntry[]> {
    const { tenant } = context.scope;
    const entries: BundleEntry[] = [];
    const seen = new Set<string>();
    for (const { focus } of events) {
      const key = `${focus.fhirVersion}|${focus.resourceType}/${focus.id}/${focus.versionId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const resource = await this.services.content.resource(context.store, tenant, focus);
      if (!resource) continue;
      // The HTTP layer serialises the answer in the caller's format: what is recorded is the payload as JSON.
      const sent = { destination: requesterOf(context.principal), at: new Date(this.services.clock()), body: JSON.stringify(resource) };
      await this.services.content.recordRelease(context.store.audit, tenant, focus, sent);
      entries.push(focusEntry(this.services.content.url(focus), resource));
    }
    return entries;
  }
}

async function eventRange(context: RestContext, plan: SubscriptionPlan, parameters: OperationParameters, head: number) {
  const since = positiveInteger(parameters, 'eventsSinceNumber') ?? 1;
  const until = Math.min(positiveInteger(parameters, 'eventsUntilNumber') ?? head, since + MAX_EVENTS_PER_CALL - 1);
  if (until < since) return [];
  const events = await context.store.streams.read(context.scope.tenant, streamOf(plan.id), { from: since, to: until, limit: MAX_EVENTS_PER_CALL });
  return events.map(({ number, payload }) => ({ number, event: payload as SubscriptionEvent }));
}

/** The IG types event numbers as `string` (R4 has no integer64); here they are positive whole numbers. */
function positiveInteger(parameters: OperationParameters, name: string): number | undefined {
  const value = parameters.value<string>(name);
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new OperationOutcomeError(badRequest(`${name} must be one positive whole number`, name));
  return Number(value);
}

async function statusBundle(context: RestContext, plans: SubscriptionPlan[]): Promise<Resource> {
  const entry: BundleEntry[] = [];
  for (const plan of plans) {
    const status = subscriptionStatus({
      subscription: `${context.baseUrl}/Subscription/${plan.id}`,
      ...(plan.trigger.kind === 'topic' ? { topic: plan.trigger.topic.url } : {}),
      status: plan.status,
      type: 'query-status',
      eventsSinceSubscriptionStart: await context.store.streams.head(context.scope.tenant, streamOf(plan.id)),
      ...(plan.error ? { error: plan.error } : {}),
    });
    entry.push({ fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' } });
  }
  return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
}

const requesterOf = (principal: Principal) => (principal.kind === 'ehr' ? `ehr ${principal.requester}` : `organization ${principal.requester}`);

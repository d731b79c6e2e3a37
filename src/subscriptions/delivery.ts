import type { TokenClient } from '../auth/client.js';
import { stringAt } from '../vocabulary/json.js';
import type { SigningKey } from '../auth/jwk.js';
import { CAPACITY_SUBSCRIBER } from '../auth/purposes.js';
import type { BundleEntry } from '../fhir/bundle.js';
import type { OperationOutcomeIssue } from '../fhir/outcome.js';
import { CONTENT_TYPES, serialize } from '../http/format.js';
import { nextAttempt, type BackoffPolicy } from '../outbox/backoff.js';
import { PermanentFailure, type OutboxHandler } from '../outbox/dispatcher.js';
import type { AuditTrail, OutboxMessage, Store } from '../store/repository.js';
import { OUTBOX_KINDS, SIGNATURE_HEADER } from './canonical.js';
import type { FocusContent } from './content.js';
import type { SubscriptionDirectory } from './directory.js';
import type { EndpointPolicy } from './endpoints.js';
import { streamOf, type NotifyPayload } from './events.js';
import { focusEntry, notificationBundle, subscriptionStatus, type FocusRef, type NotificationType } from './notifications.js';
import { signNotification } from './signature.js';
import { changeStatus } from './status.js';
import type { SubscriptionPlan } from './subscription.js';
import { DeliveryError, type Transport } from './transport.js';

/**
 * The outbox handlers of the subscription dispatcher: handshake, event notification, heartbeat. Each request is
 * built for the subscription as it stands, checked against the channel policy (endpoint and headers, as on a write),
 * authenticated (its `channel.header`, or a Nuts-style token for a remote subscriber), signed and sent. A failure is
 * retried with backoff; a refused channel, a 4xx answer, or a failure past the retry horizon turns the subscription
 * to `error` and dead-letters the notification, whose event stays available through `$events`.
 */
export interface DeliveryContext {
  store: Store;
  /** Where deliveries record the bytes of availability they send (capacity's egress merges a round's into one record). */
  egressTrail: Pick<AuditTrail, 'append'>;
  directory: SubscriptionDirectory;
  content: FocusContent;
  policy: EndpointPolicy;
  transport: Transport;
  /** The hosted organisation's newest signing key. */
  signingKey(tenant: string): SigningKey | undefined;
  tokens: Pick<TokenClient, 'headers'>;
  publicBaseUrl: string;
  timeoutMs: number;
  backoff: BackoffPolicy;
  clock: () => number;
  /** When each subscription (`tenant|id`) last had a notification delivered: heartbeats are due from there. */
  lastDelivered: Map<string, number>;
}

interface Request {
  method: 'POST' | 'PUT';
  url: string;
  body?: string;
  contentType?: string;
  /** The focus whose payload the body carries, if it carries one. */
  carries?: FocusRef;
}

export function deliveryHandlers(context: DeliveryContext): Record<string, OutboxHandler> {
  return {
    [OUTBOX_KINDS.handshake]: (message) => handshake(context, message),
    [OUTBOX_KINDS.notify]: (message) => notify(context, message),
    [OUTBOX_KINDS.heartbeat]: (message) => heartbeat(context, message),
  };
}

/** The Subscription a handshake or heartbeat is for: this gateway wrote the payload; another shape is dead-lettered. */
function subscriptionOf(message: OutboxMessage): string {
  const subscription = stringAt(message.payload, 'subscription');
  if (subscription === undefined) throw new PermanentFailure(`outbox message ${message.id} names no Subscription`);
  return subscription;
}

/** The first notification: its success activates the subscription, any failure puts it in error. */
async function handshake(context: DeliveryContext, message: OutboxMessage): Promise<void> {
  const { store, directory } = context;
  const id = subscriptionOf(message);
  const plan = await directory.currentPlan(store, message.tenant, id);
  if (plan?.status !== 'requested') return;
  const since = await store.streams.head(message.tenant, streamOf(id));
  try {
    await send(context, message.tenant, plan, statusRequest(context, plan, 'handshake', since));
  } catch (error) {
    const reason = `handshake failed: ${(error as Error).message}`;
    await changeStatus(store, directory, message.tenant, id, { from: ['requested'], to: 'error', error: reason });
    throw new PermanentFailure(reason);
  }
  await changeStatus(store, directory, message.tenant, id, { from: ['requested'], to: 'active' });
}

async function notify(context: DeliveryContext, message: OutboxMessage): Promise<void> {
  const { subscription: id, number, event } = message.payload as NotifyPayload;
  const plan = await context.directory.currentPlan(context.store, message.tenant, id);
  if (!plan || plan.status === 'off') return;
  if (plan.status === 'error') throw new PermanentFailure(`Subscription/${id} is in error; event ${number} stays available through $events`);
  const request =
    plan.trigger.kind === 'topic'
      ? await eventRequest(context, message.tenant, plan, number, event)
      : await criteriaRequest(context, message.tenant, plan, event);
  try {
    await send(context, message.tenant, plan, request);
  } catch (error) {
    if (!givesUp(context, message, error)) throw error;
    const reason = `event ${number} not delivered: ${(error as Error).message}`;
    await changeStatus(context.store, context.directory, message.tenant, id, { from: ['requested', 'active'], to: 'error', error: reason });
    throw new PermanentFailure(reason);
  }
}

/** Best effort: a heartbeat that fails is dead-lettered, not retried (the next one is due a period later). */
async function heartbeat(context: DeliveryContext, message: OutboxMessage): Promise<void> {
  const id = subscriptionOf(message);
  const plan = await context.directory.currentPlan(context.store, message.tenant, id);
  if (plan?.status !== 'active') return;
  const since = await context.store.streams.head(message.tenant, streamOf(id));
  try {
    await send(context, message.tenant, plan, statusRequest(context, plan, 'heartbeat', since));
  } catch (error) {
    throw new PermanentFailure(`heartbeat not delivered: ${(error as Error).message}`);
  }
}

/** A 4xx (other than a timeout or throttling) will not get better; neither will anything past the horizon. */
function givesUp(context: DeliveryContext, message: OutboxMessage, error: unknown): boolean {
  const status = error instanceof DeliveryError ? error.status : undefined;
  if (status !== undefined && status >= 400 && status < 500 && ![408, 425, 429].includes(status)) return true;
  return nextAttempt(context.backoff, message.createdAt, message.attempts, context.clock()) === undefined;
}

function subscriptionUrl(context: DeliveryContext, plan: SubscriptionPlan): string {
  return `${context.publicBaseUrl}/fhir/Subscription/${plan.id}`;
}

function statusRequest(context: DeliveryContext, plan: SubscriptionPlan, type: NotificationType, eventsSinceStart: number): Request {
  return bundleRequest(context, plan, type, eventsSinceStart, undefined, []);
}

async function eventRequest(context: DeliveryContext, tenant: string, plan: SubscriptionPlan, number: number, event: NotifyPayload['event']): Promise<Request> {
  const focusUrl = context.content.url(event.focus);
  const resource = plan.content === 'full-resource' ? await context.content.resource(context.store, tenant, event.focus) : undefined;
  const entries = resource ? [focusEntry(focusUrl, resource)] : [];
  const notification = { number, timestamp: event.timestamp, ...(plan.content === 'empty' ? {} : { focus: focusUrl }) };
  const request = bundleRequest(context, plan, 'event-notification', number, notification, entries);
  return resource ? { ...request, carries: event.focus } : request;
}

function bundleRequest(
  context: DeliveryContext,
  plan: SubscriptionPlan,
  type: NotificationType,
  eventsSinceStart: number,
  event: { number: number; timestamp: string; focus?: string } | undefined,
  entries: BundleEntry[],
): Request {
  const format = plan.format ?? 'json';
  const status = subscriptionStatus({
    subscription: subscriptionUrl(context, plan),
    ...(plan.content !== 'empty' && plan.trigger.kind === 'topic' ? { topic: plan.trigger.topic.url } : {}),
    status: plan.status,
    type,
    eventsSinceSubscriptionStart: eventsSinceStart,
    ...(event ? { events: [event] } : {}),
  });
  const bundle = notificationBundle(status, `Subscription/${plan.id}`, entries, new Date(context.clock()).toISOString());
  return { method: 'POST', url: plan.endpoint, body: serialize(bundle, format, 'r4', false), contentType: CONTENT_TYPES[format] };
}

/** Classic R4 rest-hook: no payload, an empty POST to the endpoint; with one, the resource PUT to `[endpoint]/[type]/[id]`. */
async function criteriaRequest(context: DeliveryContext, tenant: string, plan: SubscriptionPlan, event: NotifyPayload['event']): Promise<Request> {
  if (!plan.format) return { method: 'POST', url: plan.endpoint };
  const resource = await context.content.resource(context.store, tenant, event.focus);
  if (!resource) throw new PermanentFailure(`${event.focus.resourceType}/${event.focus.id} has nothing that may leave in a payload`);
  const url = `${plan.endpoint.replace(/\/$/, '')}/${event.focus.resourceType}/${event.focus.id}`;
  return { method: 'PUT', url, body: serialize(resource, plan.format, 'r4', false), contentType: CONTENT_TYPES[plan.format], carries: event.focus };
}

async function send(context: DeliveryContext, tenant: string, plan: SubscriptionPlan, request: Request): Promise<void> {
  const decision = context.policy.decideChannel(request.url, plan.headers, plan.owner);
  if ('problems' in decision) return refuseChannel(context, tenant, plan, decision.problems);
  const signingKey = context.signingKey(tenant);
  if (!signingKey) throw new PermanentFailure(`'${tenant}' is not hosted here`);
  const headers: Record<string, string> = Object.fromEntries(plan.headers.map(([name, value]) => [name.toLowerCase(), value]));
  if (request.contentType) headers['content-type'] = request.contentType;
  if (plan.owner.kind === 'organization') {
    const call = { remote: plan.owner.id, purposeOfUse: CAPACITY_SUBSCRIBER, requester: tenant };
    Object.assign(headers, await context.tokens.headers(call, { method: request.method, url: new URL(request.url) }));
  }
  headers[SIGNATURE_HEADER] = await signNotification(request.body ?? '', request.url, signingKey, context.clock);
  if (request.carries) {
    await context.content.recordRelease(context.egressTrail, tenant, request.carries, { destination: request.url, at: new Date(context.clock()), body: request.body ?? '' });
  }
  await context.transport.send({
    url: new URL(request.url),
    method: request.method,
    headers,
    body: request.body,
    timeoutMs: Math.min(context.timeoutMs, plan.timeoutMs ?? Infinity),
    privateAllowed: decision.privateAllowed,
  });
  context.lastDelivered.set(`${tenant}|${plan.id}`, context.clock());
}

/**
 * A channel the rules refuse (one stored before they were tightened) is not sent to: nothing leaves, the subscription
 * turns error with the reason, and the notification is dead-lettered (its event stays available through `$events`).
 */
async function refuseChannel(context: DeliveryContext, tenant: string, plan: SubscriptionPlan, problems: OperationOutcomeIssue[]): Promise<never> {
  const reason = `channel refused: ${problems.map((problem) => problem.details?.text).join('; ')}`;
  await changeStatus(context.store, context.directory, tenant, plan.id, { from: ['requested', 'active'], to: 'error', error: reason });
  throw new PermanentFailure(reason);
}

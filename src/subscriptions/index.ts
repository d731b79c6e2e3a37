import type { TokenClient } from '../auth/client.js';
import type { TrustRegistry } from '../auth/trust.js';
import type { BoardChange } from '../capacity/coordination/service.js';
import type { Capability } from '../rest/capability-contract.js';
import type { GatewayConfig } from '../config/config.js';
import { forbidden, isOperationOutcomeError, OperationOutcomeError } from '../fhir/outcome.js';
import type { WriteInterceptor, ServedProjection } from '../rest/types.js';
import type { Resource } from '../fhir/version.js';
import type { Logger } from '../logging/logger.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../outbox/backoff.js';
import { createDispatcher, type Dispatcher } from '../outbox/dispatcher.js';
import type { Store, UnitOfWork } from '../store/repository.js';
import type { TaskStatusListener } from '../transfer/events.js';
import { FocusContent, type AvailabilityEgress } from './content.js';
import { deliveryHandlers } from './delivery.js';
import { scopeOf, SubscriptionDirectory } from './directory.js';
import { EndpointPolicy } from './endpoints.js';
import { EventRecorder } from './events.js';
import { Heartbeats } from './heartbeat.js';
import { subscriptionRoutes } from './routes.js';
import { subscriptionTopics, type SubscriptionTopic } from './topics.js';
import { Transport } from './transport.js';
import { capacityChanged, taskStatusChanged } from './triggers.js';
import { readOptional } from '../store/optional.js';

/**
 * Subscriptions (R4 Subscriptions Backport IG, and classic R4 criteria): the Subscription routes of the R4 base, the
 * hooks that turn capacity and transfer changes into events (called inside the change's transaction), and
 * dispatchers of their own (started and stopped with the capability) that deliver them from the durable outbox, so
 * slow subscribers never hold up eOverdracht notifications. `main.ts` passes the hooks to capacity and transfer and
 * gives it capacity's availability egress.
 */
export interface SubscriptionsOptions {
  config: GatewayConfig;
  store: Store;
  registry: Pick<TrustRegistry, 'hosted' | 'trusted'>;
  /** Tokens for notifications to remote subscribers (auth's client). */
  tokens: Pick<TokenClient, 'headers'>;
  logger: Logger;
  /** How availability leaves in notifications: capacity's egress (allowlist and record). */
  availability: AvailabilityEgress;
  clock?: () => number;
}

export interface Subscriptions extends Capability {
  /** Capacity's `onBoardChange`: the capacity-changed topic and classic MeasureReport criteria. */
  onCapacityChange(change: BoardChange, tx: UnitOfWork): Promise<void>;
  /** Transfer's `onTaskStatusChange`: the task-status-changed topic. */
  onTaskStatusChange: TaskStatusListener;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULTS = { deliveryTimeoutMs: 10_000, maxConcurrentPerEndpoint: 16, retryBaseMs: DEFAULT_BACKOFF.baseMs, retryHorizonMs: DEFAULT_BACKOFF.horizonMs };
/** How long a delivery may rely on a cached copy of its Subscription (a change on another instance shows after this). */
const PLAN_TTL_MS = 2000;
/**
 * Two dispatchers (workers) claim from the outbox side by side: while one round waits for its slowest delivery or
 * claims anew, the other's deliveries go on. Claims are atomic, and the outbox hands out a subscription's next
 * notification only once the previous one is finished, so the order per subscription holds.
 */
const WORKERS = 2;
const BATCH_SIZE = 500;
const POLL_MS = 500;
/** How often due heartbeats are looked for. */
const HEARTBEAT_TICK_MS = 2000;

export function createSubscriptions(options: SubscriptionsOptions): Subscriptions {
  const { config, store, logger } = options;
  const clock = options.clock ?? Date.now;
  const settings = { ...DEFAULTS, ...config.subscriptions };
  const backoff: BackoffPolicy = { baseMs: settings.retryBaseMs, maxMs: DEFAULT_BACKOFF.maxMs, horizonMs: settings.retryHorizonMs };
  const topics = subscriptionTopics();
  const directory = new SubscriptionDirectory(topics, config.limits, PLAN_TTL_MS, clock);
  const policy = new EndpointPolicy({ mode: config.mode, allowedEndpoints: settings.allowedEndpoints ?? [], trusted: (id) => options.registry.trusted(id), ownPort: config.port });
  const content = new FocusContent(config.publicBaseUrl, options.availability);
  const transport = new Transport(settings.maxConcurrentPerEndpoint);
  const recorder = new EventRecorder(directory, clock);
  const lastDelivered = new Map<string, number>();
  const tenants = config.organizations.map((organization) => organization.id);
  const onError = (error: unknown) => logger.error({ err: error }, 'subscription delivery error');

  const handlers = deliveryHandlers({
    store,
    egressTrail: store.audit,
    directory,
    content,
    policy,
    transport,
    signingKey: (tenant) => options.registry.hosted(tenant)?.signing,
    tokens: options.tokens,
    publicBaseUrl: config.publicBaseUrl,
    timeoutMs: settings.deliveryTimeoutMs,
    backoff,
    clock,
    lastDelivered,
  });
  const dispatchers: Dispatcher[] = Array.from({ length: WORKERS }, () =>
    createDispatcher({
      outbox: store.outbox,
      changes: store.changes,
      handlers,
      backoff,
      batchSize: BATCH_SIZE,
      // A claim must outlive the slowest attempt, including its wait for a free slot at a busy endpoint.
      leaseMs: 4 * settings.deliveryTimeoutMs,
      pollMs: POLL_MS,
      onError: (error, message) => logger.warn({ err: error, outboxMessage: message?.id }, 'subscription dispatcher error'),
    }),
  );
  const heartbeats = new Heartbeats({ store, directory, tenants, lastDelivered, tickMs: HEARTBEAT_TICK_MS, clock, onError });

  return {
    name: 'subscriptions',
    fhirRoutes: (version) => (version === 'r4' ? subscriptionRoutes({ topics, limits: config.limits, directory, policy, content, clock }) : []),
    writeInterceptors: { Basic: refuseTopicWrites(topics) },
    servedProjection: topicsOnly(topics),
    async onCapacityChange(change, tx) {
      await recorder.record(tx, capacityChanged(change, new Date(clock())));
    },
    async onTaskStatusChange(change, tx) {
      await recorder.record(tx, taskStatusChanged(change, new Date(clock())));
    },
    async start() {
      await publishTopics(store, tenants, [...topics.values()].map((topic) => topic.resource));
      // Events queued by any instance (and by this one's hooks, once their transaction commits) start a round here.
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.start()));
      heartbeats.start();
    },
    async stop() {
      await heartbeats.stop();
      await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()));
      transport.close();
    },
  };
}

/**
 * The published topics are the gateway's (conformance/, written into every tenant at start): a REST write of one of
 * their ids is refused (403), by id alone, with nothing read; every other Basic is the EHR's own.
 */
function refuseTopicWrites(topics: ReadonlyMap<string, SubscriptionTopic>): WriteInterceptor {
  const ids = new Set([...topics.values()].map((topic) => topic.resource.id));
  return async (request, context, next) => {
    const { id } = request.params;
    if (id !== undefined && ids.has(id)) {
      throw new OperationOutcomeError(forbidden(`Basic/${id} is a SubscriptionTopic this gateway publishes (conformance/): it cannot be written over the REST API`));
    }
    return next(request, context);
  };
}

/**
 * Other organisations read the published SubscriptionTopics (`Basic?code=SubscriptionTopic`, so a hub discovers what
 * it can subscribe to); any other Basic resource a tenant's EHR keeps is withheld from them.
 */
function topicsOnly(topics: ReadonlyMap<string, SubscriptionTopic>): ServedProjection {
  const ids = new Set([...topics.values()].map((topic) => topic.resource.id));
  return {
    concerns: (principal) => principal.kind === 'organization',
    project: (resource) => (resource.resourceType !== 'Basic' || ids.has(resource.id) ? resource : undefined),
  };
}

/** The topics as Basic resources in each tenant's R4 scope, so `GET [base]/Basic?code=SubscriptionTopic` lists them. */
async function publishTopics(store: Store, tenants: string[], topics: Resource[]): Promise<void> {
  for (const tenant of tenants) {
    for (const topic of topics) {
      const stored = await readOptional(store.resources, scopeOf(tenant), 'Basic', String(topic.id));
      const { meta: _meta, ...current } = stored ?? {};
      if (JSON.stringify(current) === JSON.stringify(topic)) continue;
      await store.resources.update(scopeOf(tenant), topic).catch((error: unknown) => {
        // Another instance on the same database, starting at the same moment, wrote the same topic first.
        if (!isOperationOutcomeError(error, 'conflict')) throw error;
      });
    }
  }
}

export { SIGNATURE_HEADER, CAPACITY_CHANGED_TOPIC, TASK_STATUS_CHANGED_TOPIC } from './canonical.js';
export { verifyNotification } from './signature.js';

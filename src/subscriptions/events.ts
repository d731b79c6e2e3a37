import { parseSearchRequest } from '../fhir/search/parse.js';
import type { UnitOfWork } from '../store/repository.js';
import { OUTBOX_KINDS } from './canonical.js';
import { scopeOf, type SubscriptionDirectory } from './directory.js';
import { matchesFilters, type FilterValues } from './filters.js';
import type { SubscriptionEvent } from './notifications.js';
import { CLASSIC_TYPES, type SubscriptionPlan } from './subscription.js';

/**
 * Turns something that happened into subscription events, inside the transaction of the change itself: every
 * subscription of the tenant that matches (its topic and filters, or its classic criteria, evaluated by the store's
 * own search on the stored focus) gets the event appended to its stream, numbered, and, unless the subscription is
 * in error, a notification queued in the outbox under the subscription's ordering key. A change that rolls back
 * leaves neither. Subscriptions in error keep counting events, so `$events` recovers them without a gap.
 */
export interface Occurrence {
  tenant: string;
  topic: string;
  event: SubscriptionEvent;
  filterValues: FilterValues;
}

/** The notification an outbox message carries. */
export interface NotifyPayload {
  subscription: string;
  number: number;
  event: SubscriptionEvent;
}

export const streamOf = (subscription: string) => `Subscription/${subscription}`;
export const orderingKeyOf = streamOf;

const MATCHING_STATUSES = 'requested,active,error';

export class EventRecorder {
  constructor(
    private readonly directory: SubscriptionDirectory,
    private readonly clock: () => number,
  ) {}

  /**
   * Records the occurrence for every matching subscription; returns how many matched. All of it is one transaction:
   * the change's own when `store` is its unit of work, else a transaction of its own.
   */
  record(store: UnitOfWork, occurrence: Occurrence): Promise<number> {
    return store.transaction(async (tx) => {
      const matched = [...(await this.topicSubscribers(tx, occurrence)), ...(await this.criteriaSubscribers(tx, occurrence))];
      const { tenant, event } = occurrence;
      const numbers = await tx.streams.appendEach(tenant, matched.map((plan) => ({ stream: streamOf(plan.id), payload: event })));
      const notifications = matched.flatMap((plan, i) => {
        if (plan.status === 'error') return [];
        const payload: NotifyPayload = { subscription: plan.id, number: numbers[i], event };
        return [{ tenant, kind: OUTBOX_KINDS.notify, destination: plan.endpoint, payload, orderingKey: orderingKeyOf(plan.id) }];
      });
      await tx.outbox.enqueueAll(notifications);
      return matched.length;
    });
  }

  private async topicSubscribers(store: UnitOfWork, { tenant, topic, filterValues }: Occurrence): Promise<SubscriptionPlan[]> {
    const plans = await this.directory.search(store, tenant, { 'criteria:exact': topic, status: MATCHING_STATUSES });
    return plans.filter((plan) => this.live(plan) && plan.trigger.kind === 'topic' && matchesFilters(plan.trigger.filters, filterValues));
  }

  /** Classic criteria on the focus's type, grouped by criteria: one search per distinct criteria, on the focus alone. */
  private async criteriaSubscribers(store: UnitOfWork, { tenant, event }: Occurrence): Promise<SubscriptionPlan[]> {
    const { focus } = event;
    if (focus.fhirVersion !== 'r4' || !CLASSIC_TYPES.includes(focus.resourceType)) return [];
    const plans = (await this.directory.search(store, tenant, { criteria: focus.resourceType, status: MATCHING_STATUSES })).filter(
      (plan) => this.live(plan) && plan.trigger.kind === 'criteria' && plan.trigger.resourceType === focus.resourceType,
    );
    const byCriteria = new Map<string, SubscriptionPlan[]>();
    for (const plan of plans) {
      const criteria = plan.trigger.kind === 'criteria' ? plan.trigger.criteria : '';
      byCriteria.set(criteria, [...(byCriteria.get(criteria) ?? []), plan]);
    }
    const matched: SubscriptionPlan[] = [];
    for (const [criteria, group] of byCriteria) {
      const query = new URLSearchParams(criteria.includes('?') ? criteria.slice(criteria.indexOf('?') + 1) : '');
      query.append('_id', focus.id);
      const request = parseSearchRequest('r4', focus.resourceType, query);
      const found = await store.resources.search(scopeOf(tenant), { ...request, count: 1 });
      if (found.resources.length > 0) matched.push(...group);
    }
    return matched;
  }

  private live(plan: SubscriptionPlan): boolean {
    return plan.end === undefined || plan.end > this.clock();
  }
}

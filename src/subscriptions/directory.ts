import { parseSearchRequest, MAX_COUNT, type SearchLimits } from '../fhir/search/parse.js';
import type { Resource } from '../fhir/version.js';
import type { Scope, UnitOfWork } from '../store/repository.js';
import { readSubscription, type SubscriptionPlan } from './subscription.js';
import type { SubscriptionTopic } from './topics.js';
import { readOptional } from '../store/optional.js';

/**
 * The tenants' Subscriptions as plans. Matching searches the store (so a subscription made on another instance is
 * matched at once); plans are parsed once per version. Delivery asks for `current` plans, re-read at most every
 * `ttlMs` (writes on this instance refresh them at once), so a subscription switched off elsewhere stops within that.
 */
const PLAN_CACHE_LIMIT = 20_000;

export class SubscriptionDirectory {
  private readonly plans = new Map<string, SubscriptionPlan | undefined>();
  private readonly current = new Map<string, { plan?: SubscriptionPlan; readAt: number }>();

  constructor(
    private readonly topics: ReadonlyMap<string, SubscriptionTopic>,
    private readonly limits: SearchLimits,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  /** The plan of a stored Subscription; undefined when it cannot be read as one (e.g. its topic is gone). */
  plan(tenant: string, resource: Resource): SubscriptionPlan | undefined {
    const key = `${tenant}|${resource.id}|${resource.meta?.versionId}`;
    if (this.plans.has(key)) return this.plans.get(key);
    const plan = readSubscription(resource, this.topics, this.limits);
    if (this.plans.size >= PLAN_CACHE_LIMIT) this.plans.clear();
    this.plans.set(key, Array.isArray(plan) ? undefined : plan);
    return this.plans.get(key);
  }

  /** The subscription as it stands (undefined when deleted or unreadable). */
  async currentPlan(store: UnitOfWork, tenant: string, id: string): Promise<SubscriptionPlan | undefined> {
    const key = `${tenant}|${id}`;
    const cached = this.current.get(key);
    if (cached && this.clock() - cached.readAt < this.ttlMs) return cached.plan;
    const resource = await readOptional(store.resources, scopeOf(tenant), 'Subscription', id);
    return this.remember(tenant, id, resource);
  }

  /** After a write on this instance: delivery sees the new version at once. */
  remember(tenant: string, id: string, resource: Resource | undefined): SubscriptionPlan | undefined {
    const plan = resource && this.plan(tenant, resource);
    this.current.set(`${tenant}|${id}`, { plan, readAt: this.clock() });
    return plan;
  }

  /** Every Subscription of the tenant the search query finds, as plans. */
  async search(store: UnitOfWork, tenant: string, query: Record<string, string>): Promise<SubscriptionPlan[]> {
    const request = parseSearchRequest('r4', 'Subscription', { ...query, _count: String(MAX_COUNT) });
    const plans: SubscriptionPlan[] = [];
    for (let offset = 0; ; offset += MAX_COUNT) {
      const page = await store.resources.search(scopeOf(tenant), { ...request, offset });
      for (const resource of page.resources) {
        const plan = this.plan(tenant, resource);
        if (plan) plans.push(plan);
      }
      if (!page.hasMore) return plans;
    }
  }
}

export const scopeOf = (tenant: string): Scope => ({ tenant, version: 'r4' });

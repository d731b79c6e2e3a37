import type { Store } from '../store/repository.js';
import { OUTBOX_KINDS } from './canonical.js';
import type { SubscriptionDirectory } from './directory.js';
import { orderingKeyOf } from './events.js';

/**
 * Heartbeats (`backport-heartbeat-period`): every tick, each active subscription that has had no notification
 * delivered, and no heartbeat queued, for its period gets a heartbeat queued behind whatever it is waiting for.
 * Several instances on one database each send theirs: a subscriber may see more than one per period.
 */
export interface HeartbeatOptions {
  store: Store;
  directory: SubscriptionDirectory;
  tenants: string[];
  /** Shared with delivery: when each subscription (`tenant|id`) last had a notification delivered. */
  lastDelivered: ReadonlyMap<string, number>;
  tickMs: number;
  clock: () => number;
  onError(error: unknown): void;
}

export class Heartbeats {
  private readonly lastQueued = new Map<string, number>();
  private readonly startedAt: number;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(private readonly options: HeartbeatOptions) {
    this.startedAt = options.clock();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .then(() => undefined, (error: unknown) => this.options.onError(error))
        .finally(() => (this.running = undefined));
    }, this.options.tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Queues the heartbeats that are due; returns how many. */
  async tick(): Promise<number> {
    const { store, directory, clock } = this.options;
    const now = clock();
    let queued = 0;
    for (const tenant of this.options.tenants) {
      for (const plan of await directory.search(store, tenant, { status: 'active' })) {
        if (!plan.heartbeatSeconds || (plan.end !== undefined && plan.end <= now)) continue;
        const key = `${tenant}|${plan.id}`;
        const last = Math.max(this.options.lastDelivered.get(key) ?? this.startedAt, this.lastQueued.get(key) ?? 0);
        if (now - last < plan.heartbeatSeconds * 1000) continue;
        await store.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.heartbeat, destination: plan.endpoint, payload: { subscription: plan.id }, orderingKey: orderingKeyOf(plan.id) });
        this.lastQueued.set(key, now);
        queued += 1;
      }
    }
    return queued;
  }
}

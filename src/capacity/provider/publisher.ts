import cron, { type ScheduledTask } from 'node-cron';
import type { OutboundCall } from '../../auth/client.js';
import { RemoteFailure, type RemoteEndpoint } from '../../fhir/client/remote.js';
import type { Resource } from '../../fhir/version.js';
import { PermanentFailure, type OutboxHandler } from '../../outbox/dispatcher.js';
import type { OutboxMessage, Store, UnitOfWork } from '../../store/repository.js';
import { releaseAvailability } from '../egress/release.js';
import { objects, stringAt } from '../../vocabulary/json.js';
import type { FindCoordinationPoint } from './coordination-point.js';
import type { ProviderCapacity } from './service.js';

/** Outbox kind of a publication to the coordination point; one pending message per tenant at a time. */
export const PUBLISH_KIND = 'capacity.publish';
export const PUBLICATION_PURPOSE = 'capacity-publication';

export interface PublisherOptions {
  store: Store;
  provider: ProviderCapacity;
  /** Outbound calls with Nuts-style tokens (auth's client); a publication only posts. */
  client: { remote(url: string, call: OutboundCall): Pick<RemoteEndpoint, 'post'> };
  /** Looked up at each publication: a coordination point found only through the directory is known after a sync. */
  coordinationPoint: FindCoordinationPoint;
  /** Changes within this period go out as one publication (default 250 ms). */
  debounceMs?: number;
  /** node-cron expression of the full snapshot of every tenant (default every 15 minutes). */
  snapshotSchedule?: string;
  clock?: () => number;
}

/**
 * Publication to the coordination point through the outbox: on change (debounced: a change while a publication is
 * pending joins it) and as a snapshot of every tenant on a schedule. The payload is built when the message is
 * delivered, from the tenant's picture at that moment, through `releaseAvailability` (allowlist + record), and
 * POSTed as a MeasureReport with a token for purpose `capacity-publication`.
 */
export class Publisher {
  private readonly debounceMs: number;
  private readonly clock: () => number;
  private snapshots?: ScheduledTask;

  constructor(private readonly options: PublisherOptions) {
    this.debounceMs = options.debounceMs ?? 250;
    this.clock = options.clock ?? Date.now;
  }

  get destination(): string | undefined {
    const base = this.options.coordinationPoint()?.base;
    return base === undefined ? undefined : `${base.replace(/\/$/, '')}/MeasureReport`;
  }

  /** Enqueues a publication in the caller's transaction, unless one for the tenant is still pending. */
  readonly schedule = async (store: UnitOfWork, tenant: string, delayMs = this.debounceMs): Promise<void> => {
    const destination = this.destination;
    if (destination === undefined) return;
    const pending = await store.outbox.list(tenant, { status: 'pending', kind: PUBLISH_KIND, limit: 1 });
    if (pending.length > 0) return;
    await store.outbox.enqueue({
      tenant,
      kind: PUBLISH_KIND,
      destination,
      payload: { tenant },
      orderingKey: `${PUBLISH_KIND}:${tenant}`,
      notBefore: new Date(this.clock() + delayMs).toISOString(),
    });
  };

  /** Delivers one publication: build from the allowlist, record, send. */
  readonly deliver: OutboxHandler = async (message: OutboxMessage) => {
    const now = new Date(this.clock());
    const source = await this.options.provider.source(this.options.store, message.tenant, now);
    if (!source) return;
    const scope = { tenant: message.tenant, version: 'r4' as const };
    const released = await releaseAvailability(this.options.store.audit, scope, { destination: message.destination, source, at: now });
    if ('resourceType' in released) throw new PermanentFailure(issuesText(released));
    const coordinationPoint = this.options.coordinationPoint();
    if (!coordinationPoint) throw new Error('coordination point not known (yet): neither configured nor in the directory');
    const call = { requester: message.tenant, remote: coordinationPoint.organization.id, purposeOfUse: PUBLICATION_PURPOSE };
    await this.options.client.remote(message.destination, call).post(released.body).catch(refusal);
  };

  /** Schedules a snapshot of every tenant in `tenants` on the configured cron expression. */
  startSnapshots(tenants: string[]): void {
    this.snapshots = cron.schedule(this.options.snapshotSchedule ?? '*/15 * * * *', () => this.snapshot(tenants));
  }

  async snapshot(tenants: string[]): Promise<void> {
    for (const tenant of tenants) await this.options.store.transaction((tx) => this.schedule(tx, tenant, 0));
  }

  async stop(): Promise<void> {
    await this.snapshots?.destroy();
  }
}

/** A refusal by the coordination point is permanent, unless it asks to be tried again later (408, 429). */
function refusal(error: unknown): never {
  if (!(error instanceof RemoteFailure)) throw error;
  const answer = `coordination point ${error.message}`;
  if (error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) throw new PermanentFailure(answer, { cause: error });
  throw new Error(answer, { cause: error });
}

function issuesText(outcome: Resource): string {
  return objects(outcome.issue).map((item) => stringAt(item.details, 'text') ?? '').join('; ');
}

import type { Resource } from '../fhir/version.js';
import type { AuditTrail, Store, UnitOfWork } from '../store/repository.js';

/**
 * Group commit for the small writes every token exchange and audited request makes (jti records, AuditEvents):
 * the writes of concurrent requests ride in one store transaction, started on the next turn of the event loop.
 * Each caller's promise settles only after that transaction has committed, so nothing is acknowledged before it
 * is durable; one commit per batch instead of one per write is what keeps the token endpoint fast.
 */
export interface GroupCommit {
  /** Runs `work` inside the next shared transaction; settles after that transaction commits. */
  run<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T>;
  audit: Pick<AuditTrail, 'append'>;
}

interface Pending {
  work: (tx: UnitOfWork) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

async function settle(work: Promise<unknown>): Promise<PromiseSettledResult<unknown>> {
  try {
    return { status: 'fulfilled', value: await work };
  } catch (reason) {
    return { status: 'rejected', reason };
  }
}

export function groupCommit(store: Store): GroupCommit {
  let queue: Pending[] = [];

  async function flush(): Promise<void> {
    const batch = queue;
    queue = [];
    const results: PromiseSettledResult<unknown>[] = [];
    try {
      await store.transaction(async (tx) => {
        for (const pending of batch) results.push(await settle(pending.work(tx)));
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, index) => {
      const result = results[index] as PromiseSettledResult<unknown>;
      if (result.status === 'fulfilled') pending.resolve(result.value);
      else pending.reject(result.reason);
    });
  }

  function enqueue<T>(work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (queue.length === 0) setImmediate(() => void flush());
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  return {
    run: enqueue,
    audit: { append: (tenant: string, event: Resource) => enqueue((tx) => tx.audit.append(tenant, event)) },
  };
}

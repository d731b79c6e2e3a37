import { conflict, OperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { Scope, UnitOfWork } from './repository.js';

const ATTEMPTS = 5;

/**
 * Runs `work` in a transaction that writes what it read with optimistic locking (`writeOver`): when another writer
 * changed it in the meantime, the transaction rolls back and `work` runs again on what is stored now, at most five
 * times in all.
 */
export async function optimisticTransaction<T>(store: UnitOfWork, work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.transaction(work);
    } catch (error) {
      if (!isConcurrentWrite(error) || attempt === ATTEMPTS) throw error;
    }
  }
}

/**
 * Writes `resource` over the version that was read (If-Match `versionId`) or, when none was found, as a new one. The
 * store has no If-None-Match, so a resource another writer created after ours was found missing would simply be
 * replaced: that is made a conflict too.
 */
export async function writeOver<T extends Resource>(store: UnitOfWork, scope: Scope, resource: T, versionId: string | undefined) {
  const written = await store.resources.update(scope, resource, versionId === undefined ? {} : { ifMatch: versionId });
  if (versionId === undefined && !written.created) {
    throw new OperationOutcomeError(conflict(`${resource.resourceType}/${String(resource.id)} was created concurrently; retry`));
  }
  return written;
}

/** 412 (If-Match) or 409 (the same id created twice at once, or `writeOver`). */
function isConcurrentWrite(error: unknown): boolean {
  return error instanceof OperationOutcomeError && ['precondition-failed', 'conflict'].includes(error.outcome.id);
}

/**
 * A write named a version of a bookkeeping record that is no longer current, or created one another writer created
 * first: the decision it rested on is void (409), `optimisticTransaction` runs it again.
 */
export class ConcurrentWrite extends OperationOutcomeError {
  constructor(what: string) {
    super(conflict(`${what} changed meanwhile; read it again and retry`));
  }
}

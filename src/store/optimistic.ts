import { conflict, OperationOutcomeError, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { ResourceRepository, Scope, UnitOfWork } from './repository.js';

const ATTEMPTS = 5;

/**
 * A write named a version that is no longer current (a resource's If-Match, a bookkeeping record's version), or
 * created what another writer created first: the decision it rested on is void. 409, or 412 where the caller's own
 * If-Match failed; `optimisticTransaction` runs the work again.
 */
export class VersionConflict extends OperationOutcomeError {
  static override readonly code = 'ERR_VERSION_CONFLICT';

  constructor(
    /** What changed, e.g. `Task/1`. */
    readonly key: string,
    outcome: OperationOutcome = conflict(`${key} changed meanwhile; read it again and retry`),
  ) {
    super(outcome);
  }
}

/**
 * Runs `work` in a transaction that writes what it read with optimistic locking (`writeOver`, or a bookkeeping
 * record's version): on a VersionConflict the transaction rolls back and `work` runs again on what is stored now, at
 * most five times in all.
 */
export async function optimisticTransaction<T>(store: UnitOfWork, work: (tx: UnitOfWork) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.transaction(work);
    } catch (error) {
      if (!(error instanceof VersionConflict) || attempt === ATTEMPTS) throw error;
    }
  }
}

/**
 * Writes `resource` over the version that was read (`versionId`) or, when it was found missing (undefined), as a new
 * one; a VersionConflict (409) when another writer changed or created it in between. A read does not lock the row
 * on PostgreSQL; the write does, and then compares the version, so a decision resting on the read holds or fails here.
 */
export async function writeOver<T extends Resource>(resources: ResourceRepository, scope: Scope, resource: T, versionId: string | undefined) {
  const key = `${resource.resourceType}/${String(resource.id)}`;
  let written: { resource: T; created: boolean };
  try {
    written = await resources.update(scope, resource, versionId === undefined ? {} : { ifMatch: versionId });
  } catch (error) {
    throw error instanceof VersionConflict ? new VersionConflict(key) : error;
  }
  // The store has no If-None-Match: a resource another writer created after ours was found missing was replaced.
  if (versionId === undefined && !written.created) throw new VersionConflict(key);
  return written;
}

import { convertResource } from '../fhir/convert/index.js';
import { conflict, hasErrors, isOperationOutcomeError, OperationOutcomeError, outcome, preconditionFailed } from '../fhir/outcome.js';
import type { ResourceValidator } from '../rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { readOptional } from '../store/optional.js';
import type { ResourceRepository, Scope } from '../store/repository.js';
import { PROFILES } from './codes.js';

/**
 * Where transfer data lives. eOverdracht is exchanged in STU3; an EHR may read and answer in R4 or STU3, so every
 * Task (and everything a receiver pulls) is kept in both releases under the same id.
 */
export const scopeOf = (tenant: string, version: FhirVersion): Scope => ({ tenant, version });

/**
 * A write found the resource no longer at the version the decision to write it rested on: another request (or
 * another gateway instance on the same database) changed it in between, so the decision is void (409).
 */
export class ChangedMeanwhile extends OperationOutcomeError {
  static override readonly code = 'ERR_CHANGED_MEANWHILE';

  constructor(readonly key: string) {
    super(conflict(`${key} changed meanwhile; read it again and retry`));
  }

  /** As told to a caller that sent If-Match: its precondition no longer holds (412), which it retries on a fresh read. */
  toCaller(ifMatch: string | undefined): OperationOutcomeError {
    return ifMatch === undefined ? this : new OperationOutcomeError(preconditionFailed(`${this.key} changed meanwhile, after version ${ifMatch} was read`));
  }
}

/**
 * Writes the resource if it is still at `versionId`, the version it was read at (undefined: no check, though two
 * creations of one id at once still conflict). A read inside a transaction does not lock the row on PostgreSQL; the
 * write does, and then compares the version, so a decision resting on the read holds or fails here.
 */
export async function writeIfUnchanged(resources: ResourceRepository, scope: Scope, resource: Resource, versionId: string | undefined): Promise<Resource> {
  try {
    return (await resources.update(scope, resource, versionId === undefined ? {} : { ifMatch: versionId })).resource;
  } catch (error) {
    // precondition-failed: the version moved; conflict: another transaction created it at the same moment.
    if (isOperationOutcomeError(error, 'precondition-failed', 'conflict')) {
      throw new ChangedMeanwhile(`${resource.resourceType}/${resource.id}`);
    }
    throw error;
  }
}

/** A resource kept in both releases under one id (a Task, or what a receiver pulled), as read or as written. */
export type BothReleases = Record<FhirVersion, Resource>;

/**
 * Stores an STU3 resource and its R4 conversion under the same id; returns both as stored. With `replacing` (both
 * as read), each is written only if unchanged since (else ChangedMeanwhile).
 */
export async function saveInBothReleases(resources: ResourceRepository, tenant: string, stu3: Resource, replacing?: BothReleases): Promise<BothReleases> {
  const r4 = convertResource(stu3, { from: 'stu3', to: 'r4' });
  return {
    stu3: await writeIfUnchanged(resources, scopeOf(tenant, 'stu3'), stu3, replacing?.stu3.meta?.versionId),
    r4: await writeIfUnchanged(resources, scopeOf(tenant, 'r4'), r4, replacing?.r4.meta?.versionId),
  };
}

/** A Task in both releases, or undefined when it is not stored (in either). */
export async function readTask(resources: ResourceRepository, tenant: string, id: string): Promise<BothReleases | undefined> {
  const stu3 = await readOptional(resources, scopeOf(tenant, 'stu3'), 'Task', id);
  const r4 = stu3 && (await readOptional(resources, scopeOf(tenant, 'r4'), 'Task', id));
  return stu3 && r4 ? { stu3, r4 } : undefined;
}

/**
 * Validates an eOverdracht Task (STU3, against the Task profile when loaded) and stores it in both releases; with
 * `replacing`, the Task as read when the change was decided, only if neither release changed since.
 */
export async function saveTask(
  context: { store: { resources: ResourceRepository }; validators: { stu3: ResourceValidator } },
  tenant: string,
  task: Resource,
  replacing?: BothReleases,
): Promise<BothReleases> {
  const validator = context.validators.stu3;
  const result = validator.validate(task, validator.knowsProfile(PROFILES.task) ? { profiles: [PROFILES.task] } : undefined);
  if (hasErrors(result)) throw new OperationOutcomeError(outcome('unprocessable', result.issue));
  return saveInBothReleases(context.store.resources, tenant, task, replacing);
}

import { convertResource } from '../fhir/convert/index.js';
import { hasErrors, OperationOutcomeError, outcome } from '../fhir/outcome.js';
import type { ResourceValidator } from '../fhir/rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { ResourceRepository, Scope } from '../store/repository.js';
import { PROFILES } from './codes.js';

/**
 * Where transfer data lives. eOverdracht is exchanged in STU3; an EHR may read and answer in R4 or STU3, so every
 * Task (and everything a receiver pulls) is kept in both releases under the same id.
 */
export const scopeOf = (tenant: string, version: FhirVersion): Scope => ({ tenant, version });

const isAbsent = (error: unknown) => error instanceof OperationOutcomeError && ['not-found', 'gone'].includes(error.outcome.id);

export async function readOptional(resources: ResourceRepository, scope: Scope, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await resources.read(scope, type, id);
  } catch (error) {
    if (isAbsent(error)) return undefined;
    throw error;
  }
}

/** Stores an STU3 resource and its R4 conversion under the same id; returns both as stored. */
export async function saveInBothReleases(resources: ResourceRepository, tenant: string, stu3: Resource): Promise<Record<FhirVersion, Resource>> {
  const r4 = convertResource(stu3, { from: 'stu3', to: 'r4' });
  const stored = await resources.update(scopeOf(tenant, 'stu3'), stu3);
  const storedR4 = await resources.update(scopeOf(tenant, 'r4'), r4);
  return { stu3: stored.resource, r4: storedR4.resource };
}

/** Validates an eOverdracht Task (STU3, against the Task profile when loaded) and stores it in both releases. */
export async function saveTask(
  context: { store: { resources: ResourceRepository }; validators: { stu3: ResourceValidator } },
  tenant: string,
  task: Resource,
): Promise<Record<FhirVersion, Resource>> {
  const validator = context.validators.stu3;
  const result = validator.validate(task, validator.knowsProfile(PROFILES.task) ? { profiles: [PROFILES.task] } : undefined);
  if (hasErrors(result)) throw new OperationOutcomeError(outcome('unprocessable', result.issue));
  return saveInBothReleases(context.store.resources, tenant, task);
}

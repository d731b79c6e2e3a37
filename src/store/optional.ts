import { isOperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { ResourceRepository, Scope } from './repository.js';

/** The resource, or undefined when it was never stored (in this scope) or is deleted. */
export async function readOptional(resources: ResourceRepository, scope: Scope, type: string, id: string): Promise<Resource | undefined> {
  try {
    return await resources.read(scope, type, id);
  } catch (error) {
    if (isOperationOutcomeError(error, 'not-found', 'gone')) return undefined;
    throw error;
  }
}

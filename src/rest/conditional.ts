import { preconditionFailed, OperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { queryValues } from './query.js';
import type { QueryValues, RestContext } from './types.js';

/**
 * Conditional create (`If-None-Exist`): the search criteria select at most one existing resource. None: create;
 * one: that resource stands in for the new one; several: 412.
 */
export async function findExisting(criteria: string | undefined, resourceType: string, context: RestContext): Promise<Resource | undefined> {
  if (criteria === undefined || criteria.trim() === '') return undefined;
  const query = criteriaQuery(criteria);
  const search = context.services.parseSearch(context.scope.version, resourceType, query, { limits: context.services.limits });
  const result = await context.store.resources.search(context.scope, { ...search, count: 2, offset: 0, include: [], revinclude: [] });
  if (result.resources.length > 1) {
    throw new OperationOutcomeError(preconditionFailed(`If-None-Exist '${criteria}' matches more than one ${resourceType}`));
  }
  return result.resources[0];
}

/** Criteria come as `identifier=x|y`, `?identifier=...` or `Patient?identifier=...`. */
function criteriaQuery(criteria: string): QueryValues {
  return queryValues(criteria.slice(criteria.indexOf('?') + 1));
}

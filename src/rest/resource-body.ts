import { badRequest, hasErrors, issue, outcome, OperationOutcomeError, type OperationOutcomeIssue, type OutcomeKind } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { FhirRequest, RestContext } from './types.js';

/** The resource a create/update carries; its type must be the type in the URL. */
export function resourceBody(request: FhirRequest): Resource {
  const body = request.body as Partial<Resource> | undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body) || typeof body.resourceType !== 'string') {
    throw new OperationOutcomeError(badRequest('The request body must be a FHIR resource', 'resourceType'));
  }
  if (request.params.type !== undefined && body.resourceType !== request.params.type) {
    throw new OperationOutcomeError(
      badRequest(`The body holds a ${body.resourceType}, the URL names ${request.params.type}`, `${body.resourceType}.resourceType`),
    );
  }
  return body as Resource;
}

/**
 * Every write is validated (base structure and the profiles the resource claims). Errors refuse the write with 422
 * and the validator's issues; warnings and information are passed on in the write's outcome.
 */
export function validateForWrite(context: RestContext, resource: Resource): OperationOutcomeIssue[] {
  const result = context.services.validator.validate(resource);
  if (hasErrors(result)) throw new OperationOutcomeError(outcome('unprocessable', result.issue));
  return result.issue;
}

export function writeOutcome(kind: OutcomeKind, notes: OperationOutcomeIssue[], text: string) {
  return outcome(kind, [issue('information', 'informational', text), ...notes]);
}

import { allOk, badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { operationDefinition } from './operations/definitions.js';
import { readOperationInput } from './operations/parameters.js';
import { resourceBody } from './resource-body.js';
import type { FhirHandler, FhirRequest } from './types.js';

export const VALIDATE = operationDefinition('Resource-validate');

/**
 * `POST [base]/$validate` and `POST [base]/[type]/$validate` (conformance/OperationDefinition-Resource-validate.json):
 * the body is the resource, or Parameters with `resource` (and `profile`); `?profile=` works too. As the
 * specification says, the answer is 200 with the validation OperationOutcome whether or not the resource is valid;
 * 4xx only when validation could not run.
 */
export const validateOperation: FhirHandler = async (request, context) => {
  const { resource, profiles } = validationInput(request);
  for (const profile of profiles) {
    if (!context.services.validator.knowsProfile(profile)) {
      throw new OperationOutcomeError(badRequest(`Profile '${profile}' is not known to this server`, 'profile'));
    }
  }
  const result = context.services.validator.validate(resource, profiles.length > 0 ? { profiles } : undefined);
  return [allOk, result];
};

/** The resource (the body itself, or the `resource` parameter) and the profiles asked for (`profile`, in the query or the body). */
function validationInput(request: FhirRequest): { resource: Resource; profiles: string[] } {
  const input = readOperationInput(VALIDATE, { query: request.query, body: resourceBody({ ...request, params: {} }) });
  const resource = input.one('resource')?.resource;
  if (!resource) throw new OperationOutcomeError(badRequest("Give the resource to validate, as the body or as the 'resource' parameter", 'resource'));
  return { resource: resourceBody({ ...request, body: resource }), profiles: input.values<string>('profile') };
}

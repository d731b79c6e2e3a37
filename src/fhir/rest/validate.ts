import { allOk, badRequest, OperationOutcomeError } from '../outcome.js';
import type { Resource } from '../version.js';
import { resourceBody } from './resource-body.js';
import type { FhirHandler, FhirRequest } from './types.js';

/**
 * `POST [base]/$validate` and `POST [base]/[type]/$validate`: the body is the resource, or Parameters with
 * `resource` (and `profile`); `?profile=` works too. As the specification says, the answer is 200 with the
 * validation OperationOutcome whether or not the resource is valid; 4xx only when validation could not run.
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

interface ParametersParameter {
  name?: string;
  resource?: Resource;
  valueUri?: string;
  valueCanonical?: string;
}

function validationInput(request: FhirRequest): { resource: Resource; profiles: string[] } {
  const body = resourceBody({ ...request, params: {} });
  const profiles = [request.query.profile ?? []].flat();
  if (body.resourceType !== 'Parameters') return { resource: typed(body, request), profiles };
  const parameters = (Array.isArray(body.parameter) ? body.parameter : []) as ParametersParameter[];
  const wrapped = parameters.find((parameter) => parameter.name === 'resource');
  if (!wrapped) return { resource: typed(body, request), profiles };
  if (!wrapped.resource || typeof wrapped.resource.resourceType !== 'string') {
    throw new OperationOutcomeError(badRequest("The 'resource' parameter holds no resource", 'Parameters.parameter.resource'));
  }
  for (const parameter of parameters) {
    const url = parameter.name === 'profile' ? (parameter.valueUri ?? parameter.valueCanonical) : undefined;
    if (typeof url === 'string') profiles.push(url);
  }
  return { resource: typed(wrapped.resource, request), profiles };
}

function typed(resource: Resource, request: FhirRequest): Resource {
  return resourceBody({ ...request, body: resource });
}

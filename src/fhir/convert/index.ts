import { OperationOutcomeError, unprocessable } from '../outcome.js';
import type { FhirVersion, Resource } from '../version.js';
import { Converter } from './engine.js';

export { CONVERTIBLE_TYPES, isConvertible } from './mappings.js';

export interface ConvertOptions {
  from: FhirVersion;
  to: FhirVersion;
}

/**
 * Converts a resource between FHIR STU3 and R4 (a Bundle entry by entry, contained resources too). Pure and
 * synchronous; the input is not changed. Elements the other release has no place for travel as FHIR cross-version
 * extensions, so converting back restores them. Throws an OperationOutcomeError (unprocessable, with the
 * expression of the offending resource or element) for a resource type it does not convert or a malformed resource.
 */
export function convertResource(resource: Resource, options: ConvertOptions): Resource {
  if (options.from === options.to) return resource;
  if (!['r4', 'stu3'].includes(options.from) || !['r4', 'stu3'].includes(options.to)) {
    throw new OperationOutcomeError(unprocessable(`Cannot convert from FHIR ${options.from} to ${options.to}`));
  }
  return Converter.between(options.from, options.to).resource(resource, resource.resourceType ?? 'Resource') as Resource;
}

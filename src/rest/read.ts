import { allOk } from '../fhir/outcome.js';
import type { FhirHandler } from './types.js';

/** `GET [base]/[type]/[id]`: unknown (or another tenant's) → 404, deleted → 410, thrown by the store. */
export const readResource: FhirHandler = async (request, context) => {
  const { type, id } = request.params;
  return [allOk, await context.store.resources.read(context.scope, type, id)];
};

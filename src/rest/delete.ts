import { writeOutcome } from './resource-body.js';
import type { FhirHandler } from './types.js';
import { ifMatchVersion } from './update.js';

/** `DELETE [base]/[type]/[id]`: deleting twice or deleting what never existed succeeds (FHIR allows either). */
export const deleteResource: FhirHandler = async (request, context) => {
  const { type, id } = request.params;
  await context.store.resources.delete(context.scope, type, id, { ifMatch: ifMatchVersion(request.headers['if-match']) });
  return [writeOutcome('ok', [], `Deleted ${type}/${id}`)];
};

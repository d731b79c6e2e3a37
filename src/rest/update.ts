import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import { versionFromETag } from './headers.js';
import { resourceBody, validateForWrite, writeOutcome } from './resource-body.js';
import type { FhirHandler } from './types.js';

/** `PUT [base]/[type]/[id]`: replaces the resource (or creates it with the client's id); `If-Match` locks optimistically. */
export const updateResource: FhirHandler = async (request, context) => {
  const resource = resourceBody(request);
  const { type, id } = request.params;
  if (!resource.id) throw new OperationOutcomeError(badRequest('An update must carry the resource id', `${type}.id`));
  if (resource.id !== id) {
    throw new OperationOutcomeError(badRequest(`The body's id '${resource.id}' differs from the id '${id}' in the URL`, `${type}.id`));
  }
  const ifMatch = ifMatchVersion(request.headers['if-match']);
  const notes = validateForWrite(context, resource);
  const result = await context.store.resources.update(context.scope, resource, { ifMatch });
  return [result.created ? writeOutcome('created', notes, 'Created') : writeOutcome('ok', notes, 'Updated'), result.resource];
};

/** A malformed If-Match is refused rather than ignored: ignoring it would drop the lock the client asked for. */
export function ifMatchVersion(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const versionId = versionFromETag(header);
  if (versionId === undefined) throw new OperationOutcomeError(badRequest(`If-Match '${header}' is not an ETag such as W/"3"`));
  return versionId;
}

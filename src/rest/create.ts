import { allOk } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { findExisting } from './conditional.js';
import { resourceBody, validateForWrite, writeOutcome } from './resource-body.js';
import type { FhirHandler } from './types.js';

/** `POST [base]/[type]`: the server assigns the id; `If-None-Exist` makes it conditional. */
export const createResource: FhirHandler = async (request, context) => {
  const resource = resourceBody(request);
  const existing = await findExisting(request.headers['if-none-exist'], resource.resourceType, context);
  if (existing) return [allOk, existing];
  const notes = validateForWrite(context, resource);
  const stored = await context.store.resources.create(context.scope, withoutServerFields(resource));
  return [writeOutcome('created', notes, 'Created'), stored];
};

/** The id and version of a new resource are the server's to assign; whatever the client sent is dropped. */
function withoutServerFields(resource: Resource): Resource {
  const { id: _id, meta, ...rest } = resource;
  if (!meta) return rest as Resource;
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...keptMeta } = meta;
  return (Object.keys(keptMeta).length > 0 ? { ...rest, meta: keptMeta } : rest) as Resource;
}

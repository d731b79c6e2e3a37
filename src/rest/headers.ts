import type { OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';

/**
 * What the FHIR HTTP headers say about a returned resource, derived from the resource itself so that the HTTP layer
 * and batch/transaction entry responses say the same: ETag (weak, the versionId), Last-Modified, Location.
 */
export interface ResponseMeta {
  etag?: string;
  /** meta.lastUpdated as stored (an instant); HTTP renders it as an HTTP-date. */
  lastModified?: string;
  location?: string;
}

export function responseMeta(outcome: OperationOutcome, resource: Resource | undefined, baseUrl: string): ResponseMeta {
  const versionId = resource?.meta?.versionId;
  if (!resource || !versionId) return {};
  const meta: ResponseMeta = { etag: `W/"${versionId}"`, lastModified: resource.meta?.lastUpdated };
  if (outcome.id === 'created' && resource.id) meta.location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${versionId}`;
  return meta;
}

/** The versionId an `If-Match` header names: `W/"3"` or `"3"`. */
export function versionFromETag(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^\s*(?:W\/)?"([^"]+)"\s*$/.exec(header);
  return match ? match[1] : undefined;
}

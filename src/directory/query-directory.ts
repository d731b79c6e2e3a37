import { createHash } from 'node:crypto';
import type { Scope, UnitOfWork } from '../store/repository.js';
import type { Resource } from '../fhir/version.js';
import { parseSearchRequest } from '../fhir/search/parse.js';
import { URA_SYSTEM } from '../vocabulary/canonical.js';
import { isObject, type JsonObject } from '../vocabulary/json.js';
import type { HistoryChange } from './history-client.js';

/**
 * The local query directory (IHE mCSD Care Services Selective Supplier, filled by the update client): every accepted
 * resource of every directory, stored under an id of its origin, with `meta.source` = where it came from
 * (`<directory base>/<type>/<id>`) and its references turned into references to the stored copies. It lives in a
 * scope of its own, apart from every tenant's data.
 */
export const QUERY_DIRECTORY_SCOPE: Scope = { tenant: '@query-directory', version: 'r4' };

/** The id of a copy: derived from its origin, so the same source resource always lands on the same copy. */
export function localId(source: string): string {
  return createHash('sha256').update(source).digest('hex').slice(0, 40);
}

const sourceOf = (base: string, resourceType: string, id: string) => `${base}/${resourceType}/${id}`;

export interface Applied {
  created: number;
  updated: number;
  deleted: number;
}

/** Writes a directory's accepted changes in one transaction. */
export async function applyChanges(store: UnitOfWork, base: string, changes: HistoryChange[]): Promise<Applied> {
  const applied: Applied = { created: 0, updated: 0, deleted: 0 };
  await store.transaction(async (tx) => {
    for (const change of changes) {
      const source = sourceOf(base, change.resourceType, change.id);
      if (!change.resource) {
        await tx.resources.delete(QUERY_DIRECTORY_SCOPE, change.resourceType, localId(source));
        applied.deleted += 1;
        continue;
      }
      const copy = localCopy(base, source, change.resource);
      const { created } = await tx.resources.update(QUERY_DIRECTORY_SCOPE, copy);
      if (created) applied.created += 1;
      else applied.updated += 1;
    }
  });
  return applied;
}

/** The stored copy: its own id, `meta.source`, references to the other copies; the origin's version and time dropped. */
function localCopy(base: string, source: string, resource: JsonObject): Resource {
  const copy = rewriteReferences(base, resource) as JsonObject;
  const meta = isObject(resource.meta) ? { ...resource.meta } : {};
  delete meta.versionId;
  delete meta.lastUpdated;
  return { ...copy, id: localId(source), meta: { ...meta, source } } as unknown as Resource;
}

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/;

/** Every `Type/id` reference (relative, or absolute under the directory's base) becomes one to the copy of its target. */
function rewriteReferences(base: string, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => rewriteReferences(base, item));
  if (!isObject(value)) return value;
  const rewritten: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    rewritten[key] = key === 'reference' && typeof item === 'string' ? localReference(base, item) : rewriteReferences(base, item);
  }
  return rewritten;
}

function localReference(base: string, reference: string): string {
  const relative = reference.startsWith(`${base}/`) ? reference.slice(base.length + 1) : reference;
  const match = RELATIVE_REFERENCE.exec(relative);
  if (!match) return reference;
  return `${match[1]}/${localId(sourceOf(base, match[1]!, match[2]!))}`;
}

/** Where an organisation and the service of one care type stand in the query directory (references to its copies). */
export interface DirectoryListing {
  organization?: { reference: string; display?: string };
  healthcareService?: { reference: string; display?: string };
}

/**
 * The query directory's Organization with this URA and its HealthcareService whose `type` has this code (the first
 * such): what a `$match-capacity` candidate names, so an EHR can offer to it directly. The copies' ids derive from
 * their origin, so every update client of the region gives a resource the same id.
 */
export async function directoryListing(store: UnitOfWork, ura: string, typeSystem: string, typeCode: string): Promise<DirectoryListing> {
  const search = (type: string, parameters: Record<string, string>) =>
    store.resources.search(QUERY_DIRECTORY_SCOPE, parseSearchRequest('r4', type, { ...parameters, _count: '1' }));
  const [organization] = (await search('Organization', { identifier: `${URA_SYSTEM}|${ura}` })).resources;
  if (!organization) return {};
  const organizationReference = `Organization/${organization.id}`;
  const [service] = (await search('HealthcareService', { organization: organizationReference, 'service-type': `${typeSystem}|${typeCode}` })).resources;
  return {
    organization: { reference: organizationReference, ...displayOf(organization) },
    ...(service ? { healthcareService: { reference: `HealthcareService/${service.id}`, ...displayOf(service) } } : {}),
  };
}

const displayOf = (resource: Resource) => (typeof resource.name === 'string' ? { display: resource.name } : {});

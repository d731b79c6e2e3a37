import type { HostedOrganization } from '../config/config.js';
import { DIRECTORY_READER, QUERY_DIRECTORY_READER } from '../auth/purposes.js';
import { forbidden, notFound } from '../fhir/outcome.js';
import { QUERY_DIRECTORY_SCOPE } from './query-directory.js';
import type { Resource } from '../fhir/version.js';
import type { Endpoint } from '../rest/capability-contract.js';
import { readHistory } from '../rest/history.js';
import { readResource } from '../rest/read.js';
import type { RouteDefinition } from '../rest/router.js';
import { searchType } from '../rest/search.js';
import type { FhirHandler } from '../rest/types.js';
import { codings, isObject, objects, type JsonObject } from '../vocabulary/json.js';

/**
 * The administration directory as others read it (IHE mCSD ITI-90 Find Matching Care Services and ITI-91 Request
 * Care Services Updates): search, read and `_history` of Organization, HealthcareService, Location and Endpoint at
 * `/mcsd/{organisation}`, open like a DID document. What leaves is built from an allowlist of elements per type
 * (who offers which care where, how to reach them), never by deleting known-bad ones; a bed (a Location of
 * physicalType `bd`, the capacity census's) is never published.
 */
export const DIRECTORY_MOUNT = '/mcsd';

const COMMON = ['resourceType', 'id', 'identifier'];
const PUBLISHED_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  Organization: [...COMMON, 'active', 'type', 'name', 'alias', 'telecom', 'address', 'partOf', 'endpoint'],
  HealthcareService: [...COMMON, 'active', 'providedBy', 'category', 'type', 'specialty', 'location', 'name', 'telecom', 'coverageArea', 'serviceProvisionCode', 'characteristic', 'communication', 'referralMethod', 'endpoint'],
  Location: [...COMMON, 'status', 'name', 'alias', 'mode', 'type', 'telecom', 'address', 'physicalType', 'position', 'managingOrganization', 'partOf', 'endpoint'],
  Endpoint: [...COMMON, 'status', 'connectionType', 'name', 'managingOrganization', 'period', 'payloadType', 'payloadMimeType', 'address'],
};
const PUBLISHED_META = ['versionId', 'lastUpdated'];

/** The published view of a directory resource; undefined when it is not published at all. */
function publishedView(resource: JsonObject): JsonObject | undefined {
  const elements = PUBLISHED_ELEMENTS[resource.resourceType as string];
  if (!elements || isBed(resource)) return undefined;
  const view: JsonObject = {};
  for (const element of elements) if (resource[element] !== undefined) view[element] = resource[element];
  if (isObject(resource.meta)) view.meta = Object.fromEntries(PUBLISHED_META.filter((key) => isObject(resource.meta) && resource.meta[key] !== undefined).map((key) => [key, (resource.meta as JsonObject)[key]]));
  return view;
}

/** A bed (a Location of physicalType `bd`, what the capacity census stores): never published, never shown to others. */
export function isBed(resource: JsonObject): boolean {
  return resource.resourceType === 'Location' && codings(resource.physicalType).some((coding) => coding.code === 'bd');
}

/** A handler whose answer (a resource or a Bundle of them) leaves through `publishedView`. */
function published(handler: FhirHandler): FhirHandler {
  return async (request, context) => {
    const [outcome, resource] = await handler(request, context);
    if (!resource) return [outcome];
    if (resource.resourceType !== 'Bundle') {
      const view = publishedView(resource as unknown as JsonObject);
      return view ? [outcome, view as unknown as Resource] : [notFound(`${resource.resourceType}/${resource.id} is not published`)];
    }
    const entry = objects((resource as unknown as JsonObject).entry).map((item) => {
      if (!isObject(item.resource)) return item;
      const view = publishedView(item.resource);
      return view ? { ...item, resource: view } : undefined;
    });
    return [outcome, { ...resource, entry: entry.filter((item) => item !== undefined) } as unknown as Resource];
  };
}

const ROUTES: RouteDefinition[] = [
  { method: 'GET', path: ':type', access: 'search', interactions: ['search-type'], audit: false, handler: published(searchType) },
  { method: 'GET', path: ':type/_history', access: 'history', interactions: ['history-type'], audit: false, handler: published(readHistory) },
  { method: 'GET', path: ':type/:id', access: 'read', interactions: ['read'], audit: false, handler: published(readResource) },
];

/**
 * The query directory (what the update client keeps in sync from every organisation's directory): `/mcsd-query`,
 * search and read. The hosted organisations' own EHRs get the copies as stored (with `meta.source`); at a coordination
 * point, hospitals and hubs (purpose `care-services-query`) get them as the egress allowlist shows them (capacity/'s
 * served projection).
 */
export const QUERY_DIRECTORY_MOUNT = '/mcsd-query';

const inQueryDirectory =
  (handler: FhirHandler): FhirHandler =>
  (request, context) => {
    if (context.principal.kind !== 'ehr' && context.principal.purposeOfUse !== QUERY_DIRECTORY_READER) {
      return Promise.resolve([forbidden("Only a hosted organisation's own EHR, or an organisation asking a coordination point for its directory, may search the query directory")]);
    }
    return handler(request, { ...context, scope: QUERY_DIRECTORY_SCOPE });
  };

export const queryDirectoryEndpoint: Endpoint = {
  path: QUERY_DIRECTORY_MOUNT,
  api: 'directory',
  version: 'r4',
  routes: [
    { method: 'GET', path: ':type', access: 'search', interactions: ['search-type'], audit: false, handler: inQueryDirectory(searchType) },
    { method: 'GET', path: ':type/:id', access: 'read', interactions: ['read'], audit: false, handler: inQueryDirectory(readResource) },
  ],
};

/** The published directory of one hosted organisation: `/mcsd/{id}`, every caller a reader of it. */
export function directoryEndpoint(organization: HostedOrganization): Endpoint {
  return {
    path: `${DIRECTORY_MOUNT}/${encodeURIComponent(organization.id)}`,
    api: 'directory',
    version: 'r4',
    routes: ROUTES,
    anonymous: { tenant: organization.id, kind: 'organization', requester: 'anyone', purposeOfUse: DIRECTORY_READER, resources: [] },
  };
}

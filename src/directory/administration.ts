import type { HostedOrganization } from '../config/config.js';
import type { Resource } from '../fhir/version.js';
import type { Scope, UnitOfWork } from '../store/repository.js';
import { parseSearchRequest } from '../fhir/search/parse.js';
import { ORGANIZATION_ID_SYSTEM, URA_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import { isObject, objects, stringAt, type JsonObject } from '../vocabulary/json.js';
import { OperationOutcomeError, unprocessable } from '../fhir/outcome.js';
import type { WriteInterceptor } from '../rest/types.js';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from './payload-types.js';
import { isHttpAddress, referencedId } from './validation.js';

/**
 * Each gateway is the administration directory of the organisations it hosts (IHE mCSD Care Services Update
 * Supplier). The tenant's EHR maintains its Organization, HealthcareServices and Locations; the gateway fills in
 * what it knows itself: the Endpoints it serves for the organisation (notification, eOverdracht FHIR base, Nuts v6
 * authorization server, RFC003 token endpoint) and, on the organisation's Organization (made when the EHR has none
 * yet), its URA, the id it signs with, its did:web, and the references to those Endpoints.
 */
export interface OwnEndpoints {
  /** The eOverdracht notification base (`{address}/Task` for Twiin, `{address}/{task id}` for the Bolt). */
  notification: string;
  /** The STU3 FHIR base the eOverdracht receiver pulls from. */
  fhir: string;
  /** The Nuts v6 authorization server's issuer (`{base}/oauth2/{subject}`). */
  authorizationServer: string;
  /** The token endpoint of the RFC003 grant. */
  oauth: string;
  /** The R4 FHIR base where a coordination point takes publications and answers `$match-capacity`. */
  capacity: string;
}

const OWN_ENDPOINT_IDS = {
  notification: 'gateway-notification',
  fhir: 'gateway-eoverdracht-fhir',
  authorizationServer: 'gateway-oauth',
  oauth: 'gateway-oauth-rfc003',
  capacity: 'gateway-capacity',
} as const;
const OWN_ORGANIZATION_ID = 'gateway-organization';

function ownEndpointResources(organization: HostedOrganization, endpoints: OwnEndpoints): Resource[] {
  const endpoint = (id: string, code: string, address: string, name: string): Resource =>
    ({
      resourceType: 'Endpoint',
      id,
      status: 'active',
      name,
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
      payloadType: [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code }] }],
      address,
      managingOrganization: organization.ura ? { identifier: { system: URA_SYSTEM, value: organization.ura } } : undefined,
    }) as Resource;
  return [
    endpoint(OWN_ENDPOINT_IDS.notification, PAYLOAD_TYPES.twiinNotification, endpoints.notification, 'eOverdracht notification'),
    endpoint(OWN_ENDPOINT_IDS.fhir, PAYLOAD_TYPES.eOverdrachtServer, endpoints.fhir, 'eOverdracht FHIR (STU3)'),
    endpoint(OWN_ENDPOINT_IDS.authorizationServer, PAYLOAD_TYPES.nutsOAuth, endpoints.authorizationServer, 'Authorization server (Nuts v6)'),
    endpoint(OWN_ENDPOINT_IDS.oauth, PAYLOAD_TYPES.rfc003Token, endpoints.oauth, 'Token endpoint (Nuts RFC003)'),
    ...(organization.roles.includes('coordination-point')
      ? [endpoint(OWN_ENDPOINT_IDS.capacity, PAYLOAD_TYPES.capacityCoordination, endpoints.capacity, 'Capacity coordination (R4)')]
      : []),
  ].map((resource) => JSON.parse(JSON.stringify(resource)) as Resource);
}

function ownEndpointIds(organization: HostedOrganization): string[] {
  const { capacity, ...always } = OWN_ENDPOINT_IDS;
  return [...Object.values(always), ...(organization.roles.includes('coordination-point') ? [capacity] : [])];
}

/** Writes the gateway's own entries of one hosted organisation, changing only what differs. */
export async function publishOwnEntries(store: UnitOfWork, scope: Scope, organization: HostedOrganization, did: string, endpoints: OwnEndpoints): Promise<void> {
  for (const endpoint of ownEndpointResources(organization, endpoints)) await writeIfChanged(store, scope, endpoint);
  const current = await ownOrganization(store, scope, organization);
  await writeIfChanged(store, scope, withOwnEntries(current, organization, did));
}

/** The tenant's Organization with its URA (the EHR's), else the one the gateway made. */
async function ownOrganization(store: UnitOfWork, scope: Scope, organization: HostedOrganization): Promise<JsonObject> {
  if (organization.ura) {
    const request = parseSearchRequest('r4', 'Organization', { identifier: `${URA_SYSTEM}|${organization.ura}`, _count: '1' });
    const [found] = (await store.resources.search(scope, request)).resources;
    if (found) return found as unknown as JsonObject;
  }
  return { resourceType: 'Organization', id: OWN_ORGANIZATION_ID, active: true, name: organization.name };
}

function withOwnEntries(current: JsonObject, organization: HostedOrganization, did: string): Resource {
  const identifiers = objects(current.identifier);
  const has = (system: string, value: string) => identifiers.some((identifier) => identifier.system === system && identifier.value === value);
  const wanted = [
    ...(organization.ura ? [{ system: URA_SYSTEM, value: organization.ura }] : []),
    { system: ORGANIZATION_ID_SYSTEM, value: organization.id },
    { system: URI_SYSTEM, value: did },
  ].filter((identifier) => !has(identifier.system, identifier.value));
  const references = objects(current.endpoint);
  const missing = ownEndpointIds(organization)
    .filter((id) => !references.some((reference) => referencedId(reference) === id))
    .map((id) => ({ reference: `Endpoint/${id}` }));
  return { ...current, identifier: [...identifiers, ...wanted], endpoint: [...references, ...missing] } as unknown as Resource;
}

async function writeIfChanged(store: UnitOfWork, scope: Scope, resource: Resource): Promise<void> {
  const current = await store.resources.read(scope, resource.resourceType, resource.id as string).catch(() => undefined);
  if (current && sameContent(current, resource)) return;
  await store.resources.update(scope, resource);
}

function sameContent(a: Resource, b: Resource): boolean {
  const { meta: _a, ...restA } = a as JsonObject;
  const { meta: _b, ...restB } = b as JsonObject;
  return JSON.stringify(restA) === JSON.stringify(restB) && stringAt(a, 'id') === stringAt(b, 'id');
}

/**
 * What the EHR writes of its directory is checked as update clients will check it, where that cannot depend on the
 * rest of the directory: an Endpoint's address is an http(s) URL with a host. (Organizations are not checked on
 * write: the documents an EHR stores carry other organisations' Organizations too; update clients refuse the ones
 * with more than one URA.)
 */
export const directoryWrites: WriteInterceptor = async (request, context, next) => {
  const resource = isObject(request.body) ? request.body : undefined;
  if (request.method !== 'DELETE' && resource) {
    const problem = writeProblem(resource);
    if (problem) throw new OperationOutcomeError(unprocessable(problem.text, problem.expression));
  }
  return next(request, context);
};

function writeProblem(resource: JsonObject): { text: string; expression: string } | undefined {
  if (resource.resourceType === 'Endpoint' && !isHttpAddress(resource.address)) {
    return { text: `Endpoint.address must be an http(s) URL with a host, as update clients accept only those (got ${JSON.stringify(resource.address)})`, expression: 'Endpoint.address' };
  }
  return undefined;
}

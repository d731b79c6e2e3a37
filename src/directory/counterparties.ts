import type { CounterpartySource } from '../auth/trust.js';
import type { NotificationShape, TrustedOrganization } from '../config/config.js';
import { ORGANIZATION_ID_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import { codings, objects, stringAt, type JsonObject } from '../vocabulary/json.js';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from './payload-types.js';
import { keyOf, referencedId, urasOf, type DirectoryContents } from './validation.js';

/**
 * The organisations the directory knows, as the trust registry sees a counterparty: found by URA or by the id it
 * signs with; its notification endpoint, FHIR base, authorization server (the `Nuts-OAuth` address is its Nuts v6
 * issuer) and RFC003 token endpoint from its Endpoints (and those of its HealthcareServices); its keys from its
 * did:web document. Rebuilt from the directories' contents after each sync.
 */
export class DirectoryCounterparties implements CounterpartySource {
  private byIdIndex = new Map<string, TrustedOrganization>();
  private byUraIndex = new Map<string, TrustedOrganization>();

  byId(id: string): TrustedOrganization | undefined {
    return this.byIdIndex.get(id);
  }

  byUra(ura: string): TrustedOrganization | undefined {
    return this.byUraIndex.get(ura);
  }

  /** Each directory's counterparties as of its `version`. */
  private readonly perDirectory = new Map<string, { version: number; counterparties: TrustedOrganization[] }>();

  /**
   * Replaces the index with the organisations of these directories (each already validated for its URAs); a directory
   * whose version did not change keeps the counterparties found before.
   */
  rebuild(directories: { base: string; contents: DirectoryContents; version: number }[]): void {
    const byId = new Map<string, TrustedOrganization>();
    const byUra = new Map<string, TrustedOrganization>();
    const current = new Set(directories.map((directory) => directory.base));
    for (const base of this.perDirectory.keys()) if (!current.has(base)) this.perDirectory.delete(base);
    for (const { base, contents, version } of directories) {
      let known = this.perDirectory.get(base);
      if (known?.version !== version) this.perDirectory.set(base, (known = { version, counterparties: counterpartiesOf(contents) }));
      for (const counterparty of known!.counterparties) {
        byUra.set(counterparty.ura as string, counterparty);
        byId.set(counterparty.id, counterparty);
      }
    }
    this.byIdIndex = byId;
    this.byUraIndex = byUra;
  }
}

function counterpartiesOf(contents: DirectoryContents): TrustedOrganization[] {
  const services = servicesByProvider(contents);
  const found: TrustedOrganization[] = [];
  for (const resource of contents.values()) {
    if (resource.resourceType !== 'Organization') continue;
    const counterparty = counterpartyOf(resource, contents, services.get(stringAt(resource, 'id') ?? '') ?? []);
    if (counterparty) found.push(counterparty);
  }
  return found;
}

const DID_WEB = 'did:web:';

/** An Organization with a URA as a counterparty; its id is the one it signs with (the organisation-id identifier, else its did:web, else its URA). */
function counterpartyOf(organization: JsonObject, contents: DirectoryContents, services: JsonObject[]): TrustedOrganization | undefined {
  const ura = urasOf(organization)[0];
  if (!ura) return undefined;
  const identifiers = objects(organization.identifier);
  const didWeb = identifiers
    .filter((identifier) => identifier.system === URI_SYSTEM)
    .map((identifier) => stringAt(identifier, 'value'))
    .find((value) => value?.startsWith(DID_WEB));
  const id = stringAt(identifiers.find((identifier) => identifier.system === ORGANIZATION_ID_SYSTEM), 'value') ?? didWeb ?? ura;
  const counterparty: TrustedOrganization = { id, name: stringAt(organization, 'name') ?? id, ura, endpoints: {} };
  if (didWeb) counterparty.didWeb = didWeb;
  for (const endpoint of endpointsOf(organization, services, contents)) {
    const address = stringAt(endpoint, 'address') as string;
    const types = objects(endpoint.payloadType).flatMap(codings).filter((coding) => coding.system === PAYLOAD_TYPE_SYSTEM).map((coding) => coding.code);
    if (types.includes(PAYLOAD_TYPES.nutsOAuth)) counterparty.endpoints.authorizationServer ??= address;
    if (types.includes(PAYLOAD_TYPES.rfc003Token)) counterparty.endpoints.oauth ??= address;
    if (types.includes(PAYLOAD_TYPES.eOverdrachtServer)) counterparty.endpoints.fhir ??= address;
    if (types.includes(PAYLOAD_TYPES.capacityCoordination)) counterparty.endpoints.capacity ??= address;
    const shape = notificationShape(types);
    if (shape && !counterparty.endpoints.notification) {
      counterparty.endpoints.notification = address;
      counterparty.notificationShape = shape;
    }
  }
  return counterparty;
}

function notificationShape(types: (string | undefined)[]): NotificationShape | undefined {
  if (types.includes(PAYLOAD_TYPES.twiinNotification)) return 'twiin';
  if (types.includes(PAYLOAD_TYPES.eOverdrachtNotification)) return 'bolt';
  return undefined;
}

function servicesByProvider(contents: DirectoryContents): Map<string, JsonObject[]> {
  const services = new Map<string, JsonObject[]>();
  for (const resource of contents.values()) {
    const provider = resource.resourceType === 'HealthcareService' ? referencedId(resource.providedBy) : undefined;
    if (provider !== undefined) services.set(provider, [...(services.get(provider) ?? []), resource]);
  }
  return services;
}

/** The organisation's active Endpoints, then those of its HealthcareServices. */
function endpointsOf(organization: JsonObject, services: JsonObject[], contents: DirectoryContents): JsonObject[] {
  const references = [...objects(organization.endpoint), ...services.flatMap((service) => objects(service.endpoint))];
  return references
    .map((reference) => referencedId(reference))
    .map((id) => (id === undefined ? undefined : contents.get(keyOf('Endpoint', id))))
    .filter((endpoint): endpoint is JsonObject => endpoint !== undefined && (endpoint.status ?? 'active') === 'active');
}

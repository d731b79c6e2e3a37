import type { AcceptedGrant } from '../config/config.js';
import { EHR_CLIENT_ID_SYSTEM, ORGANIZATION_ID_SYSTEM, URA_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import type { AccessRequest, Operation, Principal } from '../fhir/principal.js';
import type { Resource } from '../fhir/version.js';
import { UNVERIFIED_AGENT } from '../store/audit-rows.js';
import type { AuditTrail } from '../store/repository.js';

/**
 * The audit trail (NEN 7513: who, on behalf of which organisation, which patient, what, when, with what outcome),
 * appended as R4 AuditEvents to the tenant's own audit trail (store/audit-trail.ts), so each care organisation
 * searches only its own.
 */
export type AuditOutcome = 'success' | 'refused' | 'error';

export interface AccessAudit {
  type: 'access';
  principal: Principal;
  request: AccessRequest;
  outcome: AuditOutcome;
  /** `Patient/<id>` references the data is about (see patientReferences). */
  patients?: string[];
  /** The resources touched, e.g. `Task/123` (absent for searches; an operation's instance, or what it made). */
  resources?: string[];
  /** The operation it was, by its OperationDefinition's canonical URL and code (e.g. `document`). */
  operation?: { url: string; code: string };
  /** The query string of a search, e.g. `status=requested&owner=...`. */
  query?: string;
  description?: string;
}

export interface TokenAudit {
  type: 'token';
  /** The authorizer: the hosted organisation whose data the token would open. */
  tenant: string;
  /** Remote organisation id or EHR client id, verified by the signature of its assertion. */
  requester: string;
  requesterKind: Principal['kind'];
  purposeOfUse?: string;
  organization?: Principal['organization'];
  person?: Principal['person'];
  tokenId?: string;
  /** How the token was asked for (a grant of config ACCEPTED_GRANTS, or the EHR's client credentials), and how it is bound. */
  grantType?: AcceptedGrant | 'client_credentials';
  tokenType?: 'Bearer' | 'DPoP';
  outcome: AuditOutcome;
  description?: string;
  /** The network address the request came from. */
  clientAddress?: string;
}

/**
 * A token request refused before its signature was verified: anyone can send one naming any organisation, so what
 * it claimed is kept as a claim (an entity's details), never as the requesting agent (docs/auth.md, Audit).
 */
export interface UnverifiedTokenAudit {
  type: 'unverified-token';
  /** The hosted organisation the request named (its `sub`, or the tenant of the EHR client it named). */
  tenant: string;
  requesterKind: Principal['kind'];
  claimed: { iss?: string; sub?: string; purposeOfUse?: string };
  clientAddress?: string;
  description: string;
  /** Refusals from the same address to the same tenant counted but not recorded since the previous such event. */
  unrecorded?: number;
}

export type AuditEntry = AccessAudit | TokenAudit | UnverifiedTokenAudit;

export interface AuditWriter {
  audit: Pick<AuditTrail, 'append'>;
}

export interface Auditor {
  /** Appends the entry's AuditEvent to the trail; `within` writes it through another store, e.g. a caller's transaction. */
  record(entry: AuditEntry, within?: AuditWriter): Promise<void>;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const AUDIT_EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';

const OUTCOME_CODE: Record<AuditOutcome, string> = { success: '0', refused: '4', error: '8' };

const ACTION: Record<Operation, string> = {
  create: 'C',
  read: 'R',
  vread: 'R',
  search: 'R',
  history: 'R',
  update: 'U',
  delete: 'D',
  operation: 'E',
  batch: 'E',
  transaction: 'E',
};

/** restful-interaction codes; search and history are type- or instance-level by the shape of the path. */
function interaction(request: AccessRequest): string {
  const instance = /^\/[A-Za-z]+\/[^/$]+/.test(request.path);
  if (request.operation === 'search') return request.path === '/' || request.path === '' ? 'search-system' : 'search-type';
  if (request.operation === 'history') return instance ? 'history-instance' : 'history-type';
  return request.operation;
}

/** AuditEvent.agent.network of a request from `address` (network-type 2: an IP address). */
const networkOf = (address: string | undefined) => (address ? { network: { address, type: '2' } } : {});

function requesterAgent(
  requester: string,
  kind: Principal['kind'],
  purposeOfUse: string | undefined,
  clientAddress?: string,
  organization?: Principal['organization'],
) {
  return {
    who: { identifier: { system: kind === 'ehr' ? EHR_CLIENT_ID_SYSTEM : ORGANIZATION_ID_SYSTEM, value: requester } },
    // A Nuts v6 grant proves the organisation's URA (X509Credential): NEN 7513 names the organisation by it.
    ...(organization ? { altId: `${URA_SYSTEM}|${organization.ura}`, ...(organization.name ? { name: organization.name } : {}) } : {}),
    requestor: true,
    ...(purposeOfUse ? { purposeOfUse: [{ text: purposeOfUse }] } : {}),
    ...networkOf(clientAddress),
  };
}

/** The person behind a request, as a second requesting agent beside their organisation (NEN 7513: who). */
function personAgent(person: Principal['person']) {
  if (!person) return [];
  return [
    {
      who: { identifier: { value: person.identifier }, display: person.name },
      name: person.name,
      ...(person.role ? { role: [{ text: person.role }] } : {}),
      requestor: true,
    },
  ];
}

const patientEntity = (reference: string) => ({
  what: { reference },
  type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
  role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
});

/**
 * The operation invoked, by its OperationDefinition's canonical URL: an identifier, so that `entity:identifier=<url>`
 * finds every invocation (the trail indexes entities, and only the first subtype, which says `operation`).
 */
function operationEntity({ operation }: AccessAudit) {
  if (!operation) return [];
  return [{ what: { identifier: { system: URI_SYSTEM, value: operation.url } }, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' }, name: `$${operation.code}` }];
}

function accessEntities(entry: AccessAudit) {
  const entities: object[] = [...(entry.patients ?? []).map(patientEntity), ...operationEntity(entry)];
  for (const resource of entry.resources ?? []) {
    entities.push({
      what: { reference: resource },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      description: `${entry.request.version.toUpperCase()} ${entry.request.endpoint ?? 'fhir'}`,
    });
  }
  if (entry.query !== undefined) {
    entities.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from(`${entry.request.path}?${entry.query}`).toString('base64'),
      description: `${entry.request.version.toUpperCase()} ${entry.request.endpoint ?? 'fhir'}`,
    });
  }
  return entities;
}

function accessEvent(entry: AccessAudit, recorded: string, source: object): Resource {
  const { principal, request } = entry;
  return {
    resourceType: 'AuditEvent',
    type: { system: AUDIT_EVENT_TYPE, code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: RESTFUL_INTERACTION, code: interaction(request) }],
    action: ACTION[request.operation],
    recorded,
    outcome: OUTCOME_CODE[entry.outcome],
    ...(entry.description ? { outcomeDesc: entry.description } : {}),
    ...(principal.purposeOfUse ? { purposeOfEvent: [{ text: principal.purposeOfUse }] } : {}),
    agent: [requesterAgent(principal.requester, principal.kind, principal.purposeOfUse, undefined, principal.organization), ...personAgent(principal.person)],
    source,
    entity: accessEntities(entry),
  };
}

const TOKEN_EVENT = {
  resourceType: 'AuditEvent',
  type: { system: DCM, code: '110114', display: 'User Authentication' },
  subtype: [{ system: DCM, code: '110122', display: 'Login' }],
  action: 'E',
};

/** The issued token: its id, the grant it was asked with and its binding (entity details). */
function tokenEntity(entry: TokenAudit, tokenId: string) {
  const details = [
    ...(entry.grantType ? [{ type: 'grant_type', valueString: entry.grantType }] : []),
    ...(entry.tokenType ? [{ type: 'token_type', valueString: entry.tokenType }] : []),
  ];
  return {
    what: { identifier: { value: tokenId } },
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    description: 'access token',
    ...(details.length > 0 ? { detail: details } : {}),
  };
}

function tokenEvent(entry: TokenAudit, recorded: string, source: object): Resource {
  return {
    ...TOKEN_EVENT,
    recorded,
    outcome: OUTCOME_CODE[entry.outcome],
    ...(entry.description ? { outcomeDesc: entry.description } : {}),
    ...(entry.purposeOfUse ? { purposeOfEvent: [{ text: entry.purposeOfUse }] } : {}),
    agent: [requesterAgent(entry.requester, entry.requesterKind, entry.purposeOfUse, entry.clientAddress, entry.organization), ...personAgent(entry.person)],
    source,
    entity: entry.tokenId ? [tokenEntity(entry, entry.tokenId)] : [],
  };
}

/** The claims of an unverified request as an entity's details: readable, but found by no agent or entity search. */
function claimedEntity(entry: UnverifiedTokenAudit) {
  const claims = Object.entries(entry.claimed).filter(([, value]) => value !== undefined);
  return {
    type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
    role: { system: OBJECT_ROLE, code: '13', display: 'Security Resource' },
    name: entry.requesterKind === 'ehr' ? 'client assertion' : 'JWT bearer grant',
    description: 'what the request claimed; its signature was not verified',
    detail: [
      ...claims.map(([name, value]) => ({ type: `claimed ${name} (unverified)`, valueString: value })),
      ...(entry.unrecorded ? [{ type: 'refusals not recorded before this one', valueString: String(entry.unrecorded) }] : []),
    ],
  };
}

function unverifiedTokenEvent(entry: UnverifiedTokenAudit, recorded: string, source: object): Resource {
  return {
    ...TOKEN_EVENT,
    recorded,
    outcome: OUTCOME_CODE.refused,
    outcomeDesc: entry.description,
    agent: [{ type: { coding: [UNVERIFIED_AGENT] }, requestor: true, ...networkOf(entry.clientAddress) }],
    source,
    entity: [claimedEntity(entry)],
  };
}

function eventOf(entry: AuditEntry, recorded: string, source: object): Resource {
  if (entry.type === 'access') return accessEvent(entry, recorded, source);
  return entry.type === 'token' ? tokenEvent(entry, recorded, source) : unverifiedTokenEvent(entry, recorded, source);
}

export function createAuditor(
  store: AuditWriter,
  options: { observer?: string; clock?: () => number } = {},
): Auditor {
  const source = {
    observer: { display: options.observer ?? 'vervolgzorg-gateway' },
    type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
  };
  const clock = options.clock ?? Date.now;
  return {
    async record(entry, within = store) {
      const recorded = new Date(clock()).toISOString();
      const tenant = entry.type === 'access' ? entry.principal.tenant : entry.tenant;
      await within.audit.append(tenant, eventOf(entry, recorded, source));
    },
  };
}

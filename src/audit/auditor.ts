import { EHR_CLIENT_ID_SYSTEM, ORGANIZATION_ID_SYSTEM } from '../auth/canonical.js';
import type { AccessRequest, Operation, Principal } from '../auth/principal.js';
import type { Resource } from '../fhir/version.js';
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
  /** The resource touched, e.g. `Task/123` (absent for searches). */
  resource?: string;
  /** The query string of a search, e.g. `status=requested&owner=...`. */
  query?: string;
  description?: string;
}

export interface TokenAudit {
  type: 'token';
  /** The authorizer: the hosted organisation whose data the token would open. */
  tenant: string;
  /** Remote organisation id or EHR client id (as claimed, when the request was refused before verification). */
  requester: string;
  requesterKind: Principal['kind'];
  purposeOfUse?: string;
  user?: Principal['user'];
  tokenId?: string;
  outcome: AuditOutcome;
  description?: string;
}

export type AuditEntry = AccessAudit | TokenAudit;

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

function requesterAgent(requester: string, kind: Principal['kind'], purposeOfUse: string | undefined) {
  return {
    who: { identifier: { system: kind === 'ehr' ? EHR_CLIENT_ID_SYSTEM : ORGANIZATION_ID_SYSTEM, value: requester } },
    requestor: true,
    ...(purposeOfUse ? { purposeOfUse: [{ text: purposeOfUse }] } : {}),
  };
}

function userAgent(user: Principal['user']) {
  if (!user || (!user.id && !user.name)) return [];
  return [
    {
      who: { ...(user.id ? { identifier: { value: user.id } } : {}), ...(user.name ? { display: user.name } : {}) },
      ...(user.name ? { name: user.name } : {}),
      ...(user.role ? { role: [{ text: user.role }] } : {}),
      requestor: true,
    },
  ];
}

const patientEntity = (reference: string) => ({
  what: { reference },
  type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
  role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
});

function accessEntities(entry: AccessAudit) {
  const entities: object[] = (entry.patients ?? []).map(patientEntity);
  if (entry.resource) {
    entities.push({
      what: { reference: entry.resource },
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
    agent: [requesterAgent(principal.requester, principal.kind, principal.purposeOfUse), ...userAgent(principal.user)],
    source,
    entity: accessEntities(entry),
  };
}

function tokenEvent(entry: TokenAudit, recorded: string, source: object): Resource {
  return {
    resourceType: 'AuditEvent',
    type: { system: DCM, code: '110114', display: 'User Authentication' },
    subtype: [{ system: DCM, code: '110122', display: 'Login' }],
    action: 'E',
    recorded,
    outcome: OUTCOME_CODE[entry.outcome],
    ...(entry.description ? { outcomeDesc: entry.description } : {}),
    ...(entry.purposeOfUse ? { purposeOfEvent: [{ text: entry.purposeOfUse }] } : {}),
    agent: [requesterAgent(entry.requester, entry.requesterKind, entry.purposeOfUse), ...userAgent(entry.user)],
    source,
    entity: entry.tokenId
      ? [{ what: { identifier: { value: entry.tokenId } }, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' }, description: 'access token' }]
      : [],
  };
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
      const event = entry.type === 'access' ? accessEvent(entry, recorded, source) : tokenEvent(entry, recorded, source);
      const tenant = entry.type === 'access' ? entry.principal.tenant : entry.tenant;
      await within.audit.append(tenant, event);
    },
  };
}

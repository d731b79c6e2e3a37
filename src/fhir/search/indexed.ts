import { CLINICAL_TYPES, HANDOFF_CONTENT_TYPES } from '../resource-types.js';

/**
 * Resource types whose official search parameters are not all indexed: for these, only the listed ones are (and
 * only those are searchable and shown in the CapabilityStatement). Every other type indexes all of its official
 * parameters.
 *
 * The audit trail gets a record for every access to patient data and every token, so it keeps only what it is
 * searched by (store/audit-trail.ts): when, what kind of event, who, which patient, which resource and with what
 * outcome (NEN 7513); the other parameters (action, which the subtype already tells, agent role and network address,
 * entity names and roles, policy, site, the meta parameters, ...) would more than double what each record costs.
 */
const INDEXED_ONLY: Record<string, ReadonlySet<string>> = {
  AuditEvent: new Set(['_id', '_lastUpdated', 'date', 'type', 'subtype', 'outcome', 'agent', 'entity', 'patient']),
};

/** True when the official parameter `code` of `resourceType` is indexed (and so searchable). */
export function isIndexedOfficialParameter(resourceType: string, code: string): boolean {
  return INDEXED_ONLY[resourceType]?.has(code) ?? true;
}

/**
 * The patient data the gateway keeps for others to read by id: the eOverdracht documents and the nl-core content
 * they refer to. The gateway never searches them itself and an EHR seldom does. Not here: Task (every receiver
 * polls it by owner and status), the directory (Organization, Practitioner, PractitionerRole, Location,
 * HealthcareService, Endpoint) and capacity, subscription and conformance resources, which the gateway searches.
 */
const READ_BY_ID = new Set([...HANDOFF_CONTENT_TYPES, ...CLINICAL_TYPES]);

/**
 * Written in a transaction that must stay short and searched only later: the eOverdracht Consents a sender records
 * with each Task change ($handoff p50 ≤ 10 ms), each naming some twenty resources, searched when a receiver pulls.
 */
const SEARCHED_LATER = new Set(['Consent']);

/**
 * Whether the store may write a type's index entries after the resource, in batches (a search still sees every
 * resource stored before it): the patient data read by id.
 */
export function isIndexedLater(resourceType: string): boolean {
  return READ_BY_ID.has(resourceType) || SEARCHED_LATER.has(resourceType);
}

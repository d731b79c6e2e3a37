/** Canonical URLs of the gateway's own code systems, naming systems and extensions. */
export const GATEWAY_CANONICAL = 'https://vervolgzorg-gateway.example/fhir';
/** Identifies an organisation by its configured id (the JWT `iss`/`sub`). */
export const ORGANIZATION_ID_SYSTEM = `${GATEWAY_CANONICAL}/NamingSystem/organization-id`;
/** Identifies one of a tenant's EHR clients by its client id. */
export const EHR_CLIENT_ID_SYSTEM = `${GATEWAY_CANONICAL}/NamingSystem/ehr-client-id`;
/**
 * Why the gateway refused a request, as a code the other side can act on (profiles/r4/auth/CodeSystem-refusal-reason.json):
 * in an OperationOutcome issue's `details.coding`, and in a token error response as REFUSAL_REASON_PARAMETER.
 */
export const REFUSAL_REASON_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/refusal-reason`;
export const REFUSAL_REASONS = { credentialRevoked: 'credential-revoked', userIdentityRequired: 'user-identity-required' } as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[keyof typeof REFUSAL_REASONS];
/** The vendor-prefixed member (RFC 6749 §8.2) of a token error response that carries a refusal reason. */
export const REFUSAL_REASON_PARAMETER = 'vervolgzorg_refusal_reason';

/**
 * The state of an inbound transfer as the receiving EHR sees it on its local Task (Task.businessStatus, beside the
 * sender's status): `awaiting-person` while the sender opens the nursing handoff only to a named person and nobody
 * at the receiver has been named yet (docs/transfer.md, A handoff that needs a person;
 * profiles/r4/transfer/CodeSystem-transfer-state.json).
 */
export const TRANSFER_STATE_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/transfer-state`;

/** The care types the gateway's transfers ask for and its capacity reports count (profiles/r4/capacity). */
export const CARE_TYPE_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/care-type`;
export const CARE_TYPE_VALUESET = `${GATEWAY_CANONICAL}/ValueSet/care-type`;

/** SNOMED CT: the eOverdracht Task and document codes, some vital signs codes. */
export const SNOMED = 'http://snomed.info/sct';

/** Dutch identifier systems of care organisations: the URA (UZI register) and the AGB code. */
export const URA_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/ura';
export const AGB_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/agb-z';

/** Identifier.system of an identifier that is a URI itself (a `urn:uuid:`, a canonical URL). */
export const URI_SYSTEM = 'urn:ietf:rfc:3986';

/**
 * Resource-level Consents as the Nuts generic functions record them (R4 Consent.scope; the Knooppunt's PIP counts a
 * Consent only with this scope coding and the action `access`): network-protocols.md §1.7.
 */
export const CONSENT_SCOPE_SYSTEM = 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-consent-scope';
export const EOVERDRACHT_CONSENT_SCOPE = 'eoverdracht';
export const CONSENT_ACTION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentaction';
/**
 * On a Consent the sender records (valueBoolean true): the resources it names are opened only to a token that names a
 * person (the grant's usi, or an employee or Dezi credential). Set from conformance/person-policy.json.
 */
export const CONSENT_REQUIRES_PERSON_EXTENSION = `${GATEWAY_CANONICAL}/StructureDefinition/consent-requires-person`;

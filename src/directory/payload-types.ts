import { GATEWAY_CANONICAL } from '../vocabulary/canonical.js';

/**
 * The generic functions' data-exchange capabilities (nl-generic-functions IG, CodeSystem
 * nl-gf-data-exchange-capabilities): an Endpoint's payloadType says what it is for.
 */
export const PAYLOAD_TYPE_SYSTEM = 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities';

export const PAYLOAD_TYPES = {
  /** The receiver's notification base (Twiin TA Notified Pull: the notification Task goes to `{address}/Task`). */
  twiinNotification: 'Twiin-TA-notification',
  /** The older alias of a notification endpoint (Nuts Bolt v1: an empty POST to `{address}/{task id}`). */
  eOverdrachtNotification: 'eOverdracht-notification',
  /** The sender's STU3 FHIR base (workflow Task, Compositions). */
  eOverdrachtServer: 'http://nictiz.nl/fhir/CapabilityStatement/eOverdracht-servercapabilities',
  /**
   * A coordination point's R4 FHIR base (availability publication, `$match-capacity`). No generic function names
   * one, so the gateway's own canonical does.
   */
  capacityCoordination: `${GATEWAY_CANONICAL}/CapabilityStatement/capacity-coordination`,
  /**
   * The organisation's authorization server, addressed by its Nuts v6 issuer (`{base}/oauth2/{subject}`, RFC 8414
   * metadata under it), which is what a Nuts client passes as `authorization_server`.
   */
  nutsOAuth: 'Nuts-OAuth',
  /**
   * The token endpoint of the older RFC003 grant, for a caller that cannot present an X509Credential. The generic
   * functions name none (their `Nuts-OAuth` is the v6 authorization server), so the gateway's own canonical does.
   */
  rfc003Token: `${GATEWAY_CANONICAL}/CapabilityStatement/nuts-rfc003-token`,
  /** An mCSD administration directory (what update clients discover from a root directory). */
  adminDirectory: 'http://nuts-foundation.github.io/nl-generic-functions-ig/CapabilityStatement/nl-gf-admin-directory-update-client',
} as const;

/** The resource types of a care-services directory (IHE mCSD), the order an update client asks for them. */
export const DIRECTORY_RESOURCE_TYPES = ['Organization', 'Endpoint', 'HealthcareService', 'Location'] as const;
/** What a root directory (regional, national) is read for: discovering the organisations' own directories. */
export const ROOT_RESOURCE_TYPES = ['Organization', 'Endpoint'] as const;

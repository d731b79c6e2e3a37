import type { OperationOutcome } from './outcome.js';
import type { FhirVersion } from './version.js';

/** What an authenticated caller is, as the resource server sees it. The tenant always comes from here. */
export interface Principal {
  /** The hosted organisation whose data the call reads or writes (the token's authorizer). */
  tenant: string;
  /** `ehr`: the tenant's own EHR (full access to its own data); `organization`: a remote care organisation. */
  kind: 'ehr' | 'organization';
  /** EHR client id, or the remote organisation's id (the grant's `iss`). */
  requester: string;
  purposeOfUse?: string;
  /** For remote organisations: exactly what they may touch (from their authorization credentials). */
  resources: GrantedResource[];
  /**
   * The person behind the call, when the grant carried one (RFC003: `usi`; Nuts v6: an employee or Dezi credential).
   * A granted resource marked `userContext` and a Consent marked by the person policy are opened only with one; every
   * AuditEvent names them.
   */
  person?: Person;
  /** The requesting care organisation as its credential proved it (Nuts v6 grants: the X509Credential's URA and O). */
  organization?: { ura: string; name?: string };
  /** Access token id, for audit. */
  tokenId?: string;
}

/** FHIR restful interactions as the guard asks for them; `batch` and `transaction` are a Bundle posted to the base. */
export type Operation = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'delete' | 'operation' | 'batch' | 'transaction';

/** A person as the requesting organisation vouches for them: their identifier there (or UZI/Dezi number), name and role. */
export interface Person {
  identifier: string;
  name: string;
  role?: string;
  /**
   * A Dezi id_token the tenant's EHR handed over for this person (verified here, for the tenant's URA): the token
   * client presents it (a DeziUserCredential) instead of an employee credential the organisation attests itself. A
   * credential: sealed from the moment it is verified (encrypted, auth/credentials/sealedDezi.ts) and opened only to
   * build that credential; never logged nor put in an AuditEvent or an introspection response; kept only while needed
   * (the EHR's access token, which lives no longer than it; an inbound transfer's record until its handoff is stored).
   */
  dezi?: SealedDezi;
}

/** A Dezi id_token as the gateway keeps it: encrypted (AES-256-GCM), only its expiry readable. */
export interface SealedDezi {
  /** The id_token's `exp` (seconds since the epoch). */
  exp: number;
  /** base64url of IV, ciphertext and tag. */
  sealed: string;
}

export interface GrantedResource {
  /** Path relative to the FHIR base, e.g. `/Task/123` or `/Composition/abc`. Matched exactly. */
  path: string;
  operations: Operation[];
  /** Only with a person in the token (Principal.person); set by the credential's issuer (RFC014 `userContext`). */
  userContext: boolean;
}

/** One FHIR request as the guard judges it. */
export interface AccessRequest {
  version: FhirVersion;
  operation: Operation;
  /** Path relative to the FHIR base, e.g. `/Task/123`, `/Task` (search/create), `/Task/123/_history/2`. */
  path: string;
  resourceType?: string;
  /** Which API the request came in on (default `fhir`); the eOverdracht notification endpoint is `notification`, the published care-services directory `directory`. */
  endpoint?: 'fhir' | 'notification' | 'directory';
}

/** The request a token came with, as far as a DPoP proof signs it (RFC 9449 §4.3, §7.1). */
export interface PresentedRequest {
  method: string;
  /** The request's URL as the client addressed it (the public base URL and the path). */
  url: string;
  /** The request's DPoP header(s). */
  dpop?: string | string[];
}

/** The resource server's view of authentication, implemented in `auth/` and used by `http/`. */
export interface Authenticator {
  /**
   * Resolves an access token (the Authorization header: `Bearer`, or `DPoP` with the request's proof) to a principal,
   * or an `unauthorized` outcome.
   */
  authenticate(authorization: string | undefined, request: PresentedRequest): Promise<Principal | OperationOutcome>;
  /** Decides whether the principal may perform the request; undefined = allowed, else a `forbidden` outcome. */
  authorize(principal: Principal, request: AccessRequest): Promise<OperationOutcome | undefined>;
}

import { randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { Json } from '../fhir/convert/json.js';
import { isObject } from '../vocabulary/json.js';
import type { CredentialRecords } from '../store/repository.js';
import type { GrantedResource, Operation } from '../fhir/principal.js';
import { claimsOf, CredentialRevoked, numericDate, TokenError, verifyJws } from './jws.js';
import { isKnownPurpose } from './purposes.js';
import { CLOCK_SKEW_SECONDS, TOKEN_TYPES } from './rules.js';
import { splitKid } from './keyIndex.js';
import type { HostedParty, TrustRegistry } from './trust.js';

/**
 * Authorization credentials in the RFC014 shape (NutsAuthorizationCredential), as JWT VCs signed by the issuing
 * (custodian) organisation. Each issued credential is kept in the store's credential records, so revocation survives
 * restarts and every instance sees it at once.
 */

export const OPERATIONS: readonly Operation[] = ['read', 'vread', 'search', 'history', 'create', 'update', 'delete', 'operation'];

export interface CredentialRequest {
  /** The actor organisation allowed to use it (e.g. the receiving VVT). */
  subject: string;
  purposeOfUse: string;
  resources: GrantedResource[];
  expiresAt?: Date;
  /** Patient identifier (e.g. `urn:oid:2.16.840.1.113883.2.4.6.3:<BSN>`), RFC014 `subject`. */
  patient?: string;
}

export interface AuthorizationCredential extends CredentialRequest {
  id: string;
  issuer: string;
  issuedAt: Date;
}

export interface CredentialService {
  /** Issues, signs and stores a credential from a hosted organisation. */
  issue(issuer: string, request: CredentialRequest): Promise<{ credential: AuthorizationCredential; jwt: string }>;
  /** Checks a credential presented in a grant: issuer = grant sub, subject = grant iss, validity, purpose, not revoked. */
  verifyPresented(jwt: unknown, grant: { iss: string; sub: string; purposeOfUse: string }, now: number): Promise<AuthorizationCredential>;
  /** Revokes a credential of the issuer; false when the issuer has no such credential. */
  revoke(issuer: string, id: string): Promise<boolean>;
  /** True while the credential exists and is not revoked (checked on every guarded request). */
  isActive(issuer: string, id: string): Promise<boolean>;
  /** The same service, keeping its records in `records` (those of a unit of work: a transaction's `tx`). */
  over(records: CredentialRecords): CredentialService;
}

export function isGrantedResource(value: unknown): value is GrantedResource {
  const resource = isObject(value) ? value : undefined;
  return (
    resource !== undefined &&
    typeof resource.path === 'string' &&
    resource.path.startsWith('/') &&
    Array.isArray(resource.operations) &&
    resource.operations.length > 0 &&
    resource.operations.every((operation) => OPERATIONS.includes(operation)) &&
    typeof resource.userContext === 'boolean'
  );
}

/** The `credentialSubject` of a JWT VC's claims (its members unchecked), if the claims carry one. */
export function credentialSubjectOf(claims: JWTPayload | undefined): Json | undefined {
  const vc = claims?.vc;
  return isObject(vc) && isObject(vc.credentialSubject) ? vc.credentialSubject : undefined;
}

const isAuthorizationCredential = (claims: JWTPayload) => isObject(claims.vc) && Array.isArray(claims.vc.type) && claims.vc.type.includes('NutsAuthorizationCredential');

function credentialFromClaims(claims: JWTPayload): AuthorizationCredential {
  const subject = credentialSubjectOf(claims);
  if (!isAuthorizationCredential(claims) || !subject) {
    throw new TokenError('not a NutsAuthorizationCredential');
  }
  const resources = subject.resources ?? [];
  if (!Array.isArray(resources) || !resources.every(isGrantedResource)) throw new TokenError('credential resources are malformed');
  if (typeof claims.jti !== 'string' || typeof claims.iss !== 'string' || typeof claims.sub !== 'string') {
    throw new TokenError('credential needs jti, iss and sub');
  }
  if (subject.id !== claims.sub) throw new TokenError('credentialSubject.id differs from sub');
  if (typeof subject.purposeOfUse !== 'string') throw new TokenError('credential has no purposeOfUse');
  const expiresAt = numericDate(claims, 'exp', 'credential exp');
  return {
    id: claims.jti,
    issuer: claims.iss,
    subject: claims.sub,
    purposeOfUse: subject.purposeOfUse,
    resources,
    issuedAt: new Date((numericDate(claims, 'iat', 'credential iat') ?? 0) * 1000),
    ...(expiresAt !== undefined ? { expiresAt: new Date(expiresAt * 1000) } : {}),
    ...(typeof subject.subject === 'string' ? { patient: subject.subject } : {}),
  };
}

async function signCredential(party: HostedParty, credential: AuthorizationCredential): Promise<string> {
  const jwt = new SignJWT({
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1', 'https://nuts.nl/credentials/v1'],
      type: ['VerifiableCredential', 'NutsAuthorizationCredential'],
      credentialSubject: {
        id: credential.subject,
        legalBase: { consentType: 'implied' },
        purposeOfUse: credential.purposeOfUse,
        resources: credential.resources,
        ...(credential.patient ? { subject: credential.patient } : {}),
      },
    },
  })
    .setProtectedHeader({ alg: party.signing.alg, kid: party.signing.kid, typ: TOKEN_TYPES.credential })
    .setIssuer(credential.issuer)
    .setSubject(credential.subject)
    .setJti(credential.id)
    .setIssuedAt(credential.issuedAt)
    .setNotBefore(credential.issuedAt);
  if (credential.expiresAt) jwt.setExpirationTime(credential.expiresAt);
  return jwt.sign(party.signing.key);
}

function checkValidity(claims: JWTPayload, now: number): void {
  const nbf = numericDate(claims, 'nbf', 'credential nbf');
  const exp = numericDate(claims, 'exp', 'credential exp');
  if (nbf !== undefined && nbf > now + CLOCK_SKEW_SECONDS) throw new TokenError('credential not valid yet');
  if (exp !== undefined && exp + CLOCK_SKEW_SECONDS <= now) throw new TokenError('credential expired');
}

export function createCredentialService(registry: TrustRegistry, records: CredentialRecords, clock: () => number = Date.now): CredentialService {
  async function isActive(issuer: string, id: string): Promise<boolean> {
    const record = await records.find(issuer, id);
    return record !== undefined && record.revokedAt === undefined;
  }

  return {
    async issue(issuer, request) {
      const party = registry.hosted(issuer);
      if (!party) throw new Error(`'${issuer}' is not hosted here`);
      if (!isKnownPurpose(request.purposeOfUse)) throw new Error(`unknown purposeOfUse '${request.purposeOfUse}'`);
      if (!request.resources.every(isGrantedResource)) throw new Error('malformed credential resources');
      const issuedAt = new Date(Math.floor(clock() / 1000) * 1000);
      const credential: AuthorizationCredential = { ...request, id: randomUUID(), issuer, issuedAt };
      const jwt = await signCredential(party, credential);
      await records.add({ issuer, id: credential.id, jwt, issuedAt });
      return { credential, jwt };
    },

    async verifyPresented(jwt, grant, now) {
      const { payload } = await verifyJws(jwt, (header) => {
        if (header.typ !== TOKEN_TYPES.credential) throw new TokenError(`credential typ must be ${TOKEN_TYPES.credential}`);
        const kid = splitKid(header.kid);
        if (kid?.owner !== grant.sub) throw new TokenError('credential is not issued by the authorizer (grant sub)');
        return registry.hosted(kid.owner)?.verification.get(kid.fragment);
      });
      const claims = claimsOf(payload);
      if (claims.iss !== grant.sub) throw new TokenError('credential is not issued by the authorizer (grant sub)');
      const credential = credentialFromClaims(claims);
      if (credential.subject !== grant.iss) throw new TokenError('credential is for another subject');
      if (credential.purposeOfUse !== grant.purposeOfUse) throw new TokenError('credential purposeOfUse differs from the grant');
      checkValidity(claims, now);
      if (!(await isActive(grant.sub, credential.id))) throw new CredentialRevoked('credential revoked or unknown');
      return credential;
    },

    revoke: (issuer, id) => records.revoke(issuer, id, new Date(clock())),

    isActive,

    over: (other) => createCredentialService(registry, other, clock),
  };
}

import { createHash, randomFillSync, timingSafeEqual } from 'node:crypto';
import { newResourceId } from '../store/ids.js';
import type { AccessTokenRecord } from '../store/repository.js';
import type { GrantedResource, Principal } from '../fhir/principal.js';
import { TokenError } from './jws.js';
import { ACCESS_TOKEN_LIFETIME_SECONDS } from './rules.js';
import type { HostedParty, TrustRegistry } from './trust.js';

/**
 * Access tokens are opaque to their holders (RFC 6749 §1.4): `<id>.<secret>`, a UUIDv7 and 256 random bits. What a
 * token grants is kept in the store under its id, with a SHA-256 of the secret, so every instance on the same
 * database honours it and the table alone opens nothing. Nothing is signed: signing and verifying a JWS on every
 * token cost more than storing a row in the commit that already records the grant's jti and AuditEvent. Tokens are
 * bound to requester, authorizer, purpose and granted resources, and name the credentials they rest on so the
 * resource server can check revocation on every request.
 */
export interface AccessTokenClaims {
  /** The authorization server (this gateway's public base URL). */
  iss: string;
  /** The resource server (the same gateway). */
  aud: string;
  /** Requester: remote organisation id or EHR client id. */
  sub: string;
  client_id: string;
  /** Authorizer: the hosted organisation whose data the token opens. */
  tenant: string;
  kind: Principal['kind'];
  purposeOfUse?: string;
  resources: GrantedResource[];
  /** Ids of the authorization credentials (issued by the tenant) the resources come from. */
  credentials: string[];
  organization?: Principal['organization'];
  person?: Principal['person'];
  /** The Presentation Definition field claims of a Nuts v6 grant (`organization_ura`, ...), for introspection. */
  presentationClaims?: Record<string, string>;
  /** RFC 9449 §6: the thumbprint of the key the token is bound to (a DPoP token); absent for a bearer token. */
  cnf?: { jkt: string };
  /** The token's id: the first part of the token. */
  jti: string;
  iat: number;
  exp: number;
}

export type AccessTokenGrant = Pick<
  AccessTokenClaims,
  'sub' | 'kind' | 'purposeOfUse' | 'resources' | 'credentials' | 'organization' | 'person' | 'presentationClaims' | 'cnf'
> & {
  /** The client_id the request named (Nuts v6: echoed, not trusted); default the requester. */
  clientId?: string;
};

export interface IssuedAccessToken {
  token: string;
  claims: AccessTokenClaims;
  /** What the store keeps of it; the token is valid once this is saved. */
  record: AccessTokenRecord;
}

const SECRET_BYTES = 32;
const SECRETS_PER_FILL = 128;
const secretPool = Buffer.alloc(SECRET_BYTES * SECRETS_PER_FILL);
let secretsLeft = 0;

/** Cut from a pool filled 128 secrets at a time, as node does for randomUUID: one call to OpenSSL's generator for many. */
function newSecret(): string {
  if (secretsLeft === 0) {
    randomFillSync(secretPool);
    secretsLeft = SECRETS_PER_FILL;
  }
  secretsLeft -= 1;
  return secretPool.toString('base64url', secretsLeft * SECRET_BYTES, (secretsLeft + 1) * SECRET_BYTES);
}

/** `<UUIDv7 id>.<43 base64url characters of secret>`. */
const TOKEN_FORMAT = /^([0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/;

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export function issueAccessToken(authorizer: HostedParty, issuer: string, grant: AccessTokenGrant, now: number, notAfter?: number): IssuedAccessToken {
  const exp = Math.min(now + ACCESS_TOKEN_LIFETIME_SECONDS, notAfter ?? Infinity);
  const id = newResourceId();
  const claims: AccessTokenClaims = {
    iss: issuer,
    aud: issuer,
    sub: grant.sub,
    client_id: grant.clientId ?? grant.sub,
    tenant: authorizer.organization.id,
    kind: grant.kind,
    ...(grant.purposeOfUse ? { purposeOfUse: grant.purposeOfUse } : {}),
    resources: grant.resources,
    credentials: grant.credentials,
    ...(grant.organization ? { organization: grant.organization } : {}),
    ...(grant.person ? { person: grant.person } : {}),
    ...(grant.presentationClaims ? { presentationClaims: grant.presentationClaims } : {}),
    ...(grant.cnf ? { cnf: grant.cnf } : {}),
    jti: id,
    iat: now,
    exp,
  };
  const secret = newSecret();
  const record = { id, secretHash: hashOf(secret), claims: JSON.stringify(claims), expiresAt: new Date(exp * 1000) };
  return { token: `${id}.${secret}`, claims, record };
}

/** The id a presented token names; throws when it does not have the form of a token issued here. */
export function accessTokenId(token: string): string {
  const match = TOKEN_FORMAT.exec(token);
  if (!match) throw new TokenError('not an access token issued here');
  return match[1]!;
}

function secretMatches(token: string, record: AccessTokenRecord): boolean {
  const presented = Buffer.from(hashOf(token.slice(token.indexOf('.') + 1)));
  const kept = Buffer.from(record.secretHash);
  return presented.length === kept.length && timingSafeEqual(presented, kept);
}

/** The claims of `token` from its stored record (undefined: none found); throws TokenError when it is not valid now. */
export function claimsOfToken(token: string, record: AccessTokenRecord | undefined, registry: TrustRegistry, now: number): AccessTokenClaims {
  if (!record || !secretMatches(token, record)) throw new TokenError('unknown access token');
  const claims = JSON.parse(record.claims) as AccessTokenClaims;
  if (claims.iss !== registry.publicBaseUrl || !registry.hosted(claims.tenant)) throw new TokenError('not issued for this gateway');
  if (claims.exp <= now) throw new TokenError('token expired');
  return claims;
}

export function principalOf(claims: AccessTokenClaims): Principal {
  return {
    tenant: claims.tenant,
    kind: claims.kind,
    requester: claims.sub,
    ...(claims.purposeOfUse ? { purposeOfUse: claims.purposeOfUse } : {}),
    resources: claims.resources,
    ...(claims.organization ? { organization: claims.organization } : {}),
    ...(claims.person ? { person: claims.person } : {}),
    tokenId: claims.jti,
  };
}

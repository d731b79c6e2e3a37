import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { GrantedResource, Principal } from './principal.js';
import { claimsOf, TokenError, verifyJws } from './jws.js';
import { ACCESS_TOKEN_LIFETIME_SECONDS, CLOCK_SKEW_SECONDS, TOKEN_TYPES } from './rules.js';
import { splitKid, type HostedParty, type TrustRegistry } from './trust.js';

/**
 * Access tokens are self-contained JWS (RFC 9068 `at+jwt`) signed with the authorizer's (tenant's) current key:
 * any gateway instance with the same configuration verifies them without a database round trip. They are bound to
 * requester, authorizer, purpose and granted resources, and name the credentials they rest on so the resource
 * server can check revocation on every request.
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
  user?: Principal['user'];
  jti: string;
  iat: number;
  exp: number;
}

export type AccessTokenGrant = Pick<AccessTokenClaims, 'sub' | 'kind' | 'purposeOfUse' | 'resources' | 'credentials' | 'user'>;

export async function issueAccessToken(
  authorizer: HostedParty,
  issuer: string,
  grant: AccessTokenGrant,
  now: number,
  notAfter?: number,
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const exp = Math.min(now + ACCESS_TOKEN_LIFETIME_SECONDS, notAfter ?? Infinity);
  const claims: AccessTokenClaims = {
    iss: issuer,
    aud: issuer,
    sub: grant.sub,
    client_id: grant.sub,
    tenant: authorizer.organization.id,
    kind: grant.kind,
    ...(grant.purposeOfUse ? { purposeOfUse: grant.purposeOfUse } : {}),
    resources: grant.resources,
    credentials: grant.credentials,
    ...(grant.user ? { user: grant.user } : {}),
    jti: randomUUID(),
    iat: now,
    exp,
  };
  const { signing } = authorizer;
  const token = await new SignJWT({ ...claims })
    .setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: TOKEN_TYPES.accessToken })
    .sign(signing.key);
  return { token, claims };
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Verifies an access token issued by this gateway; throws TokenError when it is not (or no longer) valid. */
export async function verifyAccessToken(token: string, registry: TrustRegistry, now: number): Promise<AccessTokenClaims> {
  let authorizer: string | undefined;
  const { payload } = await verifyJws(token, (header) => {
    if (header.typ !== TOKEN_TYPES.accessToken) throw new TokenError(`typ must be ${TOKEN_TYPES.accessToken}`);
    const kid = splitKid(header.kid);
    const party = kid && registry.hosted(kid.owner);
    if (!kid || !party) throw new TokenError('not issued by this gateway');
    authorizer = kid.owner;
    return party.verification.get(kid.fragment);
  });
  const claims = claimsOf(payload) as Partial<AccessTokenClaims>;
  if (claims.iss !== registry.publicBaseUrl || claims.aud !== registry.publicBaseUrl) throw new TokenError('not issued for this gateway');
  if (claims.tenant !== authorizer) throw new TokenError('tenant does not match the signing key');
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw new TokenError('token expired');
  if (typeof claims.iat !== 'number' || claims.iat > now + CLOCK_SKEW_SECONDS) throw new TokenError('iat is in the future');
  if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string') throw new TokenError('sub and jti are required');
  if (claims.kind !== 'ehr' && claims.kind !== 'organization') throw new TokenError('unknown token kind');
  if (!Array.isArray(claims.resources) || !isStringArray(claims.credentials)) throw new TokenError('malformed grant claims');
  return claims as AccessTokenClaims;
}

export function principalOf(claims: AccessTokenClaims): Principal {
  return {
    tenant: claims.tenant,
    kind: claims.kind,
    requester: claims.sub,
    ...(claims.purposeOfUse ? { purposeOfUse: claims.purposeOfUse } : {}),
    resources: claims.resources,
    ...(claims.user ? { user: claims.user } : {}),
    tokenId: claims.jti,
  };
}

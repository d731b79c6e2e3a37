import type { AccessTokenRecords } from '../store/repository.js';
import { accessTokenId, claimsOfToken, type AccessTokenClaims } from './accessToken.js';
import type { CredentialService } from './credentials.js';
import { CredentialRevoked, TokenError } from './jws.js';
import { nowSeconds } from './rules.js';
import type { TrustRegistry } from './trust.js';

/**
 * Resource-server side of access tokens: what a token grants comes from the store (kept in memory per token until
 * it expires; a token issued by this instance is there from the start), then, on EVERY call, whether the
 * credentials it rests on are still active, so a revoked credential stops its tokens at once.
 */
export interface TokenVerifier {
  verify(token: string): Promise<AccessTokenClaims>;
  /** A token this instance has just issued (and stored): no need to read it back. */
  remember(token: string, claims: AccessTokenClaims): void;
}

const MAX_CACHED_TOKENS = 10_000;

export function createTokenVerifier(
  registry: TrustRegistry,
  records: AccessTokenRecords,
  credentials: CredentialService,
  clock: () => number = Date.now,
): TokenVerifier {
  const known = new Map<string, AccessTokenClaims>();

  function remember(token: string, claims: AccessTokenClaims): void {
    if (known.size >= MAX_CACHED_TOKENS) known.delete(known.keys().next().value as string);
    known.set(token, claims);
  }

  async function grantedClaims(token: string, now: number): Promise<AccessTokenClaims> {
    const cached = known.get(token);
    if (cached) {
      if (cached.exp > now) return cached;
      known.delete(token);
      throw new TokenError('token expired');
    }
    const claims = claimsOfToken(token, await records.find(accessTokenId(token)), registry, now);
    remember(token, claims);
    return claims;
  }

  return {
    remember,
    async verify(token) {
      const claims = await grantedClaims(token, nowSeconds(clock));
      for (const id of claims.credentials) {
        if (!(await credentials.isActive(claims.tenant, id))) throw new CredentialRevoked('authorization credential revoked');
      }
      return claims;
    },
  };
}

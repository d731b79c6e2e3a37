import type { AccessTokenClaims } from './accessToken.js';
import { verifyAccessToken } from './accessToken.js';
import type { CredentialService } from './credentials.js';
import { TokenError } from './jws.js';
import { nowSeconds } from './rules.js';
import type { TrustRegistry } from './trust.js';

/**
 * Resource-server side of access tokens: signature and claims (cached per token string until it expires, since a
 * JWS never changes), then, on EVERY call, whether the credentials it rests on are still active, so a revoked
 * credential stops its tokens at once.
 */
export interface TokenVerifier {
  verify(token: string): Promise<AccessTokenClaims>;
}

const MAX_CACHED_TOKENS = 10_000;

export function createTokenVerifier(registry: TrustRegistry, credentials: CredentialService, clock: () => number = Date.now): TokenVerifier {
  const verified = new Map<string, AccessTokenClaims>();

  async function signedClaims(token: string, now: number): Promise<AccessTokenClaims> {
    const cached = verified.get(token);
    if (cached) {
      if (cached.exp > now) return cached;
      verified.delete(token);
      throw new TokenError('token expired');
    }
    const claims = await verifyAccessToken(token, registry, now);
    if (verified.size >= MAX_CACHED_TOKENS) verified.delete(verified.keys().next().value as string);
    verified.set(token, claims);
    return claims;
  }

  return {
    async verify(token) {
      const claims = await signedClaims(token, nowSeconds(clock));
      for (const id of claims.credentials) {
        if (!(await credentials.isActive(claims.tenant, id))) throw new TokenError('authorization credential revoked');
      }
      return claims;
    },
  };
}

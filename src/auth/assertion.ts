import type { JWTPayload } from 'jose';
import type { VerificationKey } from './jwk.js';
import { claimsOf, numericDate, TokenError, unverifiedClaims, verifyJws } from './jws.js';
import { CLOCK_SKEW_SECONDS, MAX_ASSERTION_LIFETIME_SECONDS, TOKEN_TYPES } from './rules.js';
import { splitKid } from './keyIndex.js';

/**
 * A signed assertion of RFC 7523 (a JWT bearer grant or a private-key-JWT client assertion), checked the same
 * way for both: `typ`, kid owned by `iss`, `iss` known, signature, `aud`, the 5-second `iat`/`exp` window, `jti`.
 */
export interface AssertionRules {
  /** The token endpoint URL this assertion must be addressed to. */
  audience: string;
  now: number;
  /** Grants must say `typ: JWT`; client assertions may leave `typ` out (RFC 7523 does not require it). */
  typRequired: boolean;
  isKnownIssuer(iss: string): boolean;
  key(iss: string, fragment: string): Promise<VerificationKey | undefined>;
}

export interface VerifiedAssertion {
  iss: string;
  sub: string;
  jti: string;
  iat: number;
  exp: number;
  claims: JWTPayload;
}

const nonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const MAX_JTI_LENGTH = 256;

/** Exactly this endpoint: the string, or an array holding it alone (an assertion also meant for another is refused). */
function checkAudience(aud: unknown, audience: string): void {
  const matches = aud === audience || (Array.isArray(aud) && aud.length === 1 && aud[0] === audience);
  if (!matches) throw new TokenError(`aud must be ${audience}`);
}

/** iat/exp window of DESIGN §3: exp - iat <= 5 s, neither iat in the future nor exp in the past beyond 5 s skew. */
export function checkAssertionWindow(claims: JWTPayload, now: number): { iat: number; exp: number } {
  const iat = numericDate(claims, 'iat');
  const exp = numericDate(claims, 'exp');
  const nbf = numericDate(claims, 'nbf');
  if (iat === undefined) throw new TokenError('iat is required');
  if (exp === undefined) throw new TokenError('exp is required');
  if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) throw new TokenError(`exp - iat exceeds ${MAX_ASSERTION_LIFETIME_SECONDS} s`);
  if (exp < iat) throw new TokenError('exp is before iat');
  if (iat > now + CLOCK_SKEW_SECONDS) throw new TokenError('iat is in the future');
  if (nbf !== undefined && nbf > now + CLOCK_SKEW_SECONDS) throw new TokenError('not valid yet (nbf)');
  if (exp + CLOCK_SKEW_SECONDS <= now) throw new TokenError('expired');
  return { iat, exp };
}

export async function verifyAssertion(assertion: string, rules: AssertionRules): Promise<VerifiedAssertion> {
  const claimedIssuer = unverifiedClaims(assertion).iss;
  if (!nonEmptyString(claimedIssuer)) throw new TokenError('iss is required');
  const { payload } = await verifyJws(assertion, async (header) => {
    const typ = header.typ?.toUpperCase();
    if (typ !== TOKEN_TYPES.grant && (rules.typRequired || typ !== undefined)) throw new TokenError(`typ must be ${TOKEN_TYPES.grant}`);
    const kid = splitKid(header.kid);
    if (!kid) throw new TokenError('kid must be <iss>#<key id>');
    if (kid.owner !== claimedIssuer) throw new TokenError('kid does not belong to iss');
    if (!rules.isKnownIssuer(claimedIssuer)) throw new TokenError(`issuer '${claimedIssuer}' is not trusted`);
    return rules.key(claimedIssuer, kid.fragment);
  });
  const claims = claimsOf(payload);
  checkAudience(claims.aud, rules.audience);
  const { iat, exp } = checkAssertionWindow(claims, rules.now);
  if (!nonEmptyString(claims.jti) || claims.jti.length > MAX_JTI_LENGTH) throw new TokenError('jti is required');
  if (!nonEmptyString(claims.sub)) throw new TokenError('sub is required');
  return { iss: claimedIssuer, sub: claims.sub, jti: claims.jti, iat, exp, claims };
}

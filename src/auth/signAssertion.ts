import { randomUUID } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { importSigningKey } from './jwk.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, MAX_ASSERTION_LIFETIME_SECONDS, nowSeconds } from './rules.js';

/**
 * Signs an RFC 7523 assertion as a party outside the gateway signs it: a hosted organisation's EHR (private-key-JWT
 * client assertion, `sub` = `iss`) or a remote organisation's grant. `typ: JWT`, a fresh `jti`, the maximum 5 s life.
 */
export async function signAssertion(
  issuer: string,
  jwk: JWK,
  audience: string,
  options: { subject?: string; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const key = await importSigningKey(issuer, jwk);
  const now = nowSeconds();
  return new SignJWT(options.claims ?? {})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(options.subject ?? issuer)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + MAX_ASSERTION_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(key.key);
}

/** The token request form of the client-credentials grant with a private-key-JWT assertion. */
export function clientCredentialsForm(assertion: string): URLSearchParams {
  return new URLSearchParams({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion });
}

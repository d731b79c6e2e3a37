import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { GatewayError } from '../errors.js';
import { REFUSAL_REASONS, type RefusalReason } from '../vocabulary/canonical.js';
import type { VerificationKey } from './jwk.js';
import { isSigningAlgorithm, type SigningAlgorithm } from './rules.js';
import { signatureMatches } from './signature.js';

/** Why a token was refused; the caller turns it into its own error (OAuth error body, 401 challenge). */
export class TokenError extends GatewayError {
  static override readonly code: string = 'ERR_TOKEN_INVALID';
  /** The reason the refusal tells the other side as a code, when it is one the other side acts on. */
  readonly reason?: RefusalReason;
}

/** The token or grant rests on an authorization credential that was revoked (or that its issuer does not know). */
export class CredentialRevoked extends TokenError {
  static override readonly code = 'ERR_CREDENTIAL_REVOKED';
  override readonly reason = REFUSAL_REASONS.credentialRevoked;
}

export type JwsHeader = ProtectedHeaderParameters & { alg: SigningAlgorithm };

/** Finds the trusted key a header names; undefined = unknown key. It may throw to refuse the header outright. */
export type KeyResolver = (header: JwsHeader) => Promise<VerificationKey | undefined> | VerificationKey | undefined;

export interface VerifiedJws {
  header: JwsHeader;
  payload: Uint8Array;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** The header parameters read here that RFC 7515 §4.1 makes strings; a value of another type is refused before use. */
const STRING_HEADER_PARAMETERS = ['alg', 'typ', 'kid', 'cty'] as const;

function protectedHeader(jws: unknown): ProtectedHeaderParameters {
  if (typeof jws !== 'string' || !COMPACT_JWS.test(jws)) throw new TokenError('not a compact JWS');
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new TokenError('malformed JWS header');
  }
  for (const name of STRING_HEADER_PARAMETERS) {
    if (header[name] !== undefined && typeof header[name] !== 'string') throw new TokenError(`header ${name} must be a string`);
  }
  return header as ProtectedHeaderParameters;
}

/** base64url without padding, in its one canonical spelling (the compact form's characters are checked already). */
function strictBase64url(part: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw new TokenError('JWS part is not canonical base64url');
  return bytes;
}

/**
 * The one signature check every token goes through (grants, client assertions, credentials): compact serialisation
 * only, canonical base64url, an allowed asymmetric `alg`, no `crit` extensions (none is understood here), a key from
 * the caller's trust source (never one the token carries itself), that key allowed for exactly this `alg`, and a
 * valid signature (signature.ts).
 */
export async function verifyJws(jws: unknown, resolveKey: KeyResolver): Promise<VerifiedJws> {
  const header = protectedHeader(jws);
  if (!isSigningAlgorithm(header.alg)) throw new TokenError(`alg '${header.alg ?? ''}' is not allowed`);
  if (header.crit !== undefined) throw new TokenError('crit header parameters are not supported');
  const checked = header as JwsHeader;
  const key = await resolveKey(checked);
  if (!key) throw new TokenError(`unknown key '${checked.kid ?? ''}'`);
  const publicKey = key.keys.get(checked.alg);
  if (!publicKey) throw new TokenError(`key '${checked.kid ?? ''}' may not sign with ${checked.alg}`);
  const [encodedHeader, encodedPayload, encodedSignature] = (jws as string).split('.') as [string, string, string];
  strictBase64url(encodedHeader);
  const payload = strictBase64url(encodedPayload);
  if (!signatureMatches(checked.alg, publicKey, `${encodedHeader}.${encodedPayload}`, strictBase64url(encodedSignature))) {
    throw new TokenError('signature verification failed');
  }
  return { header: checked, payload };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The verified payload as a JWT claims object. */
export function claimsOf(payload: Uint8Array): JWTPayload {
  let claims: unknown;
  try {
    claims = JSON.parse(decoder.decode(payload));
  } catch {
    throw new TokenError('payload is not JSON');
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new TokenError('payload is not a JSON object');
  return claims as JWTPayload;
}

/**
 * A NumericDate claim (`iat`, `exp`, `nbf`; RFC 7519 §2): a finite number, or undefined when absent. Any other value
 * is refused rather than ignored, so a claim that cannot be read never widens a validity window.
 */
export function numericDate(claims: JWTPayload, name: 'iat' | 'exp' | 'nbf', what: string = name): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TokenError(`${what} must be a NumericDate (a number of seconds)`);
  return value;
}

/** Claims read BEFORE the signature is checked: only to find the key, never to decide anything else. */
export function unverifiedClaims(jws: string): JWTPayload {
  try {
    return decodeJwt(jws);
  } catch {
    throw new TokenError('payload is not a JWT claims set');
  }
}

import { decodeJwt, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
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

const decoder = new TextDecoder('utf-8', { fatal: true });

/** base64url without padding, in its one canonical spelling (the compact form's characters are checked already). */
function strictBase64url(part: string): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw new TokenError('JWS part is not canonical base64url');
  return bytes;
}

function protectedHeader(encoded: string): ProtectedHeaderParameters {
  const bytes = strictBase64url(encoded);
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new TokenError('malformed JWS header');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new TokenError('malformed JWS header');
  for (const name of STRING_HEADER_PARAMETERS) {
    const value = (header as Record<string, unknown>)[name];
    if (value !== undefined && typeof value !== 'string') throw new TokenError(`header ${name} must be a string`);
  }
  return header as ProtectedHeaderParameters;
}

/** A compact JWS read but not checked: a token that comes back unchanged may be read once, never checked once. */
export interface ParsedJws {
  header: ProtectedHeaderParameters;
  /** The ASCII `<header>.<payload>` the signature is over. */
  signingInput: Buffer;
  payload: Buffer;
  signature: Buffer;
}

function compactParts(jws: unknown): [string, string, string] {
  if (typeof jws !== 'string' || !COMPACT_JWS.test(jws)) throw new TokenError('not a compact JWS');
  return jws.split('.') as [string, string, string];
}

/** Compact serialisation only, each part canonical base64url, the header a JSON object with string-typed parameters. */
export function parseJws(jws: unknown): ParsedJws {
  const [encodedHeader, encodedPayload, encodedSignature] = compactParts(jws);
  const header = protectedHeader(encodedHeader);
  return {
    header,
    signingInput: Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'),
    payload: strictBase64url(encodedPayload),
    signature: strictBase64url(encodedSignature),
  };
}

/** The header of a compact JWS, read as parseJws reads it, without decoding the rest. */
export function parseJwsHeader(jws: unknown): ProtectedHeaderParameters {
  return protectedHeader(compactParts(jws)[0]);
}

/** What a header must be before any key is looked up for it: an allowed asymmetric `alg`, no `crit` extensions. */
export function signableHeader(header: ProtectedHeaderParameters): JwsHeader {
  if (!isSigningAlgorithm(header.alg)) throw new TokenError(`alg '${header.alg ?? ''}' is not allowed`);
  if (header.crit !== undefined) throw new TokenError('crit header parameters are not supported');
  return header as JwsHeader;
}

/**
 * The one signature check every token goes through (grants, client assertions, credentials): a compact JWS
 * (parseJws), an allowed asymmetric `alg`, no `crit` extensions (none is understood here), a key from the caller's
 * trust source (never one the token carries itself), that key allowed for exactly this `alg`, and a valid signature
 * (signature.ts).
 */
export async function verifyJws(jws: unknown, resolveKey: KeyResolver): Promise<VerifiedJws> {
  return verifyParsedJws(parseJws(jws), resolveKey);
}

/** verifyJws of a JWS parseJws read before. */
export async function verifyParsedJws({ header, signingInput, payload, signature }: ParsedJws, resolveKey: KeyResolver): Promise<VerifiedJws> {
  const checked = signableHeader(header);
  const key = await resolveKey(checked);
  if (!key) throw new TokenError(`unknown key '${checked.kid ?? ''}'`);
  const publicKey = key.keys.get(checked.alg);
  if (!publicKey) throw new TokenError(`key '${checked.kid ?? ''}' may not sign with ${checked.alg}`);
  if (!(await signatureMatches(checked.alg, publicKey, signingInput, signature))) throw new TokenError('signature verification failed');
  return { header: checked, payload };
}

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

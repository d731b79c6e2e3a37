import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { VerificationKey } from './jwk.js';
import { isSigningAlgorithm, type SigningAlgorithm } from './rules.js';

/** Why a token was refused; the caller turns it into its own error (OAuth error body, 401 challenge). */
export class TokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenError';
  }
}

export type JwsHeader = ProtectedHeaderParameters & { alg: SigningAlgorithm };

/** Finds the trusted key a header names; undefined = unknown key. It may throw to refuse the header outright. */
export type KeyResolver = (header: JwsHeader) => Promise<VerificationKey | undefined> | VerificationKey | undefined;

export interface VerifiedJws {
  header: JwsHeader;
  payload: Uint8Array;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

function protectedHeader(jws: unknown): ProtectedHeaderParameters & { alg?: unknown } {
  if (typeof jws !== 'string' || !COMPACT_JWS.test(jws)) throw new TokenError('not a compact JWS');
  try {
    return decodeProtectedHeader(jws);
  } catch {
    throw new TokenError('malformed JWS header');
  }
}

/**
 * The one signature check every token goes through (grants, client assertions, credentials, access tokens):
 * compact serialisation only, an allowed asymmetric `alg`, a key from the caller's trust source (never one the
 * token carries itself), that key allowed for exactly this `alg`, and a valid signature (via jose).
 */
export async function verifyJws(jws: unknown, resolveKey: KeyResolver): Promise<VerifiedJws> {
  const header = protectedHeader(jws);
  if (!isSigningAlgorithm(header.alg)) throw new TokenError(`alg '${String(header.alg)}' is not allowed`);
  const checked = header as JwsHeader;
  const key = await resolveKey(checked);
  if (!key) throw new TokenError(`unknown key '${String(header.kid)}'`);
  const cryptoKey = key.keys.get(checked.alg);
  if (!cryptoKey) throw new TokenError(`key '${String(header.kid)}' may not sign with ${checked.alg}`);
  try {
    const { payload } = await compactVerify(jws as string, cryptoKey, { algorithms: [checked.alg] });
    return { header: checked, payload };
  } catch {
    throw new TokenError('signature verification failed');
  }
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

/** Claims read BEFORE the signature is checked: only to find the key, never to decide anything else. */
export function unverifiedClaims(jws: string): JWTPayload {
  try {
    return decodeJwt(jws);
  } catch {
    throw new TokenError('payload is not a JWT claims set');
  }
}

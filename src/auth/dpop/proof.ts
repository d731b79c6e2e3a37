import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify, type JWK } from 'jose';
import { TokenError } from '../jws.js';
import { CLOCK_SKEW_SECONDS, SIGNING_ALGORITHMS } from '../rules.js';

/**
 * DPoP proofs (RFC 9449 §4.3): a JWT of type `dpop+jwt`, signed with an asymmetric algorithm by the private half of
 * the public JWK in its own header, naming the request it was made for (`htm`, `htu`), when (`iat`), once (`jti`),
 * and, with an access token, that token (`ath`). The key's thumbprint (RFC 7638) is what a token is bound to (`cnf.jkt`).
 */
export const DPOP_TYPE = 'dpop+jwt';
/** The DPoP header: exactly one per request (RFC 9449 §4.3 check 1). */
export const DPOP_HEADER = 'dpop';
/** What `dpop_signing_alg_values_supported` and the `algs` of a DPoP challenge offer. */
export const DPOP_ALGORITHMS: readonly string[] = SIGNING_ALGORITHMS;
/** A proof is accepted this long after its `iat` (RFC 9449 §11.1: a short window), and its jti is kept as long. */
export const DPOP_PROOF_MAX_AGE_SECONDS = 60;

/** The proof fails a check of RFC 9449 §4.3: `invalid_dpop_proof` at the token endpoint and at the resource server. */
export class DpopProofError extends TokenError {
  static override readonly code = 'ERR_DPOP_PROOF_INVALID';
}

/** What the proof must be for: the request it came with and, at the resource server, the token and its key. */
export interface ProofExpectation {
  htm: string;
  /** The request's URL; its query and fragment are ignored (RFC 9449 §4.3 check 9). */
  htu: string;
  now: number;
  /** At the resource server: the access token the proof must name in `ath`. */
  accessToken?: string;
  /** At the resource server: the thumbprint the token is bound to (`cnf.jkt`). */
  jkt?: string;
}

export interface VerifiedProof {
  jkt: string;
  jti: string;
  iat: number;
}

const MAX_JTI_LENGTH = 256;

/** base64url(SHA-256(token)): the `ath` of a proof for `token` (RFC 9449 §4.2). */
export const accessTokenHash = (token: string) => createHash('sha256').update(token, 'ascii').digest('base64url');

/** The URL as compared: scheme, host and path after URL normalisation, without query and fragment. */
function comparableUrl(url: unknown): string | undefined {
  if (typeof url !== 'string' || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** The one DPoP header a request must carry; several, or none, is refused. */
export function singleProof(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new DpopProofError('a DPoP proof (the DPoP header) is required');
  if (Array.isArray(header) || header.includes(',')) throw new DpopProofError('exactly one DPoP header is allowed');
  return header;
}

async function verifiedJwt(proof: string, now: number) {
  try {
    return await jwtVerify(proof, EmbeddedJWK, { typ: DPOP_TYPE, algorithms: [...DPOP_ALGORITHMS], currentDate: new Date(now * 1000) });
  } catch (error) {
    if (error instanceof errors.JOSEError) throw new DpopProofError(`proof refused: ${error.message}`);
    throw error;
  }
}

/** Checks a proof against the request it came with; the caller keeps the jti single-use (dpop/verifier.ts). */
export async function verifyProof(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
  const { payload, protectedHeader } = await verifiedJwt(proof, expected.now);
  const { htm, htu, iat, jti, ath } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH) throw new DpopProofError('jti is required');
  if (htm !== expected.htm) throw new DpopProofError(`htm must be ${expected.htm}`);
  const wanted = comparableUrl(expected.htu);
  if (comparableUrl(htu) !== wanted) throw new DpopProofError(`htu must be ${wanted}`);
  if (typeof iat !== 'number') throw new DpopProofError('iat is required');
  if (iat > expected.now + CLOCK_SKEW_SECONDS) throw new DpopProofError('iat is in the future');
  if (iat + DPOP_PROOF_MAX_AGE_SECONDS < expected.now) throw new DpopProofError(`the proof is older than ${DPOP_PROOF_MAX_AGE_SECONDS} s`);
  if (expected.accessToken !== undefined && ath !== accessTokenHash(expected.accessToken)) throw new DpopProofError('ath does not match the access token');
  const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256');
  if (expected.jkt !== undefined && jkt !== expected.jkt) throw new DpopProofError('the proof is signed with another key than the token is bound to');
  return { jkt, jti, iat };
}

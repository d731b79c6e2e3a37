import { randomUUID } from 'node:crypto';
import { SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash, DPOP_TYPE } from './proof.js';

/** The key a client signs its DPoP proofs with (a hosted organisation's signing key): private key and public JWK, which each proof carries. */
export interface DpopKey {
  alg: string;
  key: CryptoKey;
  publicJwk: JWK;
}

/** A DPoP proof for one request (RFC 9449 §4.2); with `accessToken`, also bound to that token (`ath`). */
export async function signProof(key: DpopKey, request: { method: string; url: string | URL; accessToken?: string }, now = Math.floor(Date.now() / 1000)): Promise<string> {
  const url = new URL(request.url);
  return new SignJWT({
    htm: request.method,
    htu: `${url.origin}${url.pathname}`,
    ...(request.accessToken === undefined ? {} : { ath: accessTokenHash(request.accessToken) }),
  })
    .setProtectedHeader({ typ: DPOP_TYPE, alg: key.alg, jwk: key.publicJwk })
    .setIssuedAt(now)
    .setJti(randomUUID())
    .sign(key.key);
}

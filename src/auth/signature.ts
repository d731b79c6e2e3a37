import { constants, verify, type KeyObject } from 'node:crypto';
import { isMainThread } from 'node:worker_threads';
import type { SigningAlgorithm } from './rules.js';

/**
 * The signature of a compact JWS (RFC 7515 §5.2), checked with node:crypto. jose 6 verifies only through WebCrypto,
 * which on Node 20 spends some 60 µs of CPU more on an ES256 signature than the same OpenSSL call made directly
 * (145 against 85 µs measured), and the token endpoint checks one per token. jose still imports and vets every key
 * (jwk.ts), decodes the header, and signs.
 */
const PARAMETERS: Record<SigningAlgorithm, { hash: string; ecdsaBytes?: number; pssSaltBytes?: number }> = {
  ES256: { hash: 'sha256', ecdsaBytes: 64 },
  ES384: { hash: 'sha384', ecdsaBytes: 96 },
  ES512: { hash: 'sha512', ecdsaBytes: 132 },
  PS256: { hash: 'sha256', pssSaltBytes: 32 },
  PS384: { hash: 'sha384', pssSaltBytes: 48 },
  PS512: { hash: 'sha512', pssSaltBytes: 64 },
};

/** RSA keys shorter than this verify nothing (RFC 7518 §3.5; jose refuses them too). */
export const MIN_RSA_MODULUS_BITS = 2048;

/**
 * Whether `signature` is `alg`'s signature of `data` (the ASCII `<header>.<payload>`) by `key`. On the main thread
 * the check runs on libuv's thread pool (node:crypto's asynchronous verify), so the event loop goes on with other
 * requests meanwhile. A worker thread (auth/oauth2/presentationWorker.ts) checks directly: it has no other work to
 * go on with, and the hop to the pool would cost it a fifth more CPU per signature.
 */
export function signatureMatches(alg: SigningAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): Promise<boolean> {
  const { hash, ecdsaBytes, pssSaltBytes } = PARAMETERS[alg];
  // R || S of fixed length (RFC 7518 §3.4), never DER.
  if (ecdsaBytes !== undefined && signature.length !== ecdsaBytes) return Promise.resolve(false);
  const options = ecdsaBytes !== undefined ? { key, dsaEncoding: 'ieee-p1363' as const } : { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltBytes };
  if (!isMainThread) return Promise.resolve(verify(hash, data, options, signature));
  return new Promise((resolve, reject) => verify(hash, data, options, signature, (error, valid) => (error ? reject(error) : resolve(valid))));
}

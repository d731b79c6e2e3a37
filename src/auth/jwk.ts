import { KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, type CryptoKey, type JWK } from 'jose';
import { GatewayError } from '../errors.js';
import { isSigningAlgorithm, type SigningAlgorithm } from './rules.js';
import { MIN_RSA_MODULUS_BITS } from './signature.js';

/** A public key we accept signatures from, imported (by jose) once per algorithm it may verify. */
export interface VerificationKey {
  /** RFC 7638 thumbprint of the public key. */
  thumbprint: string;
  jwk: JWK;
  keys: Map<SigningAlgorithm, KeyObject>;
}

/** A hosted organisation's private key. */
export interface SigningKey {
  /** `<organisation id>#<RFC 7638 thumbprint>`. */
  kid: string;
  alg: SigningAlgorithm;
  key: CryptoKey;
  /** The public half as published (JWKS, DID document), with kid, alg and use. */
  publicJwk: JWK;
}

export class KeyError extends GatewayError {
  static override readonly code = 'ERR_KEY_UNUSABLE';
}

const CURVE_ALGORITHM: Record<string, SigningAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const RSA_ALGORITHMS: SigningAlgorithm[] = ['PS256', 'PS384', 'PS512'];
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** The allowed algorithms this key may be used with; a JWK `alg` narrows them to exactly that one. */
export function algorithmsFor(jwk: JWK): SigningAlgorithm[] {
  const candidates =
    jwk.kty === 'EC' ? [CURVE_ALGORITHM[jwk.crv ?? '']].filter(isSigningAlgorithm) : jwk.kty === 'RSA' ? RSA_ALGORITHMS : [];
  if (jwk.alg === undefined) return candidates;
  return candidates.filter((alg) => alg === jwk.alg);
}

/** Only the public members of a key: never pass on (or trust) anything else a JWK carries. */
export function publicJwk(jwk: JWK): JWK {
  const result: JWK = {};
  for (const member of PUBLIC_MEMBERS) if (typeof jwk[member] === 'string') result[member] = jwk[member];
  return result;
}

export const thumbprint = (jwk: JWK) => calculateJwkThumbprint(publicJwk(jwk), 'sha256');

function assertSignatureKey(jwk: JWK, operation: 'sign' | 'verify'): SigningAlgorithm[] {
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeyError(`key use '${String(jwk.use)}' is not 'sig'`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes(operation))) {
    throw new KeyError(`key_ops does not allow ${operation}`);
  }
  const algorithms = algorithmsFor(jwk);
  if (algorithms.length === 0) {
    throw new KeyError(`key type '${String(jwk.kty)}'${jwk.alg ? ` with alg '${jwk.alg}'` : ''} is not an allowed signature key`);
  }
  return algorithms;
}

const tooShort = (key: KeyObject) => key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS;

/**
 * Imports a trusted public key; refuses symmetric keys, encryption keys and keys bound to a disallowed algorithm.
 * An RSA key under 2048 bits is imported for no algorithm: it verifies nothing.
 */
export async function importVerificationKey(jwk: JWK): Promise<VerificationKey> {
  const algorithms = assertSignatureKey(jwk, 'verify');
  const material = publicJwk(jwk);
  const keys = new Map<SigningAlgorithm, KeyObject>();
  try {
    for (const alg of algorithms) {
      const key = KeyObject.from((await importJWK(material, alg)) as CryptoKey);
      if (!tooShort(key)) keys.set(alg, key);
    }
  } catch (error) {
    throw new KeyError(`unusable key: ${(error as Error).message}`);
  }
  return { thumbprint: await thumbprint(material), jwk: material, keys };
}

/** Imports a hosted organisation's private JWK; its kid is `<organisation id>#<thumbprint>`. */
export async function importSigningKey(organization: string, jwk: JWK): Promise<SigningKey> {
  if (typeof jwk.d !== 'string') throw new KeyError(`key of '${organization}' is not a private key`);
  const [alg] = assertSignatureKey(jwk, 'sign');
  const kid = `${organization}#${await thumbprint(jwk)}`;
  let key: CryptoKey;
  try {
    key = (await importJWK(jwk, alg)) as CryptoKey;
  } catch (error) {
    throw new KeyError(`unusable key of '${organization}': ${(error as Error).message}`);
  }
  return { kid, alg, key, publicJwk: { ...publicJwk(jwk), kid, alg, use: 'sig' } };
}

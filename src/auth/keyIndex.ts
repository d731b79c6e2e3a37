import type { JWK } from 'jose';
import { importVerificationKey, KeyError, type VerificationKey } from './jwk.js';

/** Splits a kid `<owner>#<fragment>`; undefined when it has no owner or no fragment. */
export function splitKid(kid: unknown): { owner: string; fragment: string } | undefined {
  if (typeof kid !== 'string') return undefined;
  const at = kid.lastIndexOf('#');
  if (at <= 0 || at === kid.length - 1) return undefined;
  return { owner: kid.slice(0, at), fragment: kid.slice(at + 1) };
}

const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A set of trusted keys must be public keys only, with distinct kids: anything else is ambiguous or a leak. */
function assertPublicKeySet(jwks: JWK[], owner: string): void {
  const kids = new Set<string>();
  for (const jwk of jwks) {
    if (SECRET_MEMBERS.some((member) => member in jwk)) throw new KeyError(`the key set of '${owner}' contains secret key material`);
    if (typeof jwk.kid === 'string') {
      if (kids.has(jwk.kid)) throw new KeyError(`the key set of '${owner}' uses kid '${jwk.kid}' twice`);
      kids.add(jwk.kid);
    }
  }
}

/**
 * Trusted public keys by RFC 7638 thumbprint and, when the JWK names one, by the fragment of its own kid.
 * `strict` (configuration): an unusable key is an error; otherwise (resolved DID documents) it is left out.
 */
export async function indexKeys(jwks: JWK[], owner: string, strict: boolean): Promise<Map<string, VerificationKey>> {
  assertPublicKeySet(jwks, owner);
  const index = new Map<string, VerificationKey>();
  for (const jwk of jwks) {
    try {
      const key = await importVerificationKey(jwk);
      index.set(key.thumbprint, key);
      if (typeof jwk.kid === 'string') index.set(splitKid(jwk.kid)?.fragment ?? jwk.kid, key);
    } catch (error) {
      if (strict || !(error instanceof KeyError)) throw new KeyError(`a key of '${owner}' is unusable: ${(error as Error).message}`);
    }
  }
  return index;
}


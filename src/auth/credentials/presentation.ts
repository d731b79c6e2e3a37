import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { isObject } from '../../vocabulary/json.js';
import type { VerificationKey } from '../jwk.js';
import { claimsOf, numericDate, TokenError, verifyJws, type JwsHeader } from '../jws.js';
import { splitKid } from '../keyIndex.js';
import { CLOCK_SKEW_SECONDS } from '../rules.js';
import type { SigningKey } from '../jwk.js';
import { credentialTypes } from './w3c.js';

/**
 * JWT Verifiable Presentations as RFC021 §4.2 requires them (and nuts-node v6 builds them): `iss` = `sub` = the
 * holder's DID, `kid` a DID URL of that DID resolving to one of its keys, `aud` the authorization server's issuer,
 * `nbf` and `exp` at most 5 s apart, a `nonce`, and `vp.verifiableCredential` with the credentials.
 */
export const MAX_PRESENTATION_VALIDITY_SECONDS = 5;
const MAX_CREDENTIALS = 10;

export interface VerifiedPresentation {
  holder: string;
  /** `kid` of the signature: the holder's verification method. */
  kid: string;
  nonce: string;
  jti?: string;
  nbf: number;
  exp: number;
  /** The presentation's `verifiableCredential` entries as sent (JWT strings or JSON objects). */
  credentials: unknown[];
}

export type DidKeyResolver = (did: string, fragment: string) => Promise<VerificationKey | undefined>;

const audiences = (aud: unknown): unknown[] => (Array.isArray(aud) ? aud : [aud]);

/** The holder's verification method a presentation's header names: its `kid`, a DID URL. */
export function holderKeyId(header: JwsHeader): { did: string; fragment: string } {
  const kid = splitKid(header.kid);
  if (!kid || !kid.owner.startsWith('did:')) throw new TokenError('kid must be a DID URL');
  return { did: kid.owner, fragment: kid.fragment };
}

export async function verifyPresentation(assertion: unknown, options: { audience: string; now: number; key: DidKeyResolver }): Promise<VerifiedPresentation> {
  const { header, payload } = await verifyJws(assertion, (jws) => {
    const { did, fragment } = holderKeyId(jws);
    return options.key(did, fragment);
  });
  const claims = claimsOf(payload);
  const holder = splitKid(header.kid)!.owner;
  if (claims.iss !== holder) throw new TokenError('iss must be the DID of the signing key (kid)');
  if (claims.sub !== claims.iss) throw new TokenError('sub must equal iss');
  if (!audiences(claims.aud).includes(options.audience)) throw new TokenError(`aud must be the authorization server ${options.audience}`);
  const nbf = numericDate(claims, 'nbf');
  const exp = numericDate(claims, 'exp');
  if (nbf === undefined || exp === undefined) throw new TokenError('nbf and exp are required');
  if (exp - nbf > MAX_PRESENTATION_VALIDITY_SECONDS) throw new TokenError(`the presentation may be valid at most ${MAX_PRESENTATION_VALIDITY_SECONDS} s (exp - nbf)`);
  if (nbf > options.now + CLOCK_SKEW_SECONDS) throw new TokenError('the presentation is not valid yet (nbf)');
  if (exp <= options.now - CLOCK_SKEW_SECONDS) throw new TokenError('the presentation has expired');
  if (typeof claims.nonce !== 'string' || claims.nonce === '' || claims.nonce.length > 200) throw new TokenError('nonce is required');
  if (claims.jti !== undefined && (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > 300)) throw new TokenError('jti must be a string');
  const vp = claims.vp;
  if (!isObject(vp) || !credentialTypes(vp).includes('VerifiablePresentation')) throw new TokenError('vp must be a VerifiablePresentation');
  const credentials = vp.verifiableCredential;
  if (!Array.isArray(credentials) || credentials.length === 0 || credentials.length > MAX_CREDENTIALS) {
    throw new TokenError(`vp.verifiableCredential must hold 1 to ${MAX_CREDENTIALS} credentials`);
  }
  return { holder, kid: header.kid as string, nonce: claims.nonce, ...(claims.jti ? { jti: claims.jti } : {}), nbf, exp, credentials };
}

/** Signs a JWT VP of `holder` (its did:web) for `audience`, as nuts-node does: `jti` `<holder>#<uuid>`, valid 5 s. */
export function signPresentation(holder: { did: string; signing: SigningKey }, credentials: unknown[], audience: string, now: number): Promise<string> {
  const fragment = holder.signing.kid.slice(holder.signing.kid.lastIndexOf('#') + 1);
  return new SignJWT({
    nonce: randomUUID(),
    vp: { '@context': ['https://www.w3.org/2018/credentials/v1'], type: ['VerifiablePresentation'], verifiableCredential: credentials },
  })
    .setProtectedHeader({ alg: holder.signing.alg, typ: 'JWT', kid: `${holder.did}#${fragment}` })
    .setIssuer(holder.did)
    .setSubject(holder.did)
    .setAudience(audience)
    .setJti(`${holder.did}#${randomUUID()}`)
    .setNotBefore(now)
    .setIssuedAt(now)
    .setExpirationTime(now + MAX_PRESENTATION_VALIDITY_SECONDS)
    .sign(holder.signing.key);
}

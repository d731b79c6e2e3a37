import { constants, KeyObject, sign, type SignKeyObjectInput, type SignPrivateKeyInput } from 'node:crypto';
import { promisify } from 'node:util';
import type { SigningKey } from '../auth/jwk.js';
import { TokenError, verifyJws, type JwsHeader, type KeyResolver } from '../auth/jws.js';
import { CLOCK_SKEW_SECONDS, nowSeconds } from '../auth/rules.js';
import { SIGNATURE_TYPE } from './canonical.js';

/**
 * Notifications are signed with the hosted organisation's newest key as a JWS with detached payload (RFC 7515
 * appendix F): the `x-vervolgzorg-signature` header holds `<protected header>..<signature>`, and the payload is the
 * exact body sent. The protected header names the key (`kid` = `<organisation>#<thumbprint>`, published in the
 * organisation's DID document), the time of signing (`iat`) and the URL the notification was sent to (`htu`), so a
 * captured notification cannot be replayed later or elsewhere.
 */
export interface NotificationSignatureHeader extends JwsHeader {
  kid: string;
  iat: number;
  htu: string;
}

const signAsync = promisify(sign);
const HASH: Record<SigningKey['alg'], string> = { ES256: 'sha256', ES384: 'sha384', ES512: 'sha512', PS256: 'sha256', PS384: 'sha384', PS512: 'sha512' };
const keyObjects = new WeakMap<SigningKey['key'], KeyObject>();

/**
 * Signs with node:crypto on the libuv thread pool rather than through jose's WebCrypto wrappers: one signature per
 * notification is on the delivery hot path. Receivers verify with any JOSE library (the tests use jose).
 */
export async function signNotification(body: string, target: string, key: SigningKey, clock: () => number = Date.now): Promise<string> {
  const header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: SIGNATURE_TYPE, iat: nowSeconds(clock), htu: target })).toString('base64url');
  const input = Buffer.from(`${header}.${Buffer.from(body).toString('base64url')}`);
  const signature = await signAsync(HASH[key.alg], input, signingInput(key));
  return `${header}..${signature.toString('base64url')}`;
}

function signingInput(key: SigningKey): SignKeyObjectInput | SignPrivateKeyInput {
  let keyObject = keyObjects.get(key.key);
  if (!keyObject) {
    keyObject = KeyObject.from(key.key);
    keyObjects.set(key.key, keyObject);
  }
  // JWS: ECDSA signatures are r || s (not DER); RSASSA-PSS uses a salt as long as the hash (RFC 7518 §3.4, §3.5).
  return key.alg.startsWith('ES')
    ? { key: keyObject, dsaEncoding: 'ieee-p1363' }
    : { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST };
}

export interface VerifyOptions {
  /** The URL the receiver was called on; must equal the signed `htu`. */
  target: string;
  /** How old a signature may be (default 300 s). */
  maxAgeSeconds?: number;
  clock?: () => number;
}

/** For receivers: checks a notification's signature header against its body; throws a TokenError when it fails. */
export async function verifyNotification(body: string, signature: string, resolveKey: KeyResolver, options: VerifyOptions): Promise<NotificationSignatureHeader> {
  const parts = signature.split('.');
  if (parts.length !== 3 || parts[1] !== '') throw new TokenError('not a detached JWS');
  const { header } = await verifyJws(`${parts[0]}.${Buffer.from(body).toString('base64url')}.${parts[2]}`, resolveKey);
  if (header.typ !== SIGNATURE_TYPE) throw new TokenError(`typ must be ${SIGNATURE_TYPE}`);
  if (header.htu !== options.target) throw new TokenError(`signed for ${String(header.htu)}, received at ${options.target}`);
  const now = nowSeconds(options.clock);
  const iat = header.iat;
  if (typeof iat !== 'number' || iat > now + CLOCK_SKEW_SECONDS || iat < now - (options.maxAgeSeconds ?? 300)) {
    throw new TokenError('iat is missing or out of range');
  }
  return header as NotificationSignatureHeader;
}

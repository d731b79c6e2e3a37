import { TokenError } from '../jws.js';
import type { LeafAttributes } from './certificates.js';

/**
 * did:x509 (https://trustoverip.github.io/tswg-did-x509-method-specification/) as RFC023 extends it:
 * `did:x509:0:sha256:<ca-fingerprint>::subject:O:<value>:L:<value>::san:otherName:<value>`. Only the policies an
 * X509Credential maps to credentialSubject fields are understood (subject, san); any other policy is refused.
 */
export interface DidX509 {
  did: string;
  /** base64url SHA-256 of the trust anchor's DER certificate. */
  caFingerprint: string;
  subject: Record<string, string>;
  san: Record<string, string>;
}

const PREFIX = 'did:x509:0:sha256:';
const SUBJECT_KEYS = new Set(['C', 'CN', 'L', 'ST', 'O', 'OU', 'STREET']);
const SAN_TYPES = new Set(['otherName', 'email', 'dns', 'uri']);

/** did:x509 percent-encoding: everything but ALPHA, DIGIT, `.`, `-` and `_`. */
const encode = (value: string) =>
  [...Buffer.from(value, 'utf8')].map((byte) => (/[A-Za-z0-9._-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new TokenError('did:x509 has a malformed percent-encoding');
  }
}

export function formatDidX509(caFingerprint: string, subject: Record<string, string>, san: Record<string, string>): string {
  const subjectPolicy = Object.entries(subject).map(([key, value]) => `${key}:${encode(value)}`).join(':');
  const sanPolicies = Object.entries(san).map(([type, value]) => `::san:${type}:${encode(value)}`);
  return `${PREFIX}${caFingerprint}${subjectPolicy ? `::subject:${subjectPolicy}` : ''}${sanPolicies.join('')}`;
}

export function parseDidX509(did: unknown): DidX509 {
  if (typeof did !== 'string' || !did.startsWith(PREFIX) || did.length > 2_000) throw new TokenError('issuer must be a did:x509 (version 0, sha256)');
  const [anchor, ...policies] = did.slice(PREFIX.length).split('::');
  if (!anchor || !/^[A-Za-z0-9_-]{43}$/.test(anchor)) throw new TokenError('did:x509 ca-fingerprint must be a base64url SHA-256');
  if (policies.length === 0) throw new TokenError('did:x509 names no policy');
  const result: DidX509 = { did, caFingerprint: anchor, subject: {}, san: {} };
  for (const policy of policies) {
    const [name, ...parts] = policy.split(':');
    if (name === 'subject' && parts.length >= 2 && parts.length % 2 === 0) {
      for (let i = 0; i < parts.length; i += 2) {
        const key = parts[i]!;
        if (!SUBJECT_KEYS.has(key) || key in result.subject) throw new TokenError(`did:x509 subject policy: '${key}' is unknown or repeated`);
        result.subject[key] = decode(parts[i + 1]!);
      }
    } else if (name === 'san' && parts.length === 2 && SAN_TYPES.has(parts[0]!) && !(parts[0]! in result.san)) {
      result.san[parts[0]!] = decode(parts[1]!);
    } else {
      throw new TokenError(`did:x509 policy '${name ?? ''}' is not supported here`);
    }
  }
  return result;
}

/** Every policy of the DID must hold for the leaf certificate (did:x509 §"Policies"). */
export function assertPoliciesHold(did: DidX509, leaf: LeafAttributes): void {
  for (const [key, value] of Object.entries(did.subject)) {
    if (leaf.subject[key] !== value) throw new TokenError(`did:x509 subject ${key} does not match the certificate`);
  }
  for (const [type, value] of Object.entries(did.san)) {
    if (type !== 'otherName' || !leaf.otherNames.includes(value)) throw new TokenError(`did:x509 san ${type} does not match the certificate`);
  }
}

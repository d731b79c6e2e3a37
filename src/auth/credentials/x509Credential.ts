import { randomUUID, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { isObject } from '../../vocabulary/json.js';
import { importVerificationKey, type VerificationKey } from '../jwk.js';
import { claimsOf, numericDate, parseJws, TokenError, verifyParsedJws, type ParsedJws } from '../jws.js';
import { CLOCK_SKEW_SECONDS } from '../rules.js';
import { assertValidAt, certificateFingerprint, fingerprintOf, leafAttributes, parseX5c, verifyChain, type TrustedCa } from './certificates.js';
import { assertPoliciesHold, formatDidX509, parseDidX509 } from './didX509.js';
import { credentialOfJwt, credentialTypes, type DecodedCredential } from './w3c.js';

/**
 * RFC023 X509Credential: a JWT VC issued by the did:x509 of a UZI server certificate (the chain in `x5c`) about the
 * organisation's did:web, carrying exactly the certificate fields the did:x509 policies name; the URA is in
 * `san.otherName` (`...-S-<URA>-00.000-...`).
 */
export const X509_CREDENTIAL = 'X509Credential';

/** Which certificate authorities an X509Credential may chain to (configuration; development adds its own). */
export interface X509Trust {
  anchors: Map<string, TrustedCa>;
  /** A self-signed server certificate naming itself as the trust anchor (never in production unless configured). */
  allowSelfSigned: boolean;
}

export interface VerifiedX509Credential {
  /** The organisation's did:web (credentialSubject.id). */
  subjectDid: string;
  issuer: string;
  ura: string;
  organizationName?: string;
  city?: string;
  expiresAt?: number;
  credential: DecodedCredential;
}

/** The UZI otherName's URA (the capture group of the policy pattern nuts-node and the Knooppunt use). */
export const URA_IN_OTHER_NAME = /^[0-9.]+-\d+-\d+-S-(\d+)-00\.000-\d+$/;

const leafKeys = new WeakMap<X509Certificate, VerificationKey>();

/** The leaf's key as a JWS verification key, imported once per parsed certificate. */
async function leafKey(leaf: X509Certificate): Promise<VerificationKey> {
  let key = leafKeys.get(leaf);
  if (!key) leafKeys.set(leaf, (key = await importVerificationKey(leaf.publicKey.export({ format: 'jwk' }))));
  return key;
}

interface ReadCredential {
  jws: ParsedJws;
  /** Not to be trusted before the signature of `jws` is checked. */
  claims: JWTPayload;
}

/**
 * Credentials as read, before anything is checked: a holder presents the same X509Credential (the same bytes) on
 * every request, and reading it (base64url, JSON) costs more than checking its signature. Kept only once it has
 * been verified (so no one fills this with credentials of their own making); its signature, chain, trust anchor,
 * policies and validity are checked on every request all the same.
 */
const readCredentials = new Map<string, ReadCredential>();
const MAX_READ_CREDENTIALS = 1_000;

function readCredential(jwt: string): ReadCredential {
  const known = readCredentials.get(jwt);
  if (known) return known;
  const jws = parseJws(jwt);
  return { jws, claims: claimsOf(jws.payload) };
}

function keepRead(jwt: string, read: ReadCredential): void {
  if (readCredentials.has(jwt)) return;
  if (readCredentials.size >= MAX_READ_CREDENTIALS) readCredentials.delete(readCredentials.keys().next().value as string);
  readCredentials.set(jwt, read);
}

/** Whether a presented credential is a JWT with an `x5c` header: an X509Credential to verify, not some other kind. */
export function isX509CredentialJwt(entry: unknown): entry is string {
  if (typeof entry !== 'string') return false;
  try {
    return Array.isArray(readCredential(entry).jws.header.x5c);
  } catch {
    return false;
  }
}

function trustAnchor(chain: X509Certificate[], fingerprint: string, trust: X509Trust): TrustedCa {
  const configured = trust.anchors.get(fingerprint);
  if (configured) return configured;
  const leaf = chain[0]!;
  const selfSigned = chain.length === 1 && leaf.issuer === leaf.subject && leaf.verify(leaf.publicKey);
  if (selfSigned && trust.allowSelfSigned && fingerprintOf(leaf) === fingerprint) return { certificate: leaf, fingerprint };
  throw new TokenError(selfSigned ? 'self-signed certificates are not accepted (nuts.allowSelfSignedCertificates)' : 'the did:x509 names an untrusted CA');
}

/** A credentialSubject may hold only its id and the fields the did:x509 policies fix (RFC023 §5.3). */
function assertSubjectWithinPolicies(subject: Record<string, unknown>, policies: { subject: Record<string, string>; san: Record<string, string> }): void {
  for (const [group, fields] of Object.entries(subject)) {
    if (group === 'id') continue;
    const allowed = group === 'subject' ? policies.subject : group === 'san' ? policies.san : undefined;
    if (!allowed || !isObject(fields)) throw new TokenError(`credentialSubject.${group} is not a did:x509 policy`);
    for (const [key, value] of Object.entries(fields)) {
      if (allowed[key] !== value) throw new TokenError(`credentialSubject.${group}.${key} is not in the did:x509`);
    }
  }
}

export async function verifyX509Credential(jwt: string, trust: X509Trust, now: number): Promise<VerifiedX509Credential> {
  const read = readCredential(jwt);
  const { jws, claims } = read;
  const chain = parseX5c(jws.header.x5c);
  const did = parseDidX509(claims.iss);
  const anchor = trustAnchor(chain, did.caFingerprint, trust);
  if (anchor.certificate === chain[0]) assertValidAt(anchor.certificate, new Date(now * 1000));
  else verifyChain(chain, anchor, new Date(now * 1000));
  const leaf = chain[0]!;
  assertPoliciesHold(did, leafAttributes(leaf));
  await verifyParsedJws(jws, (header) => {
    if (header.kid !== undefined && !header.kid.startsWith(`${did.did}#`)) throw new TokenError('kid must be a DID URL of the did:x509 issuer');
    return leafKey(leaf);
  });
  const vc = claims.vc;
  if (!isObject(vc) || !credentialTypes(vc).includes(X509_CREDENTIAL)) throw new TokenError('not an X509Credential');
  if (vc.issuer !== undefined && vc.issuer !== did.did) throw new TokenError('vc.issuer differs from iss');
  const subject = vc.credentialSubject;
  if (!isObject(subject) || typeof claims.sub !== 'string' || (subject.id !== undefined && subject.id !== claims.sub)) {
    throw new TokenError('X509Credential sub must be its credentialSubject.id');
  }
  assertSubjectWithinPolicies(subject, did);
  const notBefore = numericDate(claims, 'nbf') ?? numericDate(claims, 'iat');
  const expiresAt = numericDate(claims, 'exp');
  if (notBefore !== undefined && notBefore > now + CLOCK_SKEW_SECONDS) throw new TokenError('X509Credential is not valid yet');
  if (expiresAt !== undefined && expiresAt <= now - CLOCK_SKEW_SECONDS) throw new TokenError('X509Credential has expired');
  if (expiresAt !== undefined && expiresAt * 1000 > Date.parse(leaf.validTo)) throw new TokenError('X509Credential outlives its certificate');
  const otherName = isObject(subject.san) ? subject.san.otherName : undefined;
  const ura = typeof otherName === 'string' ? URA_IN_OTHER_NAME.exec(otherName)?.[1] : undefined;
  if (!ura) throw new TokenError('X509Credential has no URA in san.otherName');
  const organization = isObject(subject.subject) ? subject.subject : {};
  keepRead(jwt, read);
  return {
    subjectDid: claims.sub,
    issuer: did.did,
    ura,
    ...(typeof organization.O === 'string' ? { organizationName: organization.O } : {}),
    ...(typeof organization.L === 'string' ? { city: organization.L } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    credential: credentialOfJwt(claims, now),
  };
}

export interface X509Issuer {
  /** The server certificate first, then its CA chain. */
  chain: X509Certificate[];
  /** The server certificate's private key (ES256 for P-256, PS256 for RSA). */
  privateKey: webcrypto.CryptoKey | KeyObject;
}

/** The did:x509 of a certificate chain, anchored at its last certificate, with the organisation's O, L and otherName. */
export function didX509Of(chain: X509Certificate[]): string {
  const leaf = chain[0]!;
  const anchor = chain[chain.length - 1]!;
  const { subject, otherNames } = leafAttributes(leaf);
  const policies = Object.fromEntries(['O', 'L'].flatMap((key) => (subject[key] ? [[key, subject[key]!]] : [])));
  return formatDidX509(certificateFingerprint(anchor.raw), policies, otherNames[0] ? { otherName: otherNames[0] } : {});
}

/** Issues the X509Credential of `subjectDid` with the certificate's key (as go-didx509-toolkit does). */
export async function issueX509Credential(issuer: X509Issuer, subjectDid: string, now: number): Promise<string> {
  const did = parseDidX509(didX509Of(issuer.chain));
  const leaf = issuer.chain[0]!;
  const expiresAt = Math.floor(Date.parse(leaf.validTo) / 1000);
  const alg = leaf.publicKey.asymmetricKeyType === 'ec' ? 'ES256' : 'PS256';
  return new SignJWT({
    vc: {
      '@context': ['https://www.w3.org/2018/credentials/v1', 'https://nuts.nl/credentials/v1'],
      type: ['VerifiableCredential', X509_CREDENTIAL],
      credentialSubject: {
        id: subjectDid,
        ...(Object.keys(did.subject).length > 0 ? { subject: did.subject } : {}),
        ...(Object.keys(did.san).length > 0 ? { san: did.san } : {}),
      },
    },
  })
    .setProtectedHeader({
      alg,
      typ: 'JWT',
      kid: `${did.did}#0`,
      x5c: issuer.chain.map((certificate) => certificate.raw.toString('base64')),
      'x5t#S256': certificateFingerprint(leaf.raw),
    })
    .setIssuer(did.did)
    .setSubject(subjectDid)
    .setJti(`${did.did}#${randomUUID()}`)
    .setNotBefore(now)
    .setIssuedAt(now)
    .setExpirationTime(expiresAt)
    .sign(issuer.privateKey);
}

import { createHash, X509Certificate } from 'node:crypto';
import { AsnParser } from '@peculiar/asn1-schema';
import { Certificate, SubjectAlternativeName } from '@peculiar/asn1-x509';
import { TokenError } from '../jws.js';

/**
 * X.509 chains as RFC023 uses them: the `x5c` of an X509Credential (leaf first), checked against the trusted CAs of
 * the configuration on every request (each signature and validity period, by node:crypto), and the leaf's subject
 * and `san.otherName` read once per certificate (@peculiar/asn1-x509, the parser under @peculiar/x509; node:crypto
 * does not print an otherName).
 */

/** The UZI server certificate's otherName type (UZI-register CPS: `2.5.5.5`, an IA5String). */
export const UZI_OTHER_NAME_TYPE = '2.5.5.5';

export interface TrustedCa {
  certificate: X509Certificate;
  /** base64url SHA-256 of the DER: the did:x509 `ca-fingerprint`. */
  fingerprint: string;
}

/** What did:x509 policies and the X509Credential read from the leaf certificate. */
export interface LeafAttributes {
  /** Subject attributes by short name (O, L, CN, C, ST, OU, STREET); one value each. */
  subject: Record<string, string>;
  /** The `san.otherName` values (IA5String/UTF8String otherNames). */
  otherNames: string[];
}

export const certificateFingerprint = (der: Buffer | Uint8Array) => createHash('sha256').update(der).digest('base64url');

const fingerprints = new WeakMap<X509Certificate, string>();

/** The did:x509 fingerprint of a certificate, computed once per parsed certificate. */
export function fingerprintOf(certificate: X509Certificate): string {
  let fingerprint = fingerprints.get(certificate);
  if (fingerprint === undefined) fingerprints.set(certificate, (fingerprint = certificateFingerprint(certificate.raw)));
  return fingerprint;
}

export function trustedCa(pem: string): TrustedCa {
  const certificate = new X509Certificate(pem);
  if (!certificate.ca) throw new Error(`trusted CA '${certificate.subject}' is not a CA certificate`);
  return { certificate, fingerprint: fingerprintOf(certificate) };
}

/** Every PEM certificate in a file's text, in order. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

const MAX_CHAIN = 5;

/**
 * Parsed certificates by their x5c text: parsing costs more than checking a signature, and the same few chains
 * come back on every request. What a certificate says is still checked on every use (verifyChain).
 */
const parsed = new Map<string, X509Certificate>();
const MAX_PARSED = 1_000;

function parseCertificate(entry: unknown): X509Certificate {
  if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry)) throw new TokenError('x5c entries must be base64 DER certificates');
  let certificate = parsed.get(entry);
  if (!certificate) {
    try {
      certificate = new X509Certificate(Buffer.from(entry, 'base64'));
    } catch {
      throw new TokenError('x5c holds an unreadable certificate');
    }
    if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
    parsed.set(entry, certificate);
  }
  return certificate;
}

/** The `x5c` header (RFC 7515 §4.1.6): base64 (not base64url) DER certificates, leaf first. */
export function parseX5c(x5c: unknown): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_CHAIN) throw new TokenError(`x5c must hold 1 to ${MAX_CHAIN} certificates`);
  return x5c.map(parseCertificate);
}

export function assertValidAt(certificate: X509Certificate, now: Date): void {
  if (new Date(certificate.validFrom) > now || new Date(certificate.validTo) < now) {
    throw new TokenError(`certificate '${certificate.subject}' is not valid now`);
  }
}

/**
 * Checks the chain from the leaf up to the trusted CA the did:x509 names (`anchor`, which must be in the chain, not
 * the leaf): each certificate issued and signed by the next, each valid now, every certificate above the leaf a CA.
 */
export function verifyChain(chain: X509Certificate[], anchor: TrustedCa, now: Date): void {
  const at = chain.findIndex((certificate, index) => index > 0 && fingerprintOf(certificate) === anchor.fingerprint);
  if (at < 0) throw new TokenError('the did:x509 trust anchor is not in the x5c chain');
  for (let index = 0; index < at; index += 1) {
    const [certificate, issuer] = [chain[index]!, chain[index + 1]!];
    assertValidAt(certificate, now);
    if (!issuer.ca || !certificate.checkIssued(issuer) || !certificate.verify(issuer.publicKey)) {
      throw new TokenError(`certificate '${certificate.subject}' is not signed by '${issuer.subject}'`);
    }
  }
  assertValidAt(anchor.certificate, now);
}

const SUBJECT_NAMES: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.9': 'STREET' };

/** A DER string (IA5String, UTF8String, PrintableString) of an otherName value; undefined for anything else. */
function derString(value: ArrayBuffer): string | undefined {
  const bytes = new Uint8Array(value);
  if (![0x16, 0x0c, 0x13].includes(bytes[0] ?? 0)) return undefined;
  let length = bytes[1] ?? 0;
  let offset = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i += 1) length = (length << 8) | (bytes[2 + i] ?? 0);
    offset = 2 + count;
  }
  return Buffer.from(bytes.subarray(offset, offset + length)).toString('utf8');
}

const attributesCache = new WeakMap<X509Certificate, LeafAttributes>();

export function leafAttributes(leaf: X509Certificate): LeafAttributes {
  const cached = attributesCache.get(leaf);
  if (cached) return cached;
  const { tbsCertificate } = AsnParser.parse(leaf.raw, Certificate);
  const subject: Record<string, string> = {};
  for (const rdn of tbsCertificate.subject) {
    for (const attribute of rdn) {
      const name = SUBJECT_NAMES[attribute.type];
      if (name && !(name in subject)) subject[name] = attribute.value.toString();
    }
  }
  const otherNames: string[] = [];
  const extension = tbsCertificate.extensions?.find((candidate) => candidate.extnID === '2.5.29.17');
  if (extension) {
    for (const name of AsnParser.parse(extension.extnValue, SubjectAlternativeName)) {
      const value = name.otherName ? derString(name.otherName.value) : undefined;
      if (value !== undefined) otherNames.push(value);
    }
  }
  const attributes = { subject, otherNames };
  attributesCache.set(leaf, attributes);
  return attributes;
}

import { X509Certificate, type webcrypto } from 'node:crypto';
import { AsnSerializer } from '@peculiar/asn1-schema';
import { GeneralName, OtherName, SubjectAlternativeName } from '@peculiar/asn1-x509';
import type * as X509 from '@peculiar/x509';
import { UZI_OTHER_NAME_TYPE } from './certificates.js';
import 'reflect-metadata';

/** @peculiar/x509 (its tsyringe wants the reflect-metadata polyfill), loaded only after the polyfill is in place (a static import may be linked before it runs). */
const library = (): Promise<typeof X509> => import('@peculiar/x509');

/**
 * A certificate authority of our own making, for development mode and tests (never production trust): a CA and
 * UZI-shaped server certificates under it, with the URA in `san.otherName` as the UZI register writes it
 * (`<OID of the UZI CA>-<version>-<UZI number>-S-<URA>-00.000-<AGB>`).
 */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface IssuedCertificate {
  certificate: X509Certificate;
  /** PEM, for files and configuration. */
  pem: string;
  keys: webcrypto.CryptoKeyPair;
}

export interface ServerCertificateSubject {
  organizationName: string;
  city?: string;
  ura: string;
  uzi?: string;
  agb?: string;
  host?: string;
}

/** The UZI server certificate otherName for a URA (2.16.528.1.1007.99.2110: the UZI test CA's OID arc). */
export const uziOtherName = (ura: string, uzi = '90000001', agb = '00000000') => `2.16.528.1.1007.99.2110-1-${uzi}-S-${ura}-00.000-${agb}`;

const issued = (certificate: X509.X509Certificate, keys: webcrypto.CryptoKeyPair): IssuedCertificate => ({
  certificate: new X509Certificate(Buffer.from(certificate.rawData)),
  pem: certificate.toString('pem'),
  keys,
});

const serial = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

export async function createCertificateAuthority(name: string, options: { notBefore?: Date; days?: number } = {}): Promise<IssuedCertificate> {
  const x509 = await library();
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}, O=${name}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + (options.days ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return issued(certificate, keys);
}

function otherNameExtension(x509: typeof X509, value: string, host: string | undefined): X509.Extension {
  const ia5 = Buffer.concat([Buffer.from([0x16, value.length]), Buffer.from(value, 'ascii')]);
  const names = [new GeneralName({ otherName: new OtherName({ typeId: UZI_OTHER_NAME_TYPE, value: new Uint8Array(ia5).buffer }) })];
  if (host) names.push(new GeneralName({ dNSName: host }));
  return new x509.Extension('2.5.29.17', false, AsnSerializer.serialize(new SubjectAlternativeName(names)));
}

/** A server certificate under `ca` (or a self-signed one when `ca` is omitted), valid from a day ago. */
export async function issueServerCertificate(
  ca: IssuedCertificate | undefined,
  subject: ServerCertificateSubject,
  options: { notBefore?: Date; days?: number } = {},
): Promise<IssuedCertificate> {
  const x509 = await library();
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const name = [`CN=${subject.host ?? 'localhost'}`, `O=${subject.organizationName}`, ...(subject.city ? [`L=${subject.city}`] : [])].join(', ');
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    otherNameExtension(x509, uziOtherName(subject.ura, subject.uzi, subject.agb), subject.host),
  ];
  const common = { serialNumber: serial(), notBefore, notAfter: new Date(notBefore.getTime() + (options.days ?? 365) * DAY_MS), signingAlgorithm: ALGORITHM, extensions };
  const certificate = ca
    ? await x509.X509CertificateGenerator.create({ ...common, subject: name, issuer: ca.certificate.subject.split('\n').join(', '), publicKey: keys.publicKey, signingKey: ca.keys.privateKey })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name, keys });
  return issued(certificate, keys);
}

import { createPrivateKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import type { GatewayConfig } from '../../config/config.js';
import { importVerificationKey, type VerificationKey } from '../jwk.js';
import { loadEncryptionKey } from '../keyFiles.js';
import type { HostedParty } from '../trust.js';
import { createCertificateAuthority, issueServerCertificate, type IssuedCertificate } from './certificateAuthority.js';
import { pemCertificates, trustedCa, type TrustedCa } from './certificates.js';
import type { DeziTrust } from './person.js';
import { createDeziSealer, type DeziSealer } from './sealedDezi.js';
import { issueX509Credential, type X509Trust } from './x509Credential.js';

/**
 * The Nuts v6 credential material of a gateway, from configuration: the CAs an X509Credential may chain to, the Dezi
 * key set and the key the Dezi id_tokens EHRs hand over are kept encrypted with, and each hosted organisation's own
 * X509Credential (issued at start with its UZI server certificate's key). Development mode keeps a test CA of its own
 * under the data folder (`keys/development-uzi-ca.*`, shared by gateways on one data folder), trusts it, and issues
 * each organisation with a URA a server certificate under it, so `npm start` and `npm run demo` need no outside
 * party. Production trusts only the configured CAs.
 */
export interface NutsCredentials {
  x509: X509Trust;
  dezi?: DeziTrust;
  /** Seals and opens the Dezi id_tokens EHRs hand over (with `dezi`). */
  deziSealer?: DeziSealer;
  /** The X509Credential (a JWT VC) of a hosted organisation, for the presentations it sends; undefined when it has none. */
  x509Credential(organization: string): string | undefined;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** The development CA: created once under the data folder, read back on every start. */
async function developmentCa(dataDir: string): Promise<IssuedCertificate> {
  const certificateFile = path.join(dataDir, 'keys', 'development-uzi-ca.pem');
  const keyFile = path.join(dataDir, 'keys', 'development-uzi-ca.key.jwk.json');
  if (!existsSync(certificateFile) || !existsSync(keyFile)) {
    const ca = await createCertificateAuthority('Development UZI CA (vervolgzorg-gateway)');
    mkdirSync(path.dirname(certificateFile), { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, JSON.stringify(await crypto.subtle.exportKey('jwk', ca.keys.privateKey)), { mode: 0o600 });
    writeFileSync(certificateFile, ca.pem);
  }
  const pem = readFileSync(certificateFile, 'utf8');
  const certificate = new X509Certificate(pem);
  const privateKey = await crypto.subtle.importKey('jwk', JSON.parse(readFileSync(keyFile, 'utf8')) as webcrypto.JsonWebKey, { ...ALGORITHM }, true, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', certificate.publicKey.export({ format: 'der', type: 'spki' }), { ...ALGORITHM }, true, ['verify']);
  return { certificate, pem, keys: { privateKey, publicKey } };
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${what} '${file}': ${(error as Error).message}`);
  }
}

function configuredAnchors(files: string[]): TrustedCa[] {
  return files.flatMap((file) => pemCertificates(readText(file, 'trusted CA file')).map(trustedCa));
}

async function deziTrust(settings: GatewayConfig['nuts']['dezi']): Promise<DeziTrust | undefined> {
  if (!settings) return undefined;
  const jwks = (settings.jwks ?? (settings.jwksFile ? JSON.parse(readText(settings.jwksFile, 'Dezi JWKS file')) : { keys: [] })) as { keys: JWK[] };
  const keys = new Map<string, VerificationKey>();
  for (const jwk of jwks.keys) if (typeof jwk.kid === 'string') keys.set(jwk.kid, await importVerificationKey(jwk));
  return { keys, issuers: settings.issuers };
}

async function configuredIssuer(files: { certificateFile: string; keyFile: string }): Promise<{ chain: X509Certificate[]; privateKey: KeyObject }> {
  const chain = pemCertificates(readText(files.certificateFile, 'certificate file')).map((pem) => new X509Certificate(pem));
  if (chain.length === 0) throw new Error(`'${files.certificateFile}' holds no certificate`);
  return { chain, privateKey: createPrivateKey(readText(files.keyFile, 'certificate key file')) };
}

export async function loadNutsCredentials(config: GatewayConfig, hosted: HostedParty[], now: number): Promise<NutsCredentials> {
  const ca = config.mode === 'development' ? await developmentCa(config.dataDir) : undefined;
  const anchors = [...configuredAnchors(config.nuts.trustedCaFiles), ...(ca ? [trustedCa(ca.pem)] : [])];
  const credentials = new Map<string, string>();
  for (const party of hosted) {
    const { organization } = party;
    if (organization.x509) {
      credentials.set(organization.id, await issueX509Credential(await configuredIssuer(organization.x509), party.did, now));
    } else if (ca && organization.ura) {
      const server = await issueServerCertificate(ca, { organizationName: organization.name, ura: organization.ura, host: new URL(config.publicBaseUrl).hostname });
      credentials.set(organization.id, await issueX509Credential({ chain: [server.certificate, ca.certificate], privateKey: server.keys.privateKey }, party.did, now));
    }
  }
  const dezi = await deziTrust(config.nuts.dezi);
  const deziSealer = config.nuts.dezi && createDeziSealer(loadEncryptionKey(config.nuts.dezi.encryptionKeyFile, config.mode));
  return {
    x509: { anchors: new Map(anchors.map((anchor) => [anchor.fingerprint, anchor])), allowSelfSigned: config.nuts.allowSelfSignedCertificates },
    ...(dezi ? { dezi } : {}),
    ...(deziSealer ? { deziSealer } : {}),
    x509Credential: (organization) => credentials.get(organization),
  };
}

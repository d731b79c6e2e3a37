import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { parseConfig, type GatewayConfig } from '../../src/config/config.js';
import { didDocument } from '../../src/auth/did.js';
import { generateEncryptionJwk, generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { importSigningKey, publicJwk, type SigningKey } from '../../src/auth/jwk.js';
import { createCertificateAuthority, issueServerCertificate, type IssuedCertificate } from '../../src/auth/credentials/certificateAuthority.js';
import { issueX509Credential } from '../../src/auth/credentials/x509Credential.js';
import { party, publicJwks, type Party } from '../harness/parties.js';

/**
 * Nuts v6 parties for tests: a test UZI CA of our own, a remote hospital known only by its did:web (served by an
 * injected fetch) with a server certificate under that CA, and a gateway hosting `vvt-a` with the CA trusted.
 */
export const BASE_URL = 'https://gw.test';
export const ISSUER = `${BASE_URL}/oauth2/vvt-a`;
export const TOKEN_PATH = '/oauth2/vvt-a/token';
export const HOSPITAL_URA = '12345678';

export interface Holder {
  did: string;
  signing: SigningKey;
  x509Credential: string;
  certificate: IssuedCertificate;
}

export interface NutsWorld {
  config: GatewayConfig;
  ca: IssuedCertificate;
  hospital: Holder;
  vvtA: Party;
  deziKey: { kid: string; jwk: Record<string, unknown> };
  /** Serves the DID documents of the holders it was given. */
  fetch: typeof fetch;
  documents: Map<string, object>;
  fetches: string[];
}

/** A holder with a DID document served at `https://<host>/iam/1/did.json` and an X509Credential under `ca`. */
export async function holder(
  host: string,
  ca: IssuedCertificate | undefined,
  documents: Map<string, object>,
  subject: { organizationName: string; ura: string; city?: string } = { organizationName: 'Ziekenhuis Oost', ura: HOSPITAL_URA, city: 'Amsterdam' },
): Promise<Holder> {
  const did = `did:web:${host}:iam:1`;
  const signing = await importSigningKey(did, await generatePrivateJwk());
  documents.set(`https://${host}/iam/1/did.json`, didDocument(did, [signing.publicJwk]));
  const certificate = await issueServerCertificate(ca, { ...subject, host });
  const chain = ca ? [certificate.certificate, ca.certificate] : [certificate.certificate];
  const x509Credential = await issueX509Credential({ chain, privateKey: certificate.keys.privateKey }, did, Math.floor(Date.now() / 1000));
  return { did, signing, x509Credential, certificate };
}

export async function nutsWorld(dataDir: string, nuts: Record<string, unknown> = {}): Promise<NutsWorld> {
  const ca = await createCertificateAuthority('Test UZI Server CA');
  const caFile = path.join(dataDir, 'uzi-ca.pem');
  writeFileSync(caFile, ca.pem);
  const encryptionKeyFile = path.join(dataDir, 'dezi-encryption.jwk.json');
  writeFileSync(encryptionKeyFile, JSON.stringify(generateEncryptionJwk()), { mode: 0o600 });
  const documents = new Map<string, object>();
  const fetches: string[] = [];
  const hospital = await holder('hospital.test', ca, documents);
  const vvtA = await party('vvt-a', 'VVT A', '87654321');
  const dezi = await generatePrivateJwk();
  const deziKey = { kid: 'dezi-1', jwk: dezi as Record<string, unknown> };
  const fetchDocument = (async (url: URL | string) => {
    fetches.push(String(url));
    const document = documents.get(String(url));
    return document ? Response.json(document) : new Response('not found', { status: 404 });
  }) as typeof fetch;
  const config = parseConfig({
    publicBaseUrl: BASE_URL,
    dataDir,
    organizations: [{ id: 'vvt-a', name: 'VVT A', ura: '87654321', roles: ['sender', 'receiver'], keys: [{ jwk: vvtA.jwk }] }],
    trusted: [{ id: 'hospital-x', name: 'Ziekenhuis Oost', ura: HOSPITAL_URA, jwks: publicJwks(await party('hospital-x')) }],
    nuts: {
      trustedCaFiles: [caFile],
      dezi: { issuers: ['https://auth.dezi.test'], jwks: { keys: [{ ...publicJwk(dezi), kid: deziKey.kid, alg: 'ES256' }] }, encryptionKeyFile },
      ...nuts,
    },
  });
  return { config, ca, hospital, vvtA, deziKey, fetch: fetchDocument, documents, fetches };
}

/** The hosts of the tests resolve to a public address (production refuses private ones). */
export const publicLookup = async () => ['93.184.216.34'];

export interface PresentationOptions {
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  credentials?: unknown[];
  signer?: Holder;
}

/** A JWT VP as nuts-node builds it (RFC021 §4.2), every part overridable to build an attack. */
export async function presentation(of: Holder, options: PresentationOptions = {}): Promise<string> {
  const signer = options.signer ?? of;
  const now = Math.floor(Date.now() / 1000);
  const fragment = signer.signing.kid.slice(signer.signing.kid.lastIndexOf('#') + 1);
  return new SignJWT({
    iss: of.did,
    sub: of.did,
    aud: ISSUER,
    nbf: now,
    iat: now,
    exp: now + 5,
    jti: `${of.did}#${randomUUID()}`,
    nonce: randomUUID(),
    vp: {
      '@context': ['https://www.w3.org/2018/credentials/v1'],
      type: ['VerifiablePresentation'],
      verifiableCredential: options.credentials ?? [of.x509Credential],
    },
    ...options.claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: `${signer.did}#${fragment}`, ...options.header })
    .sign(signer.signing.key);
}

/** The presentation_submission for credentials in the order given: the X509Credential, then a person credential. */
export function submission(descriptors: string[] = ['id_uzicert_uracredential'], definition = 'pd_care_organization'): string {
  return JSON.stringify({
    id: randomUUID(),
    definition_id: definition,
    descriptor_map: descriptors.map((id, index) => ({ id, format: index === 0 ? 'jwt_vc' : 'ldp_vc', path: `$.verifiableCredential[${index}]` })),
  });
}

/** A self-attested NutsEmployeeCredential as nuts-node puts it in a presentation (issuer = holder, no proof). */
export const employeeCredential = (of: Holder, subject: Record<string, unknown> = {}) => ({
  '@context': ['https://www.w3.org/2018/credentials/v1', 'https://nuts.nl/credentials/v1'],
  type: ['VerifiableCredential', 'NutsEmployeeCredential'],
  issuer: of.did,
  issuanceDate: new Date().toISOString(),
  credentialSubject: { id: of.did, identifier: 'nurse-42@hospital', name: 'Ineke de Verpleegkundige', roleName: 'Verpleegkundige', ...subject },
});

/** A Dezi id_token (v0.7 claims) signed with the world's Dezi key, wrapped as nuts-node wraps it. */
export async function deziCredential(world: NutsWorld, claims: JWTPayload = {}, key = world.deziKey) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({
    iss: 'https://auth.dezi.test',
    nbf: now,
    exp: now + 3600,
    abonnee_nummer: HOSPITAL_URA,
    dezi_nummer: '900000123',
    voorletters: 'J.',
    voorvoegsel: 'van der',
    achternaam: 'Broek',
    rol_code: '01.041',
    rol_naam: 'Verpleegkundige',
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid })
    .sign(await importJWK(key.jwk, 'ES256'));
  return {
    '@context': ['https://www.w3.org/2018/credentials/v1'],
    type: ['VerifiableCredential', 'DeziUserCredential'],
    issuer: 'https://auth.dezi.test',
    issuanceDate: new Date(now * 1000).toISOString(),
    credentialSubject: { identifier: HOSPITAL_URA, name: 'J. van der Broek', employee: { identifier: '900000123', role: '01.041' } },
    proof: { type: 'DeziIDJWT07', jwt },
  };
}

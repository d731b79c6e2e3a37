import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { JWK } from 'jose';
import { issueServerCertificate, type IssuedCertificate } from '../../src/auth/credentials/certificateAuthority.js';
import { importSigningKey, publicJwk, thumbprint } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { signAssertion } from '../../src/auth/signAssertion.js';
import type { Role } from '../../src/config/config.js';

/** An organisation in a test: its signing key (kid `<id>#<thumbprint>`, as gateways name keys) and its own EHR client. */
export interface Party {
  id: string;
  name: string;
  ura: string;
  jwk: JWK;
  kid: string;
  ehr: { clientId: string; jwk: JWK };
}

export async function party(id: string, name = id, ura = ''): Promise<Party> {
  const jwk = await generatePrivateJwk();
  return { id, name, ura, jwk, kid: `${id}#${await thumbprint(jwk)}`, ehr: { clientId: `${id}-ehr`, jwk: await generatePrivateJwk() } };
}

/** The parties' public keys as a JWKS, each under the party's kid. */
export const publicJwks = (...parties: Party[]) => ({ keys: parties.map((p) => ({ ...publicJwk(p.jwk), kid: p.kid, alg: 'ES256', use: 'sig' })) });

const publicOf = async (owner: string, jwk: JWK) => (await importSigningKey(owner, jwk)).publicJwk;

/** `organizations[]` configuration of a party hosted on a gateway: its signing key and its own EHR as a client. */
export async function hostedOrganization(p: Party, roles: Role[]): Promise<Record<string, unknown>> {
  return {
    id: p.id,
    name: p.name,
    ura: p.ura,
    roles,
    keys: [{ jwk: p.jwk }],
    ehrClients: [{ clientId: p.ehr.clientId, jwks: { keys: [await publicOf(p.ehr.clientId, p.ehr.jwk)] } }],
  };
}

/** `trusted[]` configuration of a party hosted elsewhere: its public key and where it is reached. */
export async function trustedOrganization(p: Party, endpoints: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return { id: p.id, name: p.name, ura: p.ura, jwks: { keys: [await publicOf(p.id, p.jwk)] }, endpoints };
}

/** A JWT signed by the party (issuer), for `audience`: a grant or client assertion, as its gateway or EHR signs it. */
export function signed(signer: string, jwk: JWK, claims: Record<string, unknown>, audience: string, subject: string): Promise<string> {
  return signAssertion(signer, jwk, audience, { subject, claims });
}

/**
 * PEM files of the party's UZI server certificate (issued by `ca`, with the CA after it) and its key, in `folder`:
 * what `organizations[].x509` names for its X509Credential.
 */
export async function uziCertificateFiles(folder: string, ca: IssuedCertificate, p: Party): Promise<{ certificateFile: string; keyFile: string }> {
  const issued = await issueServerCertificate(ca, { organizationName: p.name, ura: p.ura, host: '127.0.0.1' });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey('pkcs8', issued.keys.privateKey)).toString('base64');
  const certificateFile = path.join(folder, `${p.id}-uzi.pem`);
  const keyFile = path.join(folder, `${p.id}-uzi.key.pem`);
  writeFileSync(certificateFile, `${issued.certificate.toString()}${ca.pem}`);
  writeFileSync(keyFile, `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`);
  return { certificateFile, keyFile };
}

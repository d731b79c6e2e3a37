import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { createCertificateAuthority, issueServerCertificate } from '../../src/auth/credentials/certificateAuthority.js';
import { formatDidX509, parseDidX509 } from '../../src/auth/credentials/didX509.js';
import { signPresentation } from '../../src/auth/credentials/presentation.js';
import { issueX509Credential, verifyX509Credential, type X509Trust } from '../../src/auth/credentials/x509Credential.js';
import { X509Certificate } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { trustedCa, verifyChain } from '../../src/auth/credentials/certificates.js';
import { loadConfig } from '../../src/config/config.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { gateway, type Gateway } from './support.js';
import { holder, nutsWorld, presentation, publicLookup, submission, TOKEN_PATH } from './nuts-support.js';

const now = () => Math.floor(Date.now() / 1000);

describe('did:x509', () => {
  it('formats and parses the policies RFC023 maps, percent-encoded', () => {
    const did = formatDidX509('WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk', { O: 'OLVG Oost', L: 'Amsterdam' }, { otherName: '2.16.528.1.1007.99.2110-1-1-S-12345678-00.000-2' });
    expect(did).toBe('did:x509:0:sha256:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk::subject:O:OLVG%20Oost:L:Amsterdam::san:otherName:2.16.528.1.1007.99.2110-1-1-S-12345678-00.000-2');
    expect(parseDidX509(did)).toMatchObject({ subject: { O: 'OLVG Oost', L: 'Amsterdam' }, san: { otherName: '2.16.528.1.1007.99.2110-1-1-S-12345678-00.000-2' } });
  });

  it.each([
    'did:web:example.com',
    'did:x509:0:sha1:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk::subject:O:A',
    'did:x509:0:sha256:short::subject:O:A',
    'did:x509:0:sha256:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk',
    'did:x509:0:sha256:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk::eku:1.3.6.1.5.5.7.3.1',
    'did:x509:0:sha256:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk::subject:O:A:O:B',
    'did:x509:0:sha256:WE4P5dd8DnLHSkyHaIjhp4udlkF9LqoKwCvu9gl38jk::subject:O:%zz',
  ])('refuses %s', (did) => expect(() => parseDidX509(did)).toThrow());
});

describe('X509Credential (RFC023)', () => {
  it('is accepted under a trusted CA and yields the URA of san.otherName; refused under another', async () => {
    const ca = await createCertificateAuthority('UZI test CA');
    const server = await issueServerCertificate(ca, { organizationName: 'Zorg Oost', city: 'Zwolle', ura: '00012345' });
    const jwt = await issueX509Credential({ chain: [server.certificate, ca.certificate], privateKey: server.keys.privateKey }, 'did:web:zorg.test', now());
    const trust: X509Trust = { anchors: new Map([[trustedCa(ca.pem).fingerprint, trustedCa(ca.pem)]]), allowSelfSigned: false };
    expect(await verifyX509Credential(jwt, trust, now())).toMatchObject({ ura: '00012345', organizationName: 'Zorg Oost', city: 'Zwolle', subjectDid: 'did:web:zorg.test' });
    const other = await createCertificateAuthority('Other CA');
    await expect(verifyX509Credential(jwt, { anchors: new Map([[trustedCa(other.pem).fingerprint, trustedCa(other.pem)]]), allowSelfSigned: false }, now())).rejects.toThrow(/untrusted CA/);
  });

  it('is refused when its certificate has expired', async () => {
    const ca = await createCertificateAuthority('UZI test CA');
    const server = await issueServerCertificate(ca, { organizationName: 'Zorg', ura: '00012345' }, { notBefore: new Date(Date.now() - 10 * 86_400_000), days: 2 });
    const jwt = await issueX509Credential({ chain: [server.certificate, ca.certificate], privateKey: server.keys.privateKey }, 'did:web:zorg.test', now() - 9 * 86_400);
    const anchor = trustedCa(ca.pem);
    await expect(verifyX509Credential(jwt, { anchors: new Map([[anchor.fingerprint, anchor]]), allowSelfSigned: false }, now())).rejects.toThrow(/not valid now/);
  });
});

describe('certificate chains', () => {
  it('accept a leaf signed by the trusted CA and refuse one signed by an impostor CA of the same name', async () => {
    const ca = await createCertificateAuthority('UZI test CA');
    const impostor = await createCertificateAuthority('UZI test CA');
    const anchor = trustedCa(ca.pem);
    const genuine = await issueServerCertificate(ca, { organizationName: 'Zorg', ura: '00012345' });
    expect(() => verifyChain([genuine.certificate, ca.certificate], anchor, new Date())).not.toThrow();
    const forged = await issueServerCertificate(impostor, { organizationName: 'Zorg', ura: '00012345' });
    expect(forged.certificate.checkIssued(ca.certificate)).toBe(true);
    expect(() => verifyChain([forged.certificate, ca.certificate], anchor, new Date())).toThrow(/is not signed by/);
  });

  it.each([
    ['RSASSA-PKCS1-v1_5 with SHA-256', { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }],
    ['RSA-PSS', { name: 'RSA-PSS', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), saltLength: 32 }],
    ['ECDSA P-384 with SHA-384', { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' }],
  ])('check a chain signed with %s', async (_name, algorithm) => {
    x509.cryptoProvider.set(crypto);
    const keys = (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
    const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
    const caCertificate = await x509.X509CertificateGenerator.createSelfSigned({
      ...validity,
      serialNumber: '01',
      name: 'CN=Other algorithm CA',
      keys,
      signingAlgorithm: algorithm,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
    });
    const leafKeys = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const leaf = await x509.X509CertificateGenerator.create({ ...validity, serialNumber: '02', subject: 'CN=leaf', issuer: 'CN=Other algorithm CA', publicKey: leafKeys.publicKey, signingKey: keys.privateKey, signingAlgorithm: algorithm });
    const [leafCertificate, ca] = [new X509Certificate(Buffer.from(leaf.rawData)), new X509Certificate(Buffer.from(caCertificate.rawData))];
    expect(() => verifyChain([leafCertificate, ca], trustedCa(caCertificate.toString('pem')), new Date())).not.toThrow();
    const tampered = Buffer.from(leaf.rawData);
    tampered[tampered.length - 10] ^= 0x01;
    expect(() => verifyChain([new X509Certificate(tampered), ca], trustedCa(caCertificate.toString('pem')), new Date())).toThrow(/is not signed by/);
  });
});

describe('self-signed server certificates', () => {
  let folder: string;
  beforeAll(() => {
    folder = temporaryFolder('x509-self-');
  });
  afterAll(() => removeFolder(folder));

  it('are accepted only where nuts.allowSelfSignedCertificates says so', async () => {
    const world = await nutsWorld(folder, { allowSelfSignedCertificates: true });
    const selfSigned = await holder('self.test', undefined, world.documents);
    const gw = await gateway(world.config, folder, { fetch: world.fetch, lookup: publicLookup });
    try {
      const response = await request(gw.app)
        .post(TOKEN_PATH)
        .type('form')
        .send({ grant_type: 'vp_token-bearer', assertion: await presentation(selfSigned), presentation_submission: submission(), scope: 'eOverdracht-sender' });
      expect(response.status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('development mode', () => {
  let folder: string;
  let development: Gateway;
  beforeAll(async () => {
    folder = temporaryFolder('x509-dev-');
    development = await gateway(loadConfig({ DATA_DIR: folder }), folder);
  });
  afterAll(async () => {
    await development.close();
    removeFolder(folder);
  });

  it('issues its own test CA and an X509Credential for the demo organisation, which its authorization server accepts', async () => {
    development.clock.now = Date.now();
    const credential = development.auth.nuts.x509Credential('demo');
    expect(credential).toBeDefined();
    const demo = development.auth.registry.hosted('demo')!;
    const issuer = `${development.auth.registry.publicBaseUrl}/oauth2/demo`;
    const assertion = await signPresentation(demo, [credential], issuer, now());
    const response = await request(development.app)
      .post('/oauth2/demo/token')
      .type('form')
      .send({ grant_type: 'vp_token-bearer', assertion, presentation_submission: submission(), scope: 'eOverdracht-sender' })
      .expect(200);
    expect(await development.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' })).toMatchObject({ organization: { ura: '00000001' } });
  });

  it('is the only mode that trusts that CA: a production gateway refuses the credential', async () => {
    const productionFolder = temporaryFolder('x509-prod-');
    const world = await nutsWorld(productionFolder);
    const production = await gateway(world.config, productionFolder, { fetch: world.fetch, lookup: publicLookup });
    try {
      const trust = production.auth.nuts.x509;
      await expect(verifyX509Credential(development.auth.nuts.x509Credential('demo')!, trust, now())).rejects.toThrow(/untrusted CA/);
    } finally {
      await production.close();
      removeFolder(productionFolder);
    }
  });
});

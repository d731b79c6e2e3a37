import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { createCertificateAuthority } from '../../src/auth/credentials/certificateAuthority.js';
import { signProof, type DpopKey } from '../../src/auth/dpop/index.js';
import { parseConfig } from '../../src/config/config.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { party, publicJwks, type Party } from '../harness/parties.js';
import { clientAssertion, gateway, type Gateway } from './support.js';
import {
  BASE_URL,
  deziCredential,
  employeeCredential,
  holder,
  HOSPITAL_URA,
  ISSUER,
  nutsWorld,
  presentation,
  publicLookup,
  submission,
  TOKEN_PATH,
  type Holder,
  type NutsWorld,
} from './nuts-support.js';

/**
 * The Nuts v6 authorization server of a hosted organisation (issue #15): RFC021 vp_token-bearer and the generic
 * functions' jwt-bearer with X509Credentials, person credentials, and every refusal with its RFC 6749 error.
 */
let folder: string;
let world: NutsWorld;
let gw: Gateway;
let ehr: Party;

const tokenRequest = (params: Record<string, string>, at = TOKEN_PATH) => request(gw.app).post(at).type('form').send(params);
const vpTokenBearer = (assertion: string, extra: Record<string, string> = {}) =>
  tokenRequest({ grant_type: 'vp_token-bearer', assertion, presentation_submission: submission(), scope: 'eOverdracht-sender', ...extra });

async function introspect(token: string) {
  const response = await request(gw.app)
    .post('/oauth2/introspect')
    .type('form')
    .send({ token, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await clientAssertion(ehr) });
  return response.body as Record<string, unknown>;
}

beforeAll(async () => {
  folder = temporaryFolder('vp-token-');
  world = await nutsWorld(folder);
  ehr = await party('ehr-a');
  const config = { ...world.config, organizations: world.config.organizations.map((org) => ({ ...org, ehrClients: [{ clientId: 'ehr-a', jwks: publicJwks(ehr) }] })) };
  gw = await gateway(config, folder, { fetch: world.fetch, lookup: publicLookup });
});
// The test gateway's clock stands still unless moved; presentations are signed at the real time.
beforeEach(() => {
  gw.clock.now = Date.now();
});
afterAll(async () => {
  await gw.close();
  removeFolder(folder);
});

describe('the authorization server of a hosted organisation', () => {
  it('serves RFC 8414 metadata at the well-known URL of its issuer', async () => {
    const response = await request(gw.app).get('/.well-known/oauth-authorization-server/oauth2/vvt-a').expect(200);
    expect(response.body).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/token`,
      presentation_definition_endpoint: `${ISSUER}/presentation_definition`,
      grant_types_supported: ['vp_token-bearer', 'urn:ietf:params:oauth:grant-type:jwt-bearer'],
      did_methods_supported: ['web'],
      dpop_signing_alg_values_supported: expect.arrayContaining(['ES256']),
    });
    await request(gw.app).get('/.well-known/oauth-authorization-server/oauth2/nobody').expect(404);
  });

  it('serves the Presentation Definition of a scope, and refuses an unknown scope with invalid_scope', async () => {
    const response = await request(gw.app).get('/oauth2/vvt-a/presentation_definition').query({ scope: 'eOverdracht-sender' }).expect(200);
    expect(response.body.id).toBe('pd_care_organization');
    const user = await request(gw.app).get('/oauth2/vvt-a/presentation_definition').query({ scope: 'eOverdracht-sender', wallet_owner_type: 'user' }).expect(200);
    expect(user.body.id).toBe('pd_care_user');
    const unknown = await request(gw.app).get('/oauth2/vvt-a/presentation_definition').query({ scope: 'everything' }).expect(400);
    expect(unknown.body.error).toBe('invalid_scope');
  });
});

describe('vp_token-bearer (RFC021)', () => {
  it('grants a request shaped exactly like RFC021 §3 (no client_id), on the URA the X509Credential proves', async () => {
    const response = await vpTokenBearer(await presentation(world.hospital)).expect(200);
    expect(response.body).toMatchObject({ token_type: 'bearer', scope: 'eOverdracht-sender' });
    const principal = await gw.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' });
    expect(principal).toMatchObject({ tenant: 'vvt-a', kind: 'organization', requester: 'hospital-x', organization: { ura: '12345678', name: 'Ziekenhuis Oost' } });
    expect(principal).not.toHaveProperty('person');
    expect(await introspect(response.body.access_token)).toMatchObject({
      active: true,
      scope: 'eOverdracht-sender',
      client_id: world.hospital.did,
      organization_ura: '12345678',
      organization_name: 'Ziekenhuis Oost',
      organization_id: world.hospital.did,
    });
  });

  it('names the person of a self-attested NutsEmployeeCredential in the principal and in introspection', async () => {
    const assertion = await presentation(world.hospital, { credentials: [world.hospital.x509Credential, employeeCredential(world.hospital)] });
    const response = await vpTokenBearer(assertion, { client_id: `https://hospital.test/oauth2/hospital` }).expect(200);
    const principal = await gw.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' });
    expect(principal).toMatchObject({ person: { identifier: 'nurse-42@hospital', name: 'Ineke de Verpleegkundige', role: 'Verpleegkundige' } });
    expect(principal).not.toHaveProperty('user');
    expect(await introspect(response.body.access_token)).toMatchObject({
      client_id: 'https://hospital.test/oauth2/hospital',
      employee_id: 'nurse-42@hospital',
      employee_name: 'Ineke de Verpleegkundige',
      organization_ura: '12345678',
    });
  });

  it('names the person of a Dezi declaration from the verified id_token', async () => {
    const assertion = await presentation(world.hospital, { credentials: [world.hospital.x509Credential, await deziCredential(world)] });
    const response = await vpTokenBearer(assertion, { presentation_submission: submission(['id_uzicert_uracredential', 'id_dezi_user']) }).expect(200);
    const principal = await gw.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' });
    expect(principal).toMatchObject({ person: { identifier: '900000123', name: 'J. van der Broek', role: '01.041' }, organization: { ura: '12345678' } });
    expect(await introspect(response.body.access_token)).toMatchObject({ user_id: '900000123', user_role: '01.041', organization_ura_dezi: '12345678' });
  });

  it('records the token AuditEvent with the organisation URA and the person', async () => {
    const assertion = await presentation(world.hospital, { credentials: [world.hospital.x509Credential, employeeCredential(world.hospital, { identifier: 'audited-nurse' })] });
    await vpTokenBearer(assertion).expect(200);
    const events = JSON.stringify((await gw.store.audit.search('vvt-a', { resourceType: 'AuditEvent', params: [], count: 1000, offset: 0, sort: [], include: [], revinclude: [], total: 'none' })).resources);
    expect(events).toContain('audited-nurse');
    expect(events).toContain('http://fhir.nl/fhir/NamingSystem/ura|12345678');
  });
});

describe('jwt-bearer as the generic functions use it', () => {
  it('grants a presentation without presentation_submission, matched to the scope as it is', async () => {
    const response = await tokenRequest({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: await presentation(world.hospital),
      scope: 'eOverdracht-sender',
      client_id: 'https://hospital.test/oauth2/hospital',
    }).expect(200);
    expect(await gw.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' })).toMatchObject({ organization: { ura: '12345678' } });
  });
});

describe('DPoP (RFC 9449) at the token endpoint of a hosted organisation', () => {
  let key: DpopKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = { alg: 'ES256', key: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) };
  });
  const proofFor = (url: string) => signProof(key, { method: 'POST', url });

  it.each([
    ['vp_token-bearer', { grant_type: 'vp_token-bearer', presentation_submission: submission() }],
    ['jwt-bearer', { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer' }],
  ])('binds a %s token to the key of a proof for {issuer}/token: token_type DPoP, cnf.jkt', async (_grant, params) => {
    const response = await request(gw.app)
      .post(TOKEN_PATH)
      .type('form')
      .set('DPoP', await proofFor(`${ISSUER}/token`))
      .send({ ...params, assertion: await presentation(world.hospital), scope: 'eOverdracht-sender' })
      .expect(200);
    expect(response.body.token_type).toBe('DPoP');
    expect(await introspect(response.body.access_token)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: await calculateJwkThumbprint(key.publicJwk) } });
    const url = `${BASE_URL}/fhir/Task/1`;
    const bound = await gw.auth.authenticator.authenticate(`DPoP ${response.body.access_token}`, { method: 'GET', url, dpop: await signProof(key, { method: 'GET', url, accessToken: response.body.access_token }) });
    expect(bound).toMatchObject({ organization: { ura: HOSPITAL_URA } });
    expect(await gw.auth.authenticator.authenticate(`Bearer ${response.body.access_token}`, { method: 'GET', url })).toMatchObject({ resourceType: 'OperationOutcome' });
  });

  it('refuses a proof for another token endpoint with 400 invalid_dpop_proof', async () => {
    const response = await request(gw.app)
      .post(TOKEN_PATH)
      .type('form')
      .set('DPoP', await proofFor(`${BASE_URL}/oauth2/token`))
      .send({ grant_type: 'vp_token-bearer', assertion: await presentation(world.hospital), presentation_submission: submission(), scope: 'eOverdracht-sender' })
      .expect(400);
    expect(response.body.error).toBe('invalid_dpop_proof');
  });
});

/** Signs an X509Credential-shaped JWT with the hospital's certificate key, its claims and header overridable. */
async function forgedX509(of: Holder, change: { vc?: Record<string, unknown>; iss?: string }) {
  const [encodedHeader, encodedPayload] = of.x509Credential.split('.') as [string, string];
  const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString());
  const payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString());
  const vc = { ...payload.vc, ...change.vc };
  return new SignJWT({ ...payload, vc, ...(change.iss ? { iss: change.iss } : {}) }).setProtectedHeader(header).sign(of.certificate.keys.privateKey);
}

describe('refusals, each with its RFC 6749 error', () => {
  const now = () => Math.floor(Date.now() / 1000);

  async function expectRefusal(response: request.Test | Promise<request.Response>, error: string, description?: RegExp) {
    const result = await response;
    expect(result.status).toBeGreaterThanOrEqual(400);
    expect(result.status).toBeLessThan(500);
    expect(result.body.error).toBe(error);
    if (description) expect(result.body.error_description).toMatch(description);
  }

  it('an expired presentation', async () => {
    const assertion = await presentation(world.hospital, { claims: { nbf: now() - 60, iat: now() - 60, exp: now() - 56 } });
    await expectRefusal(vpTokenBearer(assertion), 'invalid_request', /expired/);
  });

  it('a long-lived presentation (exp - nbf > 5 s)', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { exp: now() + 60 } })), 'invalid_request', /at most 5 s/);
  });

  it('a presentation without nbf', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { nbf: undefined } })), 'invalid_request', /nbf and exp/);
  });

  it('a presentation not valid yet', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { nbf: now() + 60, exp: now() + 62 } })), 'invalid_request', /not valid yet/);
  });

  it('a presentation without a nonce', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { nonce: undefined } })), 'invalid_request', /nonce/);
  });

  it('a replayed nonce', async () => {
    const assertion = await presentation(world.hospital);
    await vpTokenBearer(assertion).expect(200);
    await expectRefusal(vpTokenBearer(assertion), 'invalid_request', /used before/);
  });

  it('a replayed jti with a fresh nonce', async () => {
    const jti = `${world.hospital.did}#replayed`;
    await vpTokenBearer(await presentation(world.hospital, { claims: { jti } })).expect(200);
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { jti } })), 'invalid_request', /used before/);
  });

  it('a presentation for another audience (the RFC003 token endpoint)', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { aud: `${BASE_URL}/oauth2/token` } })), 'invalid_request', /aud/);
  });

  it('a presentation for another organisation of this gateway', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { aud: `${BASE_URL}/oauth2/vvt-b` } })), 'invalid_request', /aud/);
  });

  it('sub differing from iss', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { claims: { sub: 'did:web:other.test' } })), 'invalid_request', /sub must equal iss/);
  });

  it('a signing key of another DID than iss', async () => {
    const other = await holder('other.test', world.ca, world.documents, { organizationName: 'Other', ura: '11111111' });
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { signer: other })), 'invalid_request', /iss must be the DID/);
  });

  it('a signer that is not the subject of the X509Credential', async () => {
    const thief = await holder('thief.test', world.ca, world.documents, { organizationName: 'Thief', ura: '22222222' });
    await expectRefusal(vpTokenBearer(await presentation(thief, { credentials: [world.hospital.x509Credential] })), 'invalid_request', /not the subject/);
  });

  it('an X509Credential from an untrusted CA', async () => {
    const rogueCa = await createCertificateAuthority('Rogue CA');
    const rogue = await holder('rogue.test', rogueCa, world.documents);
    await expectRefusal(vpTokenBearer(await presentation(rogue)), 'invalid_request', /untrusted CA/);
  });

  it('an X509Credential of a self-signed certificate', async () => {
    const selfSigned = await holder('self.test', undefined, world.documents);
    await expectRefusal(vpTokenBearer(await presentation(selfSigned)), 'invalid_request', /self-signed/);
  });

  it('an X509Credential whose credentialSubject claims more than the did:x509 says', async () => {
    const forged = await forgedX509(world.hospital, { vc: { credentialSubject: { id: world.hospital.did, subject: { O: 'Academisch Ziekenhuis' }, san: { otherName: '2.16.528.1.1007.99.2110-1-90000001-S-12345678-00.000-00000000' } } } });
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [forged] })), 'invalid_request', /not in the did:x509/);
  });

  it('a did:x509 whose policies the certificate does not hold', async () => {
    const [encodedHeader, encodedPayload] = world.hospital.x509Credential.split('.') as [string, string];
    const iss = String(JSON.parse(Buffer.from(encodedPayload, 'base64url').toString()).iss).replace('Ziekenhuis', 'Ander');
    const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString());
    const forged = await forgedX509(world.hospital, { iss });
    const reheadered = await new SignJWT(JSON.parse(Buffer.from(forged.split('.')[1]!, 'base64url').toString()))
      .setProtectedHeader({ ...header, kid: `${iss}#0` })
      .sign(world.hospital.certificate.keys.privateKey);
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [reheadered] })), 'invalid_request', /does not match the certificate/);
  });

  it('an X509Credential with a broken signature', async () => {
    const [header, payload, signature] = world.hospital.x509Credential.split('.') as [string, string, string];
    const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [tampered] })), 'invalid_request', /signature/);
  });

  it('a presentation without an X509Credential', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [employeeCredential(world.hospital)] })), 'invalid_request', /no X509Credential/);
  });

  it('a presentation with a credential of an unknown kind', async () => {
    const unknown = { type: ['VerifiableCredential', 'NutsOrganizationCredential'], issuer: world.hospital.did, credentialSubject: {} };
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [world.hospital.x509Credential, unknown] })), 'invalid_request', /not accepted/);
  });

  it('a presentation without presentation_submission', async () => {
    await expectRefusal(
      tokenRequest({ grant_type: 'vp_token-bearer', assertion: await presentation(world.hospital), scope: 'eOverdracht-sender' }),
      'invalid_request',
      /presentation_submission/,
    );
  });

  it('a presentation_submission that answers another definition', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital), { presentation_submission: submission(undefined, 'pd_other') }), 'invalid_request', /answers 'pd_other'/);
  });

  it('a presentation_submission that maps a descriptor to the wrong credential', async () => {
    const assertion = await presentation(world.hospital, { credentials: [world.hospital.x509Credential, employeeCredential(world.hospital)] });
    await expectRefusal(vpTokenBearer(assertion, { presentation_submission: submission(['id_employee', 'id_uzicert_uracredential']) }), 'invalid_request', /does not satisfy/);
  });

  it('an unknown scope, and no scope', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital), { scope: 'everything' }), 'invalid_scope');
    await expectRefusal(vpTokenBearer(await presentation(world.hospital), { scope: '' }), 'invalid_request', /scope is required/);
  });

  it('a scope only a coordination point grants', async () => {
    await expectRefusal(vpTokenBearer(await presentation(world.hospital), { scope: 'capacity-publication' }), 'invalid_scope', /coordination-point/);
  });

  it('a Dezi declaration for another organisation', async () => {
    const dezi = await deziCredential(world, { abonnee_nummer: '99999999' });
    const assertion = await presentation(world.hospital, { credentials: [world.hospital.x509Credential, dezi] });
    await expectRefusal(vpTokenBearer(assertion), 'invalid_request', /Dezi declaration is for organisation 99999999/);
  });

  it('a Dezi id_token signed by a key not in the Dezi key set', async () => {
    const { generatePrivateJwk } = await import('../../src/auth/keyFiles.js');
    const dezi = await deziCredential(world, {}, { kid: 'dezi-1', jwk: (await generatePrivateJwk()) as Record<string, unknown> });
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [world.hospital.x509Credential, dezi] })), 'invalid_request', /signature/);
  });

  it('an expired Dezi id_token', async () => {
    const dezi = await deziCredential(world, { nbf: now() - 7200, exp: now() - 3600 });
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [world.hospital.x509Credential, dezi] })), 'invalid_request', /Dezi id_token has expired/);
  });

  it('a NutsEmployeeCredential issued by someone else than the signer', async () => {
    const employee = { ...employeeCredential(world.hospital), issuer: 'did:web:other.test:iam:1' };
    await expectRefusal(vpTokenBearer(await presentation(world.hospital, { credentials: [world.hospital.x509Credential, employee] })), 'invalid_request', /self-attested/);
  });

  it('a holder DID that does not resolve', async () => {
    const ghost = await holder('ghost.test', world.ca, new Map());
    await expectRefusal(vpTokenBearer(await presentation(ghost)), 'invalid_request', /unknown key/);
  });

  it('an organisation the gateway does not host', async () => {
    await expectRefusal(tokenRequest({ grant_type: 'vp_token-bearer', assertion: await presentation(world.hospital) }, '/oauth2/nobody/token'), 'invalid_request', /no authorization server/);
  });

  it('a grant type this authorization server does not take', async () => {
    await expectRefusal(tokenRequest({ grant_type: 'client_credentials' }), 'unsupported_grant_type');
  });

  it('a holder DID at a private address (production)', async () => {
    const privateFolder = temporaryFolder('vp-private-');
    const strict = await gateway(world.config, privateFolder, { fetch: world.fetch, lookup: async () => ['10.0.0.5'] });
    try {
      const response = await request(strict.app)
        .post(TOKEN_PATH)
        .type('form')
        .send({ grant_type: 'vp_token-bearer', assertion: await presentation(world.hospital), presentation_submission: submission(), scope: 'eOverdracht-sender' });
      expect(response.body.error).toBe('invalid_request');
    } finally {
      await strict.close();
      removeFolder(privateFolder);
    }
  });
});

describe('policy data', () => {
  it('refuses credentials that do not meet the Presentation Definition of the configured policy file', async () => {
    const policyFolder = temporaryFolder('vp-policy-');
    const policyFile = path.join(policyFolder, 'policy.json');
    const organization = {
      id: 'pd_academic_only',
      input_descriptors: [
        { id: 'academic', constraints: { fields: [{ path: ['$.credentialSubject.subject.O'], filter: { type: 'string', const: 'Academisch Ziekenhuis' } }] } },
      ],
    };
    writeFileSync(policyFile, JSON.stringify({ 'eOverdracht-sender': { organization } }));
    const config = parseConfig({ ...rawOf(world), dataDir: policyFolder, nuts: { ...rawOf(world).nuts, policyFile } });
    const strict = await gateway(config, policyFolder, { fetch: world.fetch, lookup: publicLookup });
    try {
      const response = await request(strict.app)
        .post(TOKEN_PATH)
        .type('form')
        .send({ grant_type: 'vp_token-bearer', assertion: await presentation(world.hospital), presentation_submission: submission(['academic'], 'pd_academic_only'), scope: 'eOverdracht-sender' });
      expect(response.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/do not satisfy the Presentation Definition 'pd_academic_only'/) });
    } finally {
      await strict.close();
      removeFolder(policyFolder);
    }
  });
});

/** The world's configuration as raw JSON again (to derive another one from it). */
function rawOf(of: NutsWorld) {
  const { config } = of;
  return {
    publicBaseUrl: config.publicBaseUrl,
    organizations: config.organizations.map(({ id, name, ura, roles, keys }) => ({ id, name, ura, roles, keys })),
    trusted: config.trusted.map(({ id, name, ura, jwks }) => ({ id, name, ura, jwks })),
    nuts: { trustedCaFiles: config.nuts.trustedCaFiles, ...(config.nuts.dezi ? { dezi: config.nuts.dezi } : {}) },
  };
}

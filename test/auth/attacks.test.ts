import { createHmac, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { REFUSAL_REASON_PARAMETER, REFUSAL_REASON_SYSTEM } from '../../src/vocabulary/canonical.js';
import { publicJwk } from '../../src/auth/jwk.js';
import { JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { temporaryFolder } from '../harness/folders.js';
import { BASE_URL, gateway, grant, now, rawJws, TOKEN_ENDPOINT, world, type Gateway, type World } from './support.js';

/**
 * The attack suite of issue 3 against the real token endpoint over HTTP: every case refused with the exact
 * RFC 6749 error (token endpoint) or 401/403 (resource server).
 */
let w: World;
let gw: Gateway;
let dataDir: string;

beforeAll(async () => {
  w = await world();
  dataDir = temporaryFolder('auth-test-');
  gw = await gateway(w.config, dataDir);
});
afterAll(() => gw.close());

const exchange = (assertion: string, app = gw.app) =>
  request(app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion });

async function expectRefused(assertion: string, error: string, description: RegExp, app = gw.app) {
  const response = await exchange(assertion, app);
  expect({ status: response.status, body: response.body }).toEqual({
    status: 400,
    body: { error, error_description: expect.stringMatching(description) },
  });
  expect(response.headers['cache-control']).toBe('no-store');
}

const fhir = (token: string) => ({
  get: (path: string) => request(gw.app).get(`/fhir${path}`).set('Authorization', `Bearer ${token}`),
  delete: (path: string) => request(gw.app).delete(`/fhir${path}`).set('Authorization', `Bearer ${token}`),
});

async function tokenFor(assertion: string): Promise<string> {
  const response = await exchange(assertion);
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

/**
 * An RFC014 credential of the generic path (presented in a grant's `vcs`). eOverdracht-sender pulls are judged on
 * Consents only (consents.test.ts), so these use another purpose, whose tokens still carry what credentials grant.
 */
async function credential(issuer: string, subject: string, paths: string[] = ['/Task/1'], purposeOfUse = 'eOverdracht-receiver') {
  return gw.auth.credentials.issue(issuer, {
    subject,
    purposeOfUse,
    resources: paths.map((path) => ({ path, operations: ['read'], userContext: false })),
  });
}

describe('a well-formed grant', () => {
  it('gets a bearer token that lives at most 60 s and opens exactly what its credential grants', async () => {
    const { jwt } = await credential('vvt-a', 'hospital-x');
    const response = await exchange(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ token_type: 'bearer', scope: 'eOverdracht-receiver' });
    expect(response.body.expires_in).toBeGreaterThan(0);
    expect(response.body.expires_in).toBeLessThanOrEqual(60);
    const read = await fhir(response.body.access_token).get('/Task/1');
    expect(read.status).toBe(200);
    expect(read.body.principal).toMatchObject({
      tenant: 'vvt-a',
      kind: 'organization',
      requester: 'hospital-x',
      purposeOfUse: 'eOverdracht-receiver',
      resources: [{ path: '/Task/1', operations: ['read'], userContext: false }],
    });
  });
});

describe('attacks on the token endpoint', () => {
  it('a resource indicator (RFC 8707) that is no absolute URL, or has a query or fragment: invalid_target', async () => {
    for (const resource of [`${BASE_URL}/fhir/Task/1?_format=xml`, `${BASE_URL}/fhir/Task/1#task`, 'Task/1']) {
      const response = await request(gw.app)
        .post('/oauth2/token')
        .type('form')
        .send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver' }), resource });
      expect([resource, response.status, response.body.error]).toEqual([resource, 400, 'invalid_target']);
    }
  });

  it('alg none', async () => {
    const claims = { iss: 'hospital-x', sub: 'vvt-a', aud: TOKEN_ENDPOINT, iat: now(), exp: now() + 5, jti: 'none-1', purposeOfUse: 'eOverdracht-receiver' };
    await expectRefused(rawJws({ alg: 'none', typ: 'JWT', kid: w.hospitalX.kid }, claims, () => ''), 'invalid_grant', /alg 'none' is not allowed/);
  });

  it('HS256 signed with the public key', async () => {
    const claims = { iss: 'hospital-x', sub: 'vvt-a', aud: TOKEN_ENDPOINT, iat: now(), exp: now() + 5, jti: 'hs-1', purposeOfUse: 'eOverdracht-receiver' };
    const publicKey = createPublicKey({ key: publicJwk(w.hospitalX.jwk), format: 'jwk' });
    for (const secret of [publicKey.export({ type: 'spki', format: 'pem' }), JSON.stringify(publicJwk(w.hospitalX.jwk))]) {
      const forged = rawJws({ alg: 'HS256', typ: 'JWT', kid: w.hospitalX.kid }, claims, (input) =>
        createHmac('sha256', secret).update(input).digest('base64url'),
      );
      await expectRefused(forged, 'invalid_grant', /alg 'HS256' is not allowed/);
    }
  });

  it('unknown kid', async () => {
    await expectRefused(await grant(w.hospitalX, {}, { kid: 'hospital-x#no-such-key' }), 'invalid_grant', /unknown key/);
  });

  it('kid of another organisation', async () => {
    await expectRefused(await grant(w.hospitalY, { iss: 'hospital-x' }), 'invalid_grant', /kid does not belong to iss/);
    const ownKidOtherKey = await grant(w.hospitalY, { iss: 'hospital-x' }, { kid: `hospital-x#${w.hospitalY.kid.split('#')[1]}` });
    await expectRefused(ownKidOtherKey, 'invalid_grant', /unknown key/);
    await expectRefused(await grant(w.hospitalX, {}, { kid: w.hospitalX.kid.split('#')[1] }), 'invalid_grant', /kid must be <iss>#<key id>/);
  });

  it('expired', async () => {
    await expectRefused(await grant(w.hospitalX, { iat: now() - 20, exp: now() - 15 }), 'invalid_grant', /expired/);
  });

  it('iat in the future beyond the skew', async () => {
    await expectRefused(await grant(w.hospitalX, { iat: now() + 10, exp: now() + 12 }), 'invalid_grant', /iat is in the future/);
  });

  it('exp - iat > 5 s', async () => {
    await expectRefused(await grant(w.hospitalX, { iat: now(), exp: now() + 6 }), 'invalid_grant', /exp - iat exceeds 5 s/);
  });

  it('wrong aud', async () => {
    for (const aud of [`${BASE_URL}/oauth2/token/`, 'https://other.test/oauth2/token', BASE_URL]) {
      await expectRefused(await grant(w.hospitalX, { aud }), 'invalid_grant', /aud must be https:\/\/gw\.test\/oauth2\/token/);
    }
  });

  it('replayed jti', async () => {
    const assertion = await grant(w.hospitalX);
    expect((await exchange(assertion)).status).toBe(200);
    await expectRefused(assertion, 'invalid_grant', /jti has been used before/);
    await expectRefused(await grant(w.hospitalX, { jti: JSON.parse(Buffer.from(assertion.split('.')[1]!, 'base64url').toString()).jti }), 'invalid_grant', /jti has been used before/);
  });

  it('replayed jti after a restart (the store is reopened on the same file)', async () => {
    const assertion = await grant(w.hospitalX);
    expect((await exchange(assertion)).status).toBe(200);
    await gw.close();
    gw = await gateway(w.config, dataDir);
    await expectRefused(assertion, 'invalid_grant', /jti has been used before/);
  });

  it('untrusted iss', async () => {
    await expectRefused(await grant(w.stranger), 'invalid_grant', /issuer 'stranger' is not trusted/);
  });

  it('sub not hosted here', async () => {
    await expectRefused(await grant(w.hospitalX, { sub: 'hospital-y' }), 'invalid_grant', /sub 'hospital-y' is not hosted here/);
  });

  it('credential for another subject', async () => {
    const { jwt } = await credential('vvt-a', 'hospital-y');
    await expectRefused(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }), 'invalid_grant', /credential is for another subject/);
  });

  it('revoked credential', async () => {
    const { jwt, credential: issued } = await credential('vvt-a', 'hospital-x');
    expect(await gw.auth.credentials.revoke('vvt-a', issued.id)).toBe(true);
    const refused = await exchange(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    expect({ status: refused.status, body: refused.body }).toEqual({
      status: 400,
      body: { error: 'invalid_grant', error_description: 'credential revoked or unknown', [REFUSAL_REASON_PARAMETER]: 'credential-revoked' },
    });
  });

  it("another tenant's credential (issued by vvt-b, presented to vvt-a)", async () => {
    const { jwt } = await credential('vvt-b', 'hospital-x', ['/Task/b-1']);
    await expectRefused(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }), 'invalid_grant', /not issued by the authorizer/);
  });

  it('a credential for another purpose', async () => {
    const { jwt } = await credential('vvt-a', 'hospital-x', ['/Task/1'], 'eOverdracht-sender');
    await expectRefused(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }), 'invalid_grant', /purposeOfUse differs/);
  });

  it('an unknown purposeOfUse', async () => {
    await expectRefused(await grant(w.hospitalX, { purposeOfUse: 'marketing' }), 'invalid_scope', /unknown purposeOfUse 'marketing'/);
  });

  it('a missing or foreign typ', async () => {
    await expectRefused(await grant(w.hospitalX, {}, { typ: undefined }), 'invalid_grant', /typ must be JWT/);
    await expectRefused(await grant(w.hospitalX, {}, { typ: 'at+jwt' }), 'invalid_grant', /typ must be JWT/);
  });

  it('a tampered payload', async () => {
    const [header, , signature] = (await grant(w.hospitalX)).split('.');
    const payload = Buffer.from(JSON.stringify({ iss: 'hospital-x', sub: 'vvt-b', aud: TOKEN_ENDPOINT, iat: now(), exp: now() + 5, jti: 'x', purposeOfUse: 'eOverdracht-receiver' })).toString('base64url');
    await expectRefused(`${header}.${payload}.${signature}`, 'invalid_grant', /signature verification failed/);
  });

  it('malformed requests', async () => {
    const noAssertion = await request(gw.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT });
    expect(noAssertion.body).toMatchObject({ error: 'invalid_request' });
    const twice = await request(gw.app).post('/oauth2/token').type('form').send(`grant_type=${encodeURIComponent(JWT_BEARER_GRANT)}&assertion=a&assertion=b`);
    expect(twice.body).toMatchObject({ error: 'invalid_request' });
    const password = await request(gw.app).post('/oauth2/token').type('form').send({ grant_type: 'password' });
    expect(password.body).toMatchObject({ error: 'unsupported_grant_type' });
    const junk = await request(gw.app).post('/oauth2/token').type('json').send('{"grant_type":');
    expect({ status: junk.status, error: junk.body.error }).toEqual({ status: 400, error: 'invalid_request' });
    const notJwt = await exchange('not.a.jwt');
    expect(notJwt.body).toMatchObject({ error: 'invalid_grant' });
    const get = await request(gw.app).get('/oauth2/token');
    expect({ status: get.status, allow: get.headers.allow }).toEqual({ status: 405, allow: 'POST' });
  });

  it('accepts the same grant as a JSON body (RFC003 §4.2.4)', async () => {
    const response = await request(gw.app).post('/oauth2/token').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX) });
    expect(response.status).toBe(200);
  });
});

describe('attacks on the resource server', () => {
  it('path not granted', async () => {
    const { jwt } = await credential('vvt-a', 'hospital-x', ['/Task/1']);
    const token = await tokenFor(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    for (const path of ['/Task/2', '/Task/10', '/Task', '/Task/1/x']) {
      const response = await fhir(token).get(path);
      expect({ path, status: response.status, code: response.body.issue?.[0]?.code }).toEqual({ path, status: 403, code: 'forbidden' });
    }
  });

  it('operation not granted', async () => {
    const { jwt } = await credential('vvt-a', 'hospital-x', ['/Task/1']);
    const token = await tokenFor(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    expect((await fhir(token).delete('/Task/1')).status).toBe(403);
  });

  it("another tenant's resource: the token opens only its authorizer's tenant", async () => {
    await credential('vvt-b', 'hospital-x', ['/Task/b-1']);
    const { jwt } = await credential('vvt-a', 'hospital-x', ['/Task/1']);
    const token = await tokenFor(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    expect((await fhir(token).get('/Task/b-1')).status).toBe(403);
    expect((await fhir(token).get('/Task/1')).body.principal.tenant).toBe('vvt-a');
  });

  it('a token after its credential is revoked: refused at once, not after 60 s', async () => {
    const { jwt, credential: issued } = await credential('vvt-a', 'hospital-x', ['/Task/1']);
    const token = await tokenFor(await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-receiver', vcs: [jwt] }));
    expect((await fhir(token).get('/Task/1')).status).toBe(200);
    await gw.auth.credentials.revoke('vvt-a', issued.id);
    const refused = await fhir(token).get('/Task/1');
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe(
      'Bearer realm="vervolgzorg-gateway", error="invalid_token", error_description="Access token refused: authorization credential revoked"',
    );
    expect(refused.body.issue[0].details.coding).toContainEqual({ system: REFUSAL_REASON_SYSTEM, code: 'credential-revoked' });
  });

  it('a token after expiry', async () => {
    const token = await tokenFor(await grant(w.hospitalX));
    gw.clock.now += 59_000;
    expect((await fhir(token).get('/Task/1')).status).toBe(403);
    gw.clock.now += 2_000;
    const expired = await fhir(token).get('/Task/1');
    expect(expired.status).toBe(401);
    expect(expired.headers['www-authenticate']).toMatch(/error="invalid_token", error_description="Access token refused: token expired"/);
    gw.clock.now = Date.now();
  });

  it('no token, a malformed one, a forged one, and a grant used as an access token', async () => {
    const none = await request(gw.app).get('/fhir/Task/1');
    expect({ status: none.status, challenge: none.headers['www-authenticate'] }).toEqual({ status: 401, challenge: 'Bearer realm="vervolgzorg-gateway"' });
    const basic = await request(gw.app).get('/fhir/Task/1').set('Authorization', 'Basic dTpw');
    expect(basic.headers['www-authenticate']).toBe('Bearer realm="vervolgzorg-gateway"');
    const malformed = await request(gw.app).get('/fhir/Task/1').set('Authorization', 'Bearer a b');
    expect(malformed.headers['www-authenticate']).toMatch(/error="invalid_request"/);
    const assertion = await grant(w.hospitalX);
    const grantAsToken = await fhir(assertion).get('/Task/1');
    expect(grantAsToken.headers['www-authenticate']).toMatch(/error="invalid_token".*not an access token issued here/);
    const token = await tokenFor(await grant(w.hospitalX));
    const [id] = token.split('.');
    const forged = await fhir(`${id}.${'A'.repeat(43)}`).get('/Task/1');
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toMatch(/error="invalid_token".*unknown access token/);
  });
});

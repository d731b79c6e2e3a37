import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import request from 'supertest';
import { accessTokenHash, signProof, type DpopKey } from '../../src/auth/dpop/index.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import {
  CONSENT_ACTION_SYSTEM,
  CONSENT_REQUIRES_PERSON_EXTENSION,
  CONSENT_SCOPE_SYSTEM,
  EOVERDRACHT_CONSENT_SCOPE,
  ORGANIZATION_ID_SYSTEM,
} from '../../src/vocabulary/canonical.js';
import { REFUSAL_REASON_SYSTEM } from '../../src/vocabulary/canonical.js';
import { temporaryFolder } from '../harness/folders.js';
import { BASE_URL, clientAssertion, gateway, grant, now, TOKEN_ENDPOINT, world, type Gateway, type World } from './support.js';

/**
 * DPoP (RFC 9449): a proof at the token endpoint binds the token to the proof's key (`token_type: DPoP`, `cnf.jkt`);
 * the resource server then wants, on every request, a fresh proof of that key for that method and URL, naming the
 * token. Each check has its refusal here: `invalid_dpop_proof` (400 at the token endpoint, 401 with a DPoP challenge
 * at the resource server), and `invalid_token` for a bound token sent as Bearer.
 */
let w: World;
let gw: Gateway;
let dataDir: string;
let key: DpopKey;
let otherKey: DpopKey;

async function dpopKey(): Promise<DpopKey> {
  const pair = await generateKeyPair('ES256');
  return { alg: 'ES256', key: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) };
}

beforeAll(async () => {
  w = await world();
  dataDir = temporaryFolder('dpop-test-');
  gw = await gateway(w.config, dataDir);
  [key, otherKey] = await Promise.all([dpopKey(), dpopKey()]);
});
afterAll(() => gw.close());

const TASK_URL = `${BASE_URL}/fhir/Task/1`;

/** A proof with every claim and header open to change, to build each attack. */
async function craftedProof(signer: DpopKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ htm: 'GET', htu: TASK_URL, iat: now(), jti: randomUUID(), ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: signer.publicJwk, ...header })
    .sign(signer.key);
}

const ehrTokenRequest = async (proof?: string) => {
  const call = request(gw.app).post('/oauth2/token').type('form');
  if (proof !== undefined) call.set('DPoP', proof);
  return call.send({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: await clientAssertion(w.ehrA) });
};

const tokenProof = (signer: DpopKey = key) => signProof(signer, { method: 'POST', url: TOKEN_ENDPOINT });

async function boundToken(signer: DpopKey = key): Promise<string> {
  const response = await ehrTokenRequest(await tokenProof(signer));
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

const resourceCall = (token: string, proof?: string, method: 'get' | 'delete' = 'get', path = '/fhir/Task/1') => {
  const call = request(gw.app)[method](path).set('Authorization', `DPoP ${token}`);
  return proof === undefined ? call : call.set('DPoP', proof);
};

describe('the token endpoint', () => {
  it('offers DPoP in its metadata', async () => {
    const { body } = await request(gw.app).get('/.well-known/oauth-authorization-server');
    expect(body.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'PS256']));
  });

  it('binds the token to the key of the proof: token_type DPoP, cnf.jkt in introspection', async () => {
    const response = await ehrTokenRequest(await tokenProof());
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
    const introspection = await request(gw.app)
      .post('/oauth2/introspect')
      .type('form')
      .send({ token: response.body.access_token, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: await clientAssertion(w.ehrA) });
    expect(introspection.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: await calculateJwkThumbprint(key.publicJwk) } });
  });

  it('binds an organisation grant (RFC003 jwt-bearer) as well', async () => {
    const response = await request(gw.app).post('/oauth2/token').type('form').set('DPoP', await tokenProof()).send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX) });
    expect(response.status).toBe(200);
    expect(response.body.token_type).toBe('DPoP');
  });

  it('issues a bearer token without a proof', async () => {
    expect((await ehrTokenRequest()).body.token_type).toBe('bearer');
  });

  const privateJwk = async (): Promise<JWK> => exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);

  it.each<[string, () => Promise<string>, RegExp]>([
    ['a proof for another URL', () => craftedProof(key, { htm: 'POST', htu: `${BASE_URL}/oauth2/introspect` }), /htu must be/],
    ['a proof for another method', () => craftedProof(key, { htm: 'GET', htu: TOKEN_ENDPOINT }), /htm must be POST/],
    ['a proof of another type', () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT }, { typ: 'JWT' }), /typ/],
    ['a proof without jti', () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT, jti: undefined }), /jti is required/],
    ['a proof without iat', () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT, iat: undefined }), /iat is required/],
    ['a proof older than its window', () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT, iat: now() - 120 }), /older than 60 s/],
    ['a proof from the future', () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT, iat: now() + 60 }), /iat is in the future/],
    ['a proof whose header key did not sign it', () => craftedProof(otherKey, { htm: 'POST', htu: TOKEN_ENDPOINT }, { jwk: key.publicJwk }), /signature verification failed/],
    ['a proof carrying a private key', async () => craftedProof(key, { htm: 'POST', htu: TOKEN_ENDPOINT }, { jwk: await privateJwk() }), /public key/],
    // Two DPoP headers arrive joined by a comma (node joins repeated headers it does not know).
    ['two proofs', async () => `${await tokenProof()}, ${await tokenProof()}`, /exactly one DPoP header/],
    ['a proof that is no JWT', async () => 'not-a-jwt', /proof refused/],
  ])('refuses %s with 400 invalid_dpop_proof', async (_case, proof, description) => {
    const response = await ehrTokenRequest(await proof());
    expect({ status: response.status, error: response.body.error }).toEqual({ status: 400, error: 'invalid_dpop_proof' });
    expect(response.body.error_description).toMatch(description);
  });

  it('refuses a replayed proof with 400 invalid_dpop_proof', async () => {
    const proof = await tokenProof();
    expect((await ehrTokenRequest(proof)).status).toBe(200);
    const replayed = await ehrTokenRequest(proof);
    expect(replayed.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(/used before/) });
  });
});

describe('the resource server', () => {
  it('accepts a DPoP token with a fresh proof of its key, on every request', async () => {
    const token = await boundToken();
    for (const method of ['get', 'delete'] as const) {
      const response = await resourceCall(token, await signProof(key, { method: method.toUpperCase(), url: TASK_URL, accessToken: token }), method);
      expect(response.status).toBe(200);
      expect(response.body.principal).toMatchObject({ tenant: 'vvt-a', kind: 'ehr' });
    }
  });

  it('ignores the query of the request URL (RFC 9449 §4.3)', async () => {
    const token = await boundToken();
    const proof = await signProof(key, { method: 'GET', url: TASK_URL, accessToken: token });
    expect((await resourceCall(token, proof, 'get', '/fhir/Task/1?_format=json')).status).toBe(200);
  });

  /** A 401 with the DPoP challenge: `error` and the algorithms accepted. */
  function expectDpopRefusal(response: request.Response, error: string, description: RegExp): void {
    expect(response.status).toBe(401);
    const challenge = response.headers['www-authenticate'] as string;
    expect(challenge).toMatch(new RegExp(`^DPoP realm="vervolgzorg-gateway", error="${error}"`));
    expect(challenge).toMatch(/algs="ES256 /);
    expect(challenge).toMatch(description);
  }

  it.each<[string, (token: string) => Promise<string | undefined>, RegExp]>([
    ['no proof', async () => undefined, /DPoP proof.*is required/],
    ['a proof for another URL', (token) => signProof(key, { method: 'GET', url: `${BASE_URL}/fhir/Task/2`, accessToken: token }), /htu must be/],
    ['a proof for another method', (token) => signProof(key, { method: 'DELETE', url: TASK_URL, accessToken: token }), /htm must be GET/],
    ['a proof of another key', (token) => signProof(otherKey, { method: 'GET', url: TASK_URL, accessToken: token }), /another key than the token is bound to/],
    ['a proof for another token (wrong ath)', () => signProof(key, { method: 'GET', url: TASK_URL, accessToken: 'another-token' }), /ath does not match/],
    ['a proof without ath', () => signProof(key, { method: 'GET', url: TASK_URL }), /ath does not match/],
    ['a stale proof', (token) => craftedProof(key, { ath: accessTokenHash(token), iat: now() - 120 }), /older than 60 s/],
    ['the token endpoint proof', () => tokenProof(), /htm must be GET/],
  ])('refuses %s with 401 invalid_dpop_proof', async (_case, proof, description) => {
    const token = await boundToken();
    expectDpopRefusal(await resourceCall(token, await proof(token)), 'invalid_dpop_proof', description);
  });

  it('refuses a replayed proof, also at another instance on the same database', async () => {
    const token = await boundToken();
    const proof = await signProof(key, { method: 'GET', url: TASK_URL, accessToken: token });
    expect((await resourceCall(token, proof)).status).toBe(200);
    expectDpopRefusal(await resourceCall(token, proof), 'invalid_dpop_proof', /used before/);
    const second = await gateway(w.config, dataDir);
    try {
      const again = await request(second.app).get('/fhir/Task/1').set('Authorization', `DPoP ${token}`).set('DPoP', proof);
      expectDpopRefusal(again, 'invalid_dpop_proof', /used before/);
    } finally {
      await second.close();
    }
  });

  it('refuses a DPoP-bound token sent as Bearer with invalid_token', async () => {
    const token = await boundToken();
    const response = await request(gw.app).get('/fhir/Task/1').set('Authorization', `Bearer ${token}`);
    expectDpopRefusal(response, 'invalid_token', /must be sent with the DPoP scheme/);
  });

  it('refuses a bearer token sent with the DPoP scheme', async () => {
    const token = (await ehrTokenRequest()).body.access_token as string;
    expectDpopRefusal(await resourceCall(token, await signProof(key, { method: 'GET', url: TASK_URL, accessToken: token })), 'invalid_token', /not DPoP-bound/);
  });

  it('refuses a malformed DPoP authorization with invalid_request', async () => {
    const response = await request(gw.app).get('/fhir/Task/1').set('Authorization', 'DPoP a b');
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^DPoP .*error="invalid_request"/);
  });
});

describe('a resource the policy opens only to a person', () => {
  /** An eOverdracht Consent of vvt-a for hospital-x naming `Type/id`, marked by the sender's person policy or not. */
  const consent = (id: string, key: string, requiresPerson: boolean) => ({
    resourceType: 'Consent',
    id,
    status: 'active',
    ...(requiresPerson ? { extension: [{ url: CONSENT_REQUIRES_PERSON_EXTENSION, valueBoolean: true }] } : {}),
    scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: EOVERDRACHT_CONSENT_SCOPE }] },
    organization: [{ identifier: { system: ORGANIZATION_ID_SYSTEM, value: 'vvt-a' } }],
    provision: {
      type: 'permit',
      actor: [{ reference: { identifier: { system: ORGANIZATION_ID_SYSTEM, value: 'hospital-x' } } }],
      action: [{ coding: [{ system: CONSENT_ACTION_SYSTEM, code: 'access' }] }],
      data: [{ meaning: 'instance', reference: { reference: key } }],
    },
  });
  beforeAll(async () => {
    const scope = { tenant: 'vvt-a', version: 'r4' as const };
    await gw.store.resources.update(scope, consent('handoff', 'Composition/handoff', true));
    await gw.store.resources.update(scope, consent('notice', 'Composition/notice', false));
  });

  async function tokenWith(claims: Record<string, unknown>): Promise<string> {
    const response = await request(gw.app)
      .post('/oauth2/token')
      .type('form')
      .set('DPoP', await tokenProof())
      .send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-sender', ...claims }) });
    expect(response.status).toBe(200);
    return response.body.access_token as string;
  }
  const read = async (token: string, path = '/fhir/Composition/handoff') =>
    resourceCall(token, await signProof(key, { method: 'GET', url: `${BASE_URL}${path}`, accessToken: token }), 'get', path);

  it('is refused with 403 saying a user identity is required when the token names no person', async () => {
    const refused = await read(await tokenWith({}));
    expect(refused.status).toBe(403);
    expect(refused.body.issue[0].details.text).toMatch(/requires a user identity/);
    // The code another gateway of ours acts on: wait for the person, do not give up (transfer/receiver.ts).
    expect(refused.body.issue[0].details.coding).toEqual([{ system: REFUSAL_REASON_SYSTEM, code: 'user-identity-required' }]);
  });

  it('is read by a token naming the person', async () => {
    const answer = await read(await tokenWith({ usi: { id: 'nurse-7', name: 'N. Zeven', role: 'nurse' } }));
    expect(answer.status).toBe(200);
    expect(answer.body.principal.person).toEqual({ identifier: 'nurse-7', name: 'N. Zeven', role: 'nurse' });
  });

  it('leaves a resource whose Consent the policy does not mark open to a token naming no person', async () => {
    expect((await read(await tokenWith({}), '/fhir/Composition/notice')).status).toBe(200);
  });

  it('refuses a grant whose person has no name (NEN 7513 names who read it)', async () => {
    const response = await request(gw.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX, { usi: { id: 'nurse-7' } }) });
    expect({ status: response.status, error: response.body.error }).toEqual({ status: 400, error: 'invalid_grant' });
    expect(response.body.error_description).toMatch(/usi needs an id and a name/);
  });
});

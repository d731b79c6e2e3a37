import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import request from 'supertest';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import type { Resource } from '../../src/fhir/version.js';
import { temporaryFolder } from '../harness/folders.js';
import { party, publicJwks, type Party } from '../harness/parties.js';
import { clientAssertion, gateway, grant, world, type Gateway, type World } from './support.js';

/** The authorization server beyond the attack suite: EHR client credentials, introspection, rate limit, discovery, rotation, audit. */
let w: World;
let gw: Gateway;
let ehrB: Party;
let hospitalXNewKey: Party;

beforeAll(async () => {
  ehrB = await party('ehr-b');
  hospitalXNewKey = await party('hospital-x');
  const base = await world();
  const organizations = base.config.organizations.map((org) =>
    org.id === 'vvt-b' ? { ...org, ehrClients: [{ clientId: 'ehr-b', jwks: publicJwks(ehrB) }] } : org,
  );
  const trusted = base.config.trusted.map((org) =>
    org.id === 'hospital-x' ? { ...org, jwks: publicJwks(base.hospitalX, hospitalXNewKey) } : org,
  );
  w = { ...base, config: { ...base.config, organizations, trusted } };
  gw = await gateway(w.config, temporaryFolder('auth-test-'));
});
afterAll(() => gw.close());

const clientCredentials = (assertion: string, extra: Record<string, string> = {}) =>
  request(gw.app)
    .post('/oauth2/token')
    .type('form')
    .send({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion, ...extra });

const introspect = (caller: Party, token: string) =>
  clientAssertion(caller).then((assertion) =>
    request(gw.app).post('/oauth2/introspect').type('form').send({ token, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion }),
  );

async function ehrToken(client: Party, claims = {}): Promise<string> {
  const response = await clientCredentials(await clientAssertion(client, claims));
  expect(response.status).toBe(200);
  return response.body.access_token as string;
}

describe('EHR client credentials (private_key_jwt)', () => {
  it('gives the tenant EHR full access to its own tenant, with the user it names', async () => {
    const token = await ehrToken(w.ehrA, { usi: { id: 'nurse-7', name: 'N. Zeven', role: 'nurse' } });
    const response = await request(gw.app).delete('/fhir/Patient/1').set('Authorization', `Bearer ${token}`);
    expect(response.status).toBe(200);
    expect(response.body.principal).toMatchObject({ tenant: 'vvt-a', kind: 'ehr', requester: 'ehr-a', person: { identifier: 'nurse-7', name: 'N. Zeven', role: 'nurse' } });
  });

  it.each([
    ['a replayed client assertion', async () => {
      const assertion = await clientAssertion(w.ehrA);
      await clientCredentials(assertion);
      return clientCredentials(assertion);
    }, /jti has been used before/],
    ['a key that is not the client\'s', async () => clientCredentials(await clientAssertion({ ...ehrB, id: 'ehr-a', kid: `ehr-a#${ehrB.kid.split('#')[1]}` })), /unknown key/],
    ['an unknown client', async () => clientCredentials(await clientAssertion(w.stranger)), /not trusted/],
    ['a client_id that differs from the assertion', async () => clientCredentials(await clientAssertion(w.ehrA), { client_id: 'ehr-b' }), /client_id differs/],
    ['sub differing from iss', async () => clientCredentials(await clientAssertion(w.ehrA, { sub: 'vvt-a' })), /sub must equal iss/],
    ['a remote organisation posing as a client', async () => clientCredentials(await clientAssertion(w.hospitalX)), /not trusted/],
    ['a wrong client_assertion_type', async () => clientCredentials(await clientAssertion(w.ehrA), { client_assertion_type: 'x' }), /client_assertion_type/],
  ])('refuses %s with 401 invalid_client', async (_case, send, description) => {
    const response = await send();
    expect({ status: response.status, error: response.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    expect(response.body.error_description).toMatch(description);
  });
});

describe('introspection (RFC 7662)', () => {
  it("answers for the caller's own tenant only", async () => {
    const token = await ehrToken(w.ehrA);
    const own = await introspect(w.ehrA, token);
    expect(own.body).toMatchObject({ active: true, token_type: 'Bearer', tenant: 'vvt-a', sub: 'ehr-a', kind: 'ehr' });
    expect(own.body.exp - own.body.iat).toBeLessThanOrEqual(60);
    expect((await introspect(ehrB, token)).body).toEqual({ active: false });
  });

  it('reports remote tokens with their purpose and granted resources, and revoked or junk tokens as inactive', async () => {
    const { jwt, credential } = await gw.auth.credentials.issue('vvt-a', {
      subject: 'hospital-x',
      purposeOfUse: 'eOverdracht-sender',
      resources: [{ path: '/Task/9', operations: ['read'], userContext: false }],
    });
    const token = (await request(gw.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-sender', vcs: [jwt] }) })).body.access_token;
    expect((await introspect(w.ehrA, token)).body).toMatchObject({
      active: true,
      scope: 'eOverdracht-sender',
      client_id: 'hospital-x',
      resources: [{ path: '/Task/9', operations: ['read'], userContext: false }],
      credentials: [credential.id],
    });
    await gw.auth.credentials.revoke('vvt-a', credential.id);
    expect((await introspect(w.ehrA, token)).body).toEqual({ active: false });
    expect((await introspect(w.ehrA, 'junk')).body).toEqual({ active: false });
  });

  it('requires the caller to authenticate', async () => {
    const response = await request(gw.app).post('/oauth2/introspect').type('form').send({ token: 'x' });
    expect(response.body.error).toBe('invalid_request');
    const forged = await request(gw.app).post('/oauth2/introspect').type('form').send({ token: 'x', client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: await clientAssertion(w.stranger) });
    expect({ status: forged.status, error: forged.body.error }).toEqual({ status: 401, error: 'invalid_client' });
  });
});

describe('access tokens (opaque, kept in the store)', () => {
  it('are honoured by a gateway on the same database that did not issue them, e.g. after a restart', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const before = await gateway(w.config, dataDir);
    const issued = await request(before.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX) });
    await before.close();
    const after = await gateway(w.config, dataDir);
    try {
      const principal = await after.auth.authenticator.authenticate(`Bearer ${issued.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' });
      expect(principal).toMatchObject({ tenant: 'vvt-a', requester: 'hospital-x', purposeOfUse: 'eOverdracht-receiver' });
      after.clock.now += 61_000;
      const expired = await after.auth.authenticator.authenticate(`Bearer ${issued.body.access_token}`, { method: 'GET', url: 'https://gw.test/fhir/Task/1' });
      expect(expired).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ details: { text: 'Access token refused: token expired' } }] });
    } finally {
      await after.close();
    }
  });

  it('are kept as a hash of their secret: the stored record opens nothing, a changed secret is refused', async () => {
    const token = await ehrToken(w.ehrA);
    const [id, secret] = token.split('.') as [string, string];
    const record = await gw.store.accessTokens.find(id);
    expect(record?.secretHash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(record)).not.toContain(secret);
    const changed = `${id}.${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    expect((await introspect(w.ehrA, changed)).body).toEqual({ active: false });
    expect((await introspect(w.ehrA, token)).body).toMatchObject({ active: true });
  });
});

describe('rate limit', () => {
  it('answers 429 with Retry-After per requester', async () => {
    const limited = await gateway(w.config, temporaryFolder('auth-test-'), { rateLimit: { capacity: 2, refillPerSecond: 0.5 } });
    try {
      const send = async (signer: Party) =>
        request(limited.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(signer) });
      expect((await send(w.hospitalX)).status).toBe(200);
      expect((await send(w.hospitalX)).status).toBe(200);
      const third = await send(w.hospitalX);
      expect({ status: third.status, retryAfter: third.headers['retry-after'], error: third.body.error }).toEqual({
        status: 429,
        retryAfter: '2',
        error: 'temporarily_unavailable',
      });
      expect((await send(w.hospitalY)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('discovery and DID documents', () => {
  it('publishes RFC 8414 metadata', async () => {
    const response = await request(gw.app).get('/.well-known/oauth-authorization-server');
    expect(response.body).toMatchObject({
      issuer: 'https://gw.test',
      token_endpoint: 'https://gw.test/oauth2/token',
      introspection_endpoint: 'https://gw.test/oauth2/introspect',
      grant_types_supported: [JWT_BEARER_GRANT, CLIENT_CREDENTIALS_GRANT],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'],
    });
    expect(response.body.scopes_supported).toContain('eOverdracht-receiver');
  });

  it('serves a DID document per hosted organisation with public keys only', async () => {
    const response = await request(gw.app).get('/org/vvt-a/did.json');
    expect(response.status).toBe(200);
    const document = JSON.parse(response.text);
    expect(document.id).toBe('did:web:gw.test:org:vvt-a');
    expect(document.verificationMethod).toEqual([
      expect.objectContaining({ id: `did:web:gw.test:org:vvt-a#${w.vvtA.kid.split('#')[1]}`, publicKeyJwk: expect.not.objectContaining({ d: expect.anything() }) }),
    ]);
    expect((await request(gw.app).get('/org/nobody/did.json')).status).toBe(404);
  });
});

describe('key rotation', () => {
  it('accepts grants signed by every listed key of a trusted organisation', async () => {
    for (const key of [w.hospitalX, hospitalXNewKey]) {
      const response = await request(gw.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(key) });
      expect(response.status).toBe(200);
    }
  });

  it('signs with the newest hosted key and still honours credentials signed with the older one', async () => {
    const { jwt } = await gw.auth.credentials.issue('vvt-a', { subject: 'hospital-x', purposeOfUse: 'eOverdracht-sender', resources: [{ path: '/Task/r', operations: ['read'], userContext: false }] });
    const newKey = await party('vvt-a');
    const rotated = {
      ...w.config,
      organizations: w.config.organizations.map((org) => (org.id === 'vvt-a' ? { ...org, keys: [...org.keys, { jwk: newKey.jwk }] } : org)),
    };
    const dataDir = temporaryFolder('auth-test-');
    const before = await gateway(w.config, dataDir);
    const { jwt: oldCredential } = await before.auth.credentials.issue('vvt-a', { subject: 'hospital-x', purposeOfUse: 'eOverdracht-sender', resources: [{ path: '/Task/r', operations: ['read'], userContext: false }] });
    await before.close();
    const after = await gateway(rotated, dataDir);
    try {
      expect(decodeProtectedHeader(jwt).kid).toBe(w.vvtA.kid);
      const response = await request(after.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion: await grant(w.hospitalX, { purposeOfUse: 'eOverdracht-sender', vcs: [oldCredential] }) });
      expect(response.status).toBe(200);
      const { jwt: newCredential } = await after.auth.credentials.issue('vvt-a', { subject: 'hospital-x', purposeOfUse: 'eOverdracht-sender', resources: [{ path: '/Task/r', operations: ['read'], userContext: false }] });
      expect(decodeProtectedHeader(newCredential).kid).toBe(newKey.kid);
      const document = JSON.parse((await request(after.app).get('/org/vvt-a/did.json')).text);
      expect(document.verificationMethod).toHaveLength(2);
    } finally {
      await after.close();
    }
  });
});

describe('audit of the token endpoint', () => {
  it("records every issued and refused token in the authorizer's tenant, and nowhere else", async () => {
    const audited = await gateway(w.config, temporaryFolder('auth-test-'));
    try {
      const send = async (assertion: string) => request(audited.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion });
      await send(await grant(w.hospitalX, { usi: { id: 'dr-1', name: 'Dr. Een' } }));
      await send(await grant(w.hospitalX, { exp: Math.floor(Date.now() / 1000) + 60 }));
      const search = (tenant: string) =>
        audited.store.resources.search({ tenant, version: 'r4' }, { resourceType: 'AuditEvent', params: [], count: 50, offset: 0, sort: [], include: [], revinclude: [], total: 'none' });
      const events = (await search('vvt-a')).resources as (Resource & { outcome: string; agent: { who: { identifier?: { value: string } } }[] })[];
      expect(events.map((event) => event.outcome).sort()).toEqual(['0', '4']);
      const issued = events.find((event) => event.outcome === '0')!;
      expect(issued).toMatchObject({ type: { code: '110114' }, action: 'E', purposeOfEvent: [{ text: 'eOverdracht-receiver' }] });
      expect(issued.agent.map((agent) => agent.who.identifier?.value)).toEqual(['hospital-x', 'dr-1']);
      expect(events.find((event) => event.outcome === '4')).toMatchObject({ outcomeDesc: expect.stringMatching(/invalid_grant: exp - iat exceeds/) });
      expect((await search('vvt-b')).resources).toEqual([]);
    } finally {
      await audited.close();
    }
  });
});

import { createPrivateKey, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import request from 'supertest';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { temporaryFolder } from '../harness/folders.js';
import type { Party } from '../harness/parties.js';
import { gateway, rawJws, TOKEN_ENDPOINT, world, type Gateway, type World } from './support.js';

/**
 * Findings 5 and 11 of issue 12, at the token endpoint (both grants) and at introspection: every header and claim
 * field is read with its type checked, so an assertion whose fields have the wrong JSON type is an RFC 6749 refusal
 * (audited like any other), never a 500, signed or not; `aud` names exactly this endpoint; `nbf` must be a number.
 */
let w: World;
let gw: Gateway;
beforeAll(async () => {
  w = await world();
  gw = await gateway(w.config, temporaryFolder('auth-test-'));
});
afterAll(() => gw.close());

type Fields = Record<string, unknown>;

/** The gateway's clock, in seconds: tests move it forward. */
const now = () => Math.floor(gw.clock.now / 1000);

/** Signs like any JOSE library would, but with whatever header it is given (jose refuses to write ill-typed ones). */
function signed(signer: Party, header: Fields, claims: Fields): string {
  const key = createPrivateKey({ key: signer.jwk as never, format: 'jwk' });
  return rawJws(header, claims, (input) => sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url'));
}

const unsigned = (header: Fields, claims: Fields) => rawJws(header, claims, () => 'AAAA');

const grantFields = (signer: Party, claims: Fields = {}) => ({
  header: { alg: 'ES256', typ: 'JWT', kid: signer.kid },
  claims: { iss: signer.id, sub: 'vvt-a', aud: TOKEN_ENDPOINT, iat: now(), exp: now() + 5, jti: `${Math.random()}`, purposeOfUse: 'eOverdracht-receiver', vcs: [], ...claims },
});

const endpoints = {
  'token (jwt-bearer grant)': (assertion: string) =>
    request(gw.app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion }),
  'token (client credentials)': (assertion: string) =>
    request(gw.app).post('/oauth2/token').type('form').send({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion }),
  introspection: (assertion: string) =>
    request(gw.app).post('/oauth2/introspect').type('form').send({ token: 'junk', client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion }),
};
const signerOf = (endpoint: string) => (endpoint.startsWith('token (jwt') ? w.hospitalX : w.ehrA);
const claimsOf = (endpoint: string, party: Party): Fields => (endpoint.startsWith('token (jwt') ? {} : { sub: party.id, purposeOfUse: undefined, vcs: undefined });

const auditedIn = async (tenant: string) =>
  (await gw.store.audit.search(tenant, { resourceType: 'AuditEvent', params: [], count: 1000, offset: 0, sort: [], include: [], revinclude: [], total: 'none' })).resources.length;

describe('header fields of the wrong type (the cases of the issue)', () => {
  it.each([[{ typ: 1 }], [{ typ: ['JWT'] }], [{ typ: { JWT: true } }], [{ alg: { toString: 1 } }], [{ alg: ['ES256'] }], [{ kid: { toString: 1 } }]])(
    'an unsigned grant with %j is invalid_grant, and audited',
    async (header) => {
      const before = await auditedIn('vvt-a');
      const { header: valid, claims } = grantFields(w.hospitalX);
      // A minute on, so that this refusal is the first of its window from this address (only that one is audited).
      gw.clock.now += 60_000;
      const response = await endpoints['token (jwt-bearer grant)'](unsigned({ ...valid, ...header }, claims));
      const name = Object.keys(header)[0];
      expect({ status: response.status, body: response.body }).toEqual({
        status: 400,
        body: { error: 'invalid_grant', error_description: `header ${name} must be a string` },
      });
      expect(await auditedIn('vvt-a')).toBe(before + 1);
    },
  );

  it.each([['token (client credentials)'], ['introspection']] as const)('%s: a client assertion with typ 1 is invalid_client', async (endpoint) => {
    const { header, claims } = grantFields(w.ehrA, claimsOf(endpoint, w.ehrA));
    const response = await endpoints[endpoint](unsigned({ ...header, typ: 1 }, claims));
    expect({ status: response.status, body: response.body }).toEqual({ status: 401, body: { error: 'invalid_client', error_description: 'header typ must be a string' } });
  });
});

describe('claims of the wrong type, signed by a trusted key', () => {
  it.each([['token (jwt-bearer grant)'], ['token (client credentials)'], ['introspection']] as const)(
    '%s: a NumericDate (or a grant\'s purposeOfUse) that is not a number (a string) is refused with 4xx',
    async (endpoint) => {
      const signer = signerOf(endpoint);
      const purpose = endpoint.startsWith('token (jwt') ? [{ purposeOfUse: { toString: 1 } }] : [];
      for (const claim of [...purpose, { nbf: { toString: 1 } }, { nbf: '1' }, { iat: String(now()) }]) {
        const { header, claims } = grantFields(signer, { ...claimsOf(endpoint, signer), ...claim });
        const response = await endpoints[endpoint](signed(signer, header, claims));
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      }
    },
  );
});

/** Any JSON value, and the ones that break `String(value)` or `value.toUpperCase()`. */
const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom({ toString: 1 }, { valueOf: 1, toString: 1 }, [], [null], { length: 1 }, Number.MAX_SAFE_INTEGER, -1, 1e308, ''),
);
/** Each field keeps its valid value or gets any other one. */
const someFields = (valid: Fields) =>
  fc.record(Object.fromEntries(Object.entries(valid).map(([name, value]) => [name, fc.oneof(fc.constant(value), anyValue)]))) as fc.Arbitrary<Fields>;

describe('property: no field of any type gets a 5xx', () => {
  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])('%s', async (endpoint) => {
    const signer = signerOf(endpoint);
    const valid = grantFields(signer, { ...claimsOf(endpoint, signer), nbf: now() });
    await fc.assert(
      fc.asyncProperty(someFields({ ...valid.header, crit: undefined, cty: undefined }), someFields(valid.claims), fc.boolean(), async (header, claims, signIt) => {
        const response = await endpoints[endpoint](signIt ? signed(signer, header, claims) : unsigned(header, claims));
        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) expect(typeof response.body.error).toBe('string');
      }),
      { numRuns: 150 },
    );
  });
});

describe('aud and nbf (finding 11)', () => {
  const refusal = (endpoint: string) => (endpoint.startsWith('token (jwt') ? { status: 400, error: 'invalid_grant' } : { status: 401, error: 'invalid_client' });

  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])('%s: an aud array naming another audience too is refused', async (endpoint) => {
    const signer = signerOf(endpoint);
    for (const aud of [[TOKEN_ENDPOINT, 'https://other.test/oauth2/token'], ['https://other.test/oauth2/token', TOKEN_ENDPOINT], [TOKEN_ENDPOINT, TOKEN_ENDPOINT], []]) {
      const { header, claims } = grantFields(signer, { ...claimsOf(endpoint, signer), aud });
      const response = await endpoints[endpoint](signed(signer, header, claims));
      expect({ aud, status: response.status, body: response.body }).toEqual({
        aud,
        status: refusal(endpoint).status,
        body: { error: refusal(endpoint).error, error_description: expect.stringContaining(`aud must be ${TOKEN_ENDPOINT}`) },
      });
    }
  });

  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])('%s: aud as an array holding exactly this endpoint is accepted', async (endpoint) => {
    const signer = signerOf(endpoint);
    const { header, claims } = grantFields(signer, { ...claimsOf(endpoint, signer), aud: [TOKEN_ENDPOINT] });
    expect((await endpoints[endpoint](signed(signer, header, claims))).status).toBe(200);
  });

  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])('%s: a non-numeric nbf, exp or iat is refused, naming the claim', async (endpoint) => {
    const signer = signerOf(endpoint);
    for (const [name, value] of [['nbf', 'tomorrow'], ['nbf', null], ['exp', String(now() + 5)], ['iat', [now()]]] as const) {
      const { header, claims } = grantFields(signer, { ...claimsOf(endpoint, signer), [name]: value });
      const response = await endpoints[endpoint](signed(signer, header, claims));
      expect({ name, status: response.status, body: response.body }).toEqual({
        name,
        status: refusal(endpoint).status,
        body: { error: refusal(endpoint).error, error_description: expect.stringContaining(`${name} must be a NumericDate`) },
      });
    }
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Kysely } from 'kysely';
import request from 'supertest';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { party, publicJwks, type Party } from '../harness/parties.js';
import { clientAssertion, gateway, type Gateway } from './support.js';
import { deziCredential, nutsWorld, type NutsWorld } from './nuts-support.js';

/**
 * A tenant's EHR names the person behind its requests by passing their Dezi id_token in its client assertion
 * (`dezi_id_token`, issue #15 item 6): verified against the configured Dezi key set, for the tenant's own URA.
 */
let folder: string;
let world: NutsWorld;
let gw: Gateway;
let ehr: Party;
const VVT_A_URA = '87654321';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A Dezi id_token of the world's Dezi key set, for VVT A unless the claims say otherwise. */
async function deziIdToken(claims: Record<string, unknown> = {}, key = world.deziKey): Promise<string> {
  return (await deziCredential(world, { abonnee_nummer: VVT_A_URA, ...claims }, key)).proof.jwt;
}

async function ehrTokenRequest(claims: Record<string, unknown>) {
  const assertion = await clientAssertion(ehr, claims);
  return request(gw.app).post('/oauth2/token').type('form').send({ grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion });
}

beforeAll(async () => {
  folder = temporaryFolder('ehr-dezi-');
  world = await nutsWorld(folder);
  ehr = await party('ehr-a');
  const config = { ...world.config, organizations: world.config.organizations.map((org) => ({ ...org, ehrClients: [{ clientId: 'ehr-a', jwks: publicJwks(ehr) }] })) };
  gw = await gateway(config, folder, { fetch: world.fetch });
});
beforeEach(() => {
  gw.clock.now = Date.now();
});
afterAll(async () => {
  await gw.close();
  removeFolder(folder);
});

describe("the EHR's client assertion with a Dezi id_token", () => {
  it('names the person the id_token declares, keeps the id_token sealed on the principal only, and lives no longer than it', async () => {
    const exp = Math.floor(Date.now() / 1000) + 120;
    const idToken = await deziIdToken({ exp });
    const response = await ehrTokenRequest({ dezi_id_token: idToken });
    expect(response.status).toBe(200);
    expect(response.body.expires_in).toBeLessThanOrEqual(120);
    const echoed = await request(gw.app).get('/fhir/Task/1').set('authorization', `Bearer ${response.body.access_token}`).expect(200);
    const person = echoed.body.principal.person;
    expect(person).toEqual({ identifier: '900000123', name: 'J. van der Broek', role: '01.041', dezi: { exp, sealed: expect.any(String) } });
    expect(gw.auth.nuts.deziSealer!.open(person.dezi, { tenant: 'vvt-a', person: '900000123' })).toBe(idToken);

    const introspected = await request(gw.app)
      .post('/oauth2/introspect')
      .type('form')
      .send({ token: response.body.access_token, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await clientAssertion(ehr) });
    expect(introspected.body.person).toEqual({ identifier: '900000123', name: 'J. van der Broek', role: '01.041' });
    const trail = JSON.stringify(await gw.store.audit.search('vvt-a', { resourceType: 'AuditEvent', params: [], count: 100, offset: 0, sort: [], include: [], revinclude: [], total: 'none' }));
    expect(trail).toContain('J. van der Broek');
    expect(trail).not.toContain(idToken.split('.')[2]);
  });

  it('keeps no id_token text in the access token record: the raw row holds the sealed value only', async () => {
    const idToken = await deziIdToken();
    const response = await ehrTokenRequest({ dezi_id_token: idToken });
    expect(response.status).toBe(200);
    const db = (gw.store as unknown as { context: { db(): Kysely<any> } }).context.db();
    const { claims } = await db.selectFrom('access_tokens').select('claims').where('id', '=', response.body.access_token.split('.')[0]).executeTakeFirstOrThrow();
    for (const part of idToken.split('.')) expect(claims).not.toContain(part);
    expect(JSON.parse(claims).person.dezi).toEqual({ exp: expect.any(Number), sealed: expect.any(String) });
  });

  it.each([
    ['another organisation', { abonnee_nummer: '12345678' }, /for organisation 12345678, not 'vvt-a'/],
    ['has expired', { exp: Math.floor(Date.now() / 1000) - 3600, nbf: Math.floor(Date.now() / 1000) - 7200 }, /has expired/],
  ])('is refused with invalid_grant when it is for %s', async (_case, claims, message) => {
    const response = await ehrTokenRequest({ dezi_id_token: await deziIdToken(claims) });
    expect([response.status, response.body.error]).toEqual([400, 'invalid_grant']);
    expect(response.body.error_description).toMatch(message);
  });

  it('is refused with invalid_grant when a key outside the Dezi key set signed it', async () => {
    const stranger = { kid: world.deziKey.kid, jwk: (await generatePrivateJwk()) as Record<string, unknown> };
    const response = await ehrTokenRequest({ dezi_id_token: await deziIdToken({}, stranger) });
    expect([response.status, response.body.error]).toEqual([400, 'invalid_grant']);
  });

  it('is refused with invalid_request when the assertion names the person twice, or the id_token is no string', async () => {
    const twice = await ehrTokenRequest({ dezi_id_token: await deziIdToken(), usi: { id: 'nurse-1', name: 'N. Een' } });
    expect([twice.status, twice.body.error]).toEqual([400, 'invalid_request']);
    const notAToken = await ehrTokenRequest({ dezi_id_token: { jwt: 'x' } });
    expect([notAToken.status, notAToken.body.error]).toEqual([400, 'invalid_request']);
  });
});

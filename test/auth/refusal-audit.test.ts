import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { ORGANIZATION_ID_SYSTEM, EHR_CLIENT_ID_SYSTEM } from '../../src/vocabulary/canonical.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import type { Resource } from '../../src/fhir/version.js';
import type { SearchParam } from '../../src/fhir/search/types.js';
import { UNVERIFIED_AGENT } from '../../src/store/audit-rows.js';
import { temporaryFolder } from '../harness/folders.js';
import { clientAssertion, gateway, grant, world, type Gateway, type World } from './support.js';

/**
 * Finding 3 of issue 12 (token side): anyone can send a token request naming any organisation, so a refusal whose
 * signature was not verified is audited as a claim from a network address, never under the organisation it names;
 * refused requests are limited per client address (429 before any signature work or audit write); and a flood
 * writes one AuditEvent per address, tenant and minute, with the rest counted.
 */
let w: World;
let gw: Gateway;

beforeAll(async () => {
  w = await world();
});
afterEach(() => gw?.close());

const tokenRequest = (app: Gateway['app'], assertion: string) =>
  request(app).post('/oauth2/token').type('form').send({ grant_type: JWT_BEARER_GRANT, assertion });

/** A grant naming hospital-x and vvt-a that nobody signed: anyone can send it. */
const forged = (signature = 'AAAA') => grant(w.hospitalX).then((jws) => `${jws.slice(0, jws.lastIndexOf('.'))}.${signature}`);

type AuditEvent = Resource & { agent: Record<string, unknown>[]; entity: Record<string, unknown>[]; outcomeDesc?: string };

const trail = async (tenant: string, params: SearchParam[] = []) =>
  (await gw.store.audit.search(tenant, { resourceType: 'AuditEvent', params, count: 1000, offset: 0, sort: [], include: [], revinclude: [], total: 'none' }))
    .resources as AuditEvent[];

const naming = (system: string, value: string): SearchParam[] => [{ code: 'agent', modifier: 'identifier', values: [`${system}|${value}`] }];

describe('a refusal whose signature was not verified', () => {
  it('is audited as a claim from the client address, and no search for the organisation it names finds it', async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'));
    const response = await tokenRequest(gw.app, await forged());
    expect(response.status).toBe(400);

    expect(await trail('vvt-a', naming(ORGANIZATION_ID_SYSTEM, 'hospital-x'))).toEqual([]);
    expect(await trail('vvt-a', [{ code: 'agent', modifier: 'identifier', values: ['hospital-x'] }])).toEqual([]);
    const [event, ...others] = await trail('vvt-a');
    expect(others).toEqual([]);
    expect(event).toMatchObject({
      type: { code: '110114' },
      outcome: '4',
      outcomeDesc: 'invalid_grant: signature verification failed',
      agent: [{ type: { coding: [UNVERIFIED_AGENT] }, requestor: true, network: { address: expect.stringMatching(/127\.0\.0\.1$/), type: '2' } }],
      entity: [
        {
          role: { code: '13', display: 'Security Resource' },
          description: 'what the request claimed; its signature was not verified',
          detail: [
            { type: 'claimed iss (unverified)', valueString: 'hospital-x' },
            { type: 'claimed sub (unverified)', valueString: 'vvt-a' },
            { type: 'claimed purposeOfUse (unverified)', valueString: 'eOverdracht-receiver' },
          ],
        },
      ],
    });
    expect(event!.agent[0]).not.toHaveProperty('who');
    expect(event).not.toHaveProperty('purposeOfEvent');
  });

  it("of an EHR client assertion is audited the same way in the client's tenant", async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'));
    const assertion = await clientAssertion(w.ehrA);
    const response = await request(gw.app)
      .post('/oauth2/token')
      .type('form')
      .send({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: `${assertion.slice(0, assertion.lastIndexOf('.'))}.AAAA` });
    expect(response.status).toBe(401);
    expect(await trail('vvt-a', naming(EHR_CLIENT_ID_SYSTEM, 'ehr-a'))).toEqual([]);
    expect(await trail('vvt-a')).toMatchObject([{ agent: [{ type: { coding: [UNVERIFIED_AGENT] } }], entity: [{ detail: [{ valueString: 'ehr-a' }, { valueString: 'ehr-a' }] }] }]);
  });

  it('is told apart from a refusal after verification, which names the requester it proved to be', async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'));
    const assertion = await grant(w.hospitalX);
    expect((await tokenRequest(gw.app, assertion)).status).toBe(200);
    expect((await tokenRequest(gw.app, assertion)).body).toEqual({ error: 'invalid_grant', error_description: 'jti has been used before' });
    const named = await trail('vvt-a', naming(ORGANIZATION_ID_SYSTEM, 'hospital-x'));
    expect(named.map((event) => [event.outcome, event.outcomeDesc])).toEqual([
      ['0', undefined],
      ['4', 'invalid_grant: jti has been used before'],
    ]);
    expect(named[1]!.agent[0]).toMatchObject({ network: { address: expect.stringMatching(/127\.0\.0\.1$/) } });
  });
});

describe('a flood of refused requests from one address', () => {
  const limit = { capacity: 50, refillPerSecond: 20 };

  it('gets 429 with Retry-After once the refusals used up the bucket, and writes one AuditEvent, not 300', async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'), { unauthenticated: limit });
    const assertion = await forged();
    const statuses: number[] = [];
    let limited: request.Response | undefined;
    for (let i = 0; i < 300; i += 1) {
      const response = await tokenRequest(gw.app, assertion);
      statuses.push(response.status);
      limited ??= response.status === 429 ? response : undefined;
    }
    expect(statuses.filter((status) => status === 400)).toHaveLength(50);
    expect(statuses.filter((status) => status === 429)).toHaveLength(250);
    expect({ retryAfter: limited!.headers['retry-after'], cache: limited!.headers['cache-control'], body: limited!.body }).toEqual({
      retryAfter: '1',
      cache: 'no-store',
      body: { error: 'temporarily_unavailable', error_description: 'too many refused requests from this address; retry later' },
    });
    expect(await trail('vvt-a')).toHaveLength(1);

    gw.clock.now += 60_000;
    expect((await tokenRequest(gw.app, await forged('BBBB'))).status).toBe(400);
    const events = await trail('vvt-a');
    expect(events).toHaveLength(2);
    expect(events[1]!.entity[0]).toMatchObject({ detail: expect.arrayContaining([{ type: 'refusals not recorded before this one', valueString: '49' }]) });
  });

  it('is limited at introspection too', async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'), { unauthenticated: { capacity: 2, refillPerSecond: 1 } });
    const introspect = async () =>
      request(gw.app).post('/oauth2/introspect').type('form').send({ token: 'x', client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: 'not.a.jws' });
    expect([(await introspect()).status, (await introspect()).status, (await introspect()).status]).toEqual([401, 401, 429]);
    gw.clock.now += 1000;
    expect((await introspect()).status).toBe(401);
  });

  it('does not hold back valid requests: only refusals spend the bucket', async () => {
    gw = await gateway(w.config, temporaryFolder('auth-test-'), { unauthenticated: { capacity: 2, refillPerSecond: 1 } });
    for (let i = 0; i < 10; i += 1) expect((await tokenRequest(gw.app, await grant(w.hospitalX))).status).toBe(200);
  });
});

import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { importJWK, jwtVerify } from 'jose';
import { REFUSAL_REASON_PARAMETER, REFUSAL_REASONS } from '../../src/vocabulary/canonical.js';
import { createTokenClient, TokenRequestError, type TokenClient } from '../../src/auth/client.js';
import { publicJwk } from '../../src/auth/jwk.js';
import { createTrustRegistry, type TrustRegistry } from '../../src/auth/trust.js';
import { parseConfig } from '../../src/config/config.js';
import { jsonStandIn, requestBody } from '../harness/stand-in.js';
import { party, publicJwks, type Party } from '../harness/parties.js';

/** The client side against a stand-in remote gateway on loopback: token endpoint plus one FHIR resource. */
let server: Server;
let base: string;
let vvtA: Party;
let registry: TrustRegistry;
let time = 1_700_000_000_000;
const clock = () => time;

const remote = {
  tokenRequests: 0,
  fhirRequests: 0,
  valid: new Set<string>(),
  grantRefusal: undefined as object | undefined,
  refuseEveryToken: false,
  lastGrant: {} as Record<string, unknown>,
  lastBody: '',
};

async function handle(req: IncomingMessage): Promise<[number, object]> {
  if (req.method === 'POST' && req.url === '/oauth2/token') {
    remote.tokenRequests += 1;
    const form = new URLSearchParams(await requestBody(req));
    if (remote.grantRefusal) return [400, remote.grantRefusal];
    const key = await importJWK(publicJwk(vvtA.jwk), 'ES256');
    const { payload, protectedHeader } = await jwtVerify(form.get('assertion') ?? '', key, {
      audience: `${base}/oauth2/token`,
      issuer: 'vvt-a',
      subject: 'hospital-x',
      typ: 'JWT',
      clockTolerance: 1e9,
    });
    remote.lastGrant = { ...payload, kid: protectedHeader.kid, grantType: form.get('grant_type') };
    const token = `token-${remote.tokenRequests}`;
    remote.valid.add(token);
    return [200, { access_token: token, token_type: 'bearer', expires_in: 60 }];
  }
  if (req.url === '/fhir/Task/1') {
    remote.fhirRequests += 1;
    remote.lastBody = await requestBody(req);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    return remote.valid.has(token) && !remote.refuseEveryToken ? [200, { resourceType: 'Task', id: '1' }] : [401, {}];
  }
  return [404, {}];
}

beforeAll(async () => {
  vvtA = await party('vvt-a');
  ({ server, base } = await jsonStandIn(handle));
  const config = parseConfig({
    publicBaseUrl: 'https://gw.test',
    organizations: [{ id: 'vvt-a', name: 'VVT A', roles: ['receiver'], keys: [{ jwk: vvtA.jwk }] }],
    trusted: [
      { id: 'hospital-x', name: 'X', jwks: publicJwks(await party('hospital-x')), endpoints: { oauth: `${base}/oauth2/token`, fhir: `${base}/fhir` } },
      { id: 'hospital-far', name: 'Far', jwks: publicJwks(await party('hospital-far')), endpoints: { oauth: 'http://far.example/oauth2/token' } },
    ],
  });
  registry = await createTrustRegistry(config);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

let client: TokenClient;
beforeEach(() => {
  Object.assign(remote, { tokenRequests: 0, fhirRequests: 0, valid: new Set(), grantRefusal: undefined, refuseEveryToken: false, lastBody: '' });
  client = createTokenClient({ registry, clock });
});

const call = { requester: 'vvt-a', remote: 'hospital-x', purposeOfUse: 'eOverdracht-sender', vcs: ['vc-1'] };

describe('token client', () => {
  it('signs a grant with the hosted organisation key exactly as DESIGN §3 asks', async () => {
    await client.getToken('hospital-x', 'eOverdracht-sender', { requester: 'vvt-a', vcs: ['vc-1'], person: { identifier: 'u1', name: 'U. Een' } });
    expect(remote.lastGrant).toMatchObject({
      grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      kid: registry.hosted('vvt-a')!.signing.kid,
      purposeOfUse: 'eOverdracht-sender',
      vcs: ['vc-1'],
      usi: { id: 'u1', name: 'U. Een' },
    });
    const { iat, exp, jti } = remote.lastGrant as { iat: number; exp: number; jti: string };
    expect(exp - iat).toBe(5);
    expect(jti).toEqual(expect.any(String));
  });

  it('caches a token until 30 s before it expires, per requester, remote, purpose and credentials', async () => {
    const first = await client.getToken('hospital-x', 'eOverdracht-sender', call);
    time += 29_000;
    expect(await client.getToken('hospital-x', 'eOverdracht-sender', call)).toEqual(first);
    expect(remote.tokenRequests).toBe(1);
    await client.getToken('hospital-x', 'eOverdracht-sender', { ...call, vcs: ['vc-2'] });
    expect(remote.tokenRequests).toBe(2);
    time += 2_000;
    expect(await client.getToken('hospital-x', 'eOverdracht-sender', call)).not.toEqual(first);
    expect(remote.tokenRequests).toBe(3);
  });

  it('shares one token request between concurrent callers', async () => {
    const tokens = await Promise.all([1, 2, 3].map(() => client.getToken('hospital-x', 'eOverdracht-sender', call)));
    expect(new Set(tokens).size).toBe(1);
    expect(remote.tokenRequests).toBe(1);
  });

  it('retries once with a fresh token when the remote answers 401', async () => {
    await client.getToken('hospital-x', 'eOverdracht-sender', call);
    remote.valid.clear();
    await client.remote(`${base}/fhir`, call).update({ resourceType: 'Task', id: '1', status: 'accepted' });
    expect(remote.fhirRequests).toBe(2);
    expect(remote.tokenRequests).toBe(2);
    expect(remote.lastBody).toBe('{"resourceType":"Task","id":"1","status":"accepted"}');
  });

  it('gives up after that one retry', async () => {
    remote.refuseEveryToken = true;
    await expect(client.remote(`${base}/fhir`, call).read('Task/1')).rejects.toMatchObject({ name: 'RemoteFailure', status: 401 });
    expect(remote.fhirRequests).toBe(2);
    expect(remote.tokenRequests).toBe(2);
  });

  it('calls only configured endpoints of the trusted organisation, whatever the URL is made of', async () => {
    const task = { resourceType: 'Task', id: '1' };
    await expect(client.remote(`${base}/admin`, call).post(task)).rejects.toThrow(/not an endpoint of 'hospital-x'/);
    await expect(client.remote('https://evil.example/fhir', call).read('Task/1')).rejects.toThrow(/not an endpoint/);
    await expect(client.remote(`${base}/fhir`, call).read('https://evil.example/fhir/Task/1')).rejects.toThrow(/not an endpoint/);
    await expect(client.remote(`${base}/fhir`, call).read('../admin')).rejects.toThrow(/not an endpoint/);
    await expect(client.remote(`${base}/fhir`, { ...call, remote: 'nobody' }).read('Task/1')).rejects.toThrow(/not a trusted/);
    expect(remote.fhirRequests + remote.tokenRequests).toBe(0);
  });

  it('refuses plain http to a non-loopback host outside development mode', async () => {
    await expect(client.getToken('hospital-far', 'eOverdracht-sender', call)).rejects.toThrow(/refusing http:/);
  });

  it('reports a refused grant with the remote RFC 6749 error', async () => {
    remote.grantRefusal = { error: 'invalid_grant', error_description: 'no' };
    const refusal = client.getToken('hospital-x', 'eOverdracht-sender', call);
    await expect(refusal).rejects.toBeInstanceOf(TokenRequestError);
    await expect(refusal).rejects.toMatchObject({ status: 400, error: 'invalid_grant', code: 'ERR_TOKEN_REQUEST_REFUSED' });
    expect(((await refusal.catch((error: unknown) => error)) as TokenRequestError).reason).toBeUndefined();
  });

  it('reports the refusal reason a gateway like this one adds to its RFC 6749 error', async () => {
    remote.grantRefusal = { error: 'invalid_grant', error_description: 'credential revoked or unknown', [REFUSAL_REASON_PARAMETER]: REFUSAL_REASONS.credentialRevoked };
    await expect(client.getToken('hospital-x', 'eOverdracht-sender', call)).rejects.toMatchObject({ error: 'invalid_grant', reason: 'credential-revoked' });
  });
});

import type { IncomingMessage, Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createTokenClient, type TokenClient } from '../../src/auth/client.js';
import { createDpopVerifier } from '../../src/auth/dpop/index.js';
import { createTrustRegistry, type TrustRegistry } from '../../src/auth/trust.js';
import { parseConfig } from '../../src/config/config.js';
import { jsonStandIn, requestBody } from '../harness/stand-in.js';
import { party, publicJwks } from '../harness/parties.js';

/**
 * The client side finds a remote authorization server by its issuer (RFC 8414 metadata) and, where the server offers
 * DPoP for its key's algorithm, asks for a DPoP-bound token and signs a fresh proof for every request. The stand-in
 * remote checks the proofs with the gateway's own verifier, so a proof the client gets wrong fails here.
 */
let server: Server;
let base: string;
let registry: TrustRegistry;

const remote = {
  metadataReads: 0,
  metadata: {} as Record<string, unknown>,
  tokenProofs: [] as string[],
  resourceHeaders: [] as { authorization?: string; dpop?: string }[],
};
const replay = new Set<string>();
const dpop = createDpopVerifier({ remember: async (key) => !replay.has(key) && Boolean(replay.add(key)) });

async function handle(req: IncomingMessage): Promise<[number, object]> {
  await requestBody(req);
  const dpopHeader = req.headers.dpop as string | undefined;
  if (req.url === '/.well-known/oauth-authorization-server/oauth2/hospital') {
    remote.metadataReads += 1;
    return [200, remote.metadata];
  }
  if (req.method === 'POST' && req.url === '/oauth2/hospital/token') {
    if (!dpopHeader) return [200, { access_token: 'bearer-token', token_type: 'Bearer', expires_in: 60 }];
    const { jkt } = await dpop.verify(dpopHeader, { htm: 'POST', htu: `${base}/oauth2/hospital/token` });
    remote.tokenProofs.push(dpopHeader);
    return [200, { access_token: `dpop-token-${jkt}`, token_type: 'DPoP', expires_in: 60 }];
  }
  if (req.url === '/fhir/Task/1') {
    remote.resourceHeaders.push({ authorization: req.headers.authorization, dpop: dpopHeader });
    const token = (req.headers.authorization ?? '').replace(/^(DPoP|Bearer) /, '');
    if (token.startsWith('dpop-token-')) {
      await dpop.verify(dpopHeader, { htm: req.method ?? '', htu: `${base}${req.url}`, accessToken: token, jkt: token.slice('dpop-token-'.length) });
    }
    return [200, { resourceType: 'Task', id: '1' }];
  }
  return [404, {}];
}

beforeAll(async () => {
  const vvtA = await party('vvt-a');
  ({ server, base } = await jsonStandIn(handle, 401));
  const config = parseConfig({
    publicBaseUrl: 'https://gw.test',
    organizations: [{ id: 'vvt-a', name: 'VVT A', roles: ['receiver'], keys: [{ jwk: vvtA.jwk }] }],
    trusted: [
      { id: 'hospital', name: 'H', jwks: publicJwks(await party('hospital')), endpoints: { authorizationServer: `${base}/oauth2/hospital`, fhir: `${base}/fhir` } },
    ],
  });
  registry = await createTrustRegistry(config);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const offering = (extra: Record<string, unknown> = {}) => ({
  issuer: `${base}/oauth2/hospital`,
  token_endpoint: `${base}/oauth2/hospital/token`,
  grant_types_supported: ['urn:ietf:params:oauth:grant-type:jwt-bearer'],
  dpop_signing_alg_values_supported: ['ES256'],
  ...extra,
});

let client: TokenClient;
beforeEach(() => {
  Object.assign(remote, { metadataReads: 0, metadata: offering(), tokenProofs: [], resourceHeaders: [] });
  client = createTokenClient({ registry });
});

const call = { requester: 'vvt-a', remote: 'hospital', purposeOfUse: 'eOverdracht-sender' };

describe('the token client with a remote authorization server found by its issuer', () => {
  it('asks for a DPoP token where the metadata offers DPoP, and proves its key on every request', async () => {
    const fhir = client.remote(`${base}/fhir`, call);
    await fhir.read('Task/1');
    await fhir.update({ resourceType: 'Task', id: '1', status: 'accepted' });
    expect(remote.tokenProofs).toHaveLength(1);
    expect(remote.metadataReads).toBe(1);
    const [first, second] = remote.resourceHeaders;
    expect(first!.authorization).toMatch(/^DPoP dpop-token-/);
    expect(decodeProtectedHeader(first!.dpop!).jwk).toEqual(decodeProtectedHeader(remote.tokenProofs[0]!).jwk);
    expect([decodeJwt(first!.dpop!).htm, decodeJwt(second!.dpop!).htm]).toEqual(['GET', 'PUT']);
    expect(decodeJwt(first!.dpop!).jti).not.toBe(decodeJwt(second!.dpop!).jti);
  });

  it('keeps the bearer scheme where the metadata offers no DPoP for its algorithm', async () => {
    remote.metadata = offering({ dpop_signing_alg_values_supported: ['PS256'] });
    await client.remote(`${base}/fhir`, call).read('Task/1');
    expect(remote.resourceHeaders[0]).toEqual({ authorization: 'Bearer bearer-token', dpop: undefined });
  });

  it.each([
    ['names another issuer', { issuer: 'https://evil.example/oauth2/hospital' }, /names another issuer/],
    ['puts its token endpoint on another origin', { token_endpoint: 'https://evil.example/token' }, /no token_endpoint on/],
  ])('refuses metadata that %s', async (_case, change, message) => {
    remote.metadata = offering(change);
    await expect(client.getToken('hospital', 'eOverdracht-sender', call)).rejects.toThrow(message);
    expect(remote.tokenProofs).toHaveLength(0);
  });
});

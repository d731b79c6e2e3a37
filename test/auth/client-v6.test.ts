import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWTPayload } from 'jose';
import { createTokenClient, TokenRequestError, type TokenRequest } from '../../src/auth/client.js';
import { issueServerCertificate } from '../../src/auth/credentials/certificateAuthority.js';
import { createDeziSealer, SealedDeziRefused } from '../../src/auth/credentials/sealedDezi.js';
import { issueX509Credential } from '../../src/auth/credentials/x509Credential.js';
import { didDocument, didWebUrl } from '../../src/auth/did.js';
import { generateEncryptionJwk } from '../../src/auth/keyFiles.js';
import { PresentationDefinitionUnmet, type Wallet } from '../../src/auth/oauth2/wallet.js';
import { createTrustRegistry, type HostedParty, type TrustRegistry } from '../../src/auth/trust.js';
import { parseConfig } from '../../src/config/config.js';
import type { Person, Principal } from '../../src/fhir/principal.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { party, publicJwks, type Party } from '../harness/parties.js';
import { gateway, type Gateway } from './support.js';
import { BASE_URL, HOSPITAL_URA, ISSUER, nutsWorld, publicLookup, type NutsWorld } from './nuts-support.js';

/**
 * The client side of the Nuts v6 grants (issue #15), against this gateway's own authorization server: it reads the
 * metadata and the scope's Presentation Definition, presents the tenant's X509Credential (and the person's
 * credential), and gets a DPoP-bound token; it picks vp_token-bearer, else jwt-bearer, and RFC003 only where the
 * server is no Nuts v6 one; a refusal is the server's RFC 6749 error; a definition it cannot meet sends nothing.
 */
let folder: string;
let world: NutsWorld;
let gw: Gateway;
let server: http.Server;
let local: string;
let hospital: Party;
let x509Credential: string;
const CLIENT_BASE = 'https://hospital.test';
const NURSE: Person = { identifier: 'nurse-42@hospital', name: 'Ineke de Verpleegkundige', role: 'Verpleegkundige' };

/** Everything the client sent, and a way to change what the server answers. */
const traffic = {
  posts: [] as { url: string; form: URLSearchParams; dpop?: string }[],
  gets: [] as string[],
  rewrite: undefined as ((url: URL, body: Record<string, unknown>) => Record<string, unknown>) | undefined,
};

/** The client's fetch: https://gw.test is the gateway on loopback, https://hospital.test the requester's DID documents. */
const clientFetch = (async (input: URL | string, init?: RequestInit) => {
  const url = new URL(String(input));
  if (url.origin === CLIENT_BASE) return world.fetch(input, init);
  const headers = new Headers(init?.headers);
  if (init?.method === 'POST') traffic.posts.push({ url: url.href, form: new URLSearchParams(String(init.body)), ...(headers.get('dpop') ? { dpop: headers.get('dpop')! } : {}) });
  else traffic.gets.push(url.href);
  const response = await fetch(`${local}${url.pathname}${url.search}`, init);
  if (!traffic.rewrite || init?.method === 'POST' || !response.ok) return response;
  return Response.json(traffic.rewrite(url, (await response.json()) as Record<string, unknown>));
}) as typeof fetch;

async function registryWith(endpoints: Record<string, string>): Promise<TrustRegistry> {
  const config = parseConfig({
    publicBaseUrl: CLIENT_BASE,
    organizations: [{ id: 'hospital-x', name: 'Ziekenhuis Oost', ura: HOSPITAL_URA, roles: ['receiver'], keys: [{ jwk: hospital.jwk }] }],
    trusted: [{ id: 'vvt-a', name: 'VVT A', ura: '87654321', jwks: publicJwks(world.vvtA), endpoints }],
  });
  return createTrustRegistry(config);
}

const v6 = { authorizationServer: ISSUER, fhir: `${BASE_URL}/fhir` };
const deziSealer = createDeziSealer(Buffer.from(String(generateEncryptionJwk().k), 'base64url'));
const wallet: Wallet = { x509Credential: (organization) => (organization === 'hospital-x' ? x509Credential : undefined), deziSealer };
const call = (extra: Partial<TokenRequest> = {}) => ({ requester: 'hospital-x', remote: 'vvt-a', purposeOfUse: 'eOverdracht-sender', ...extra });

/** The principal the gateway makes of the client's token and proof for one request. */
async function principalOf(client: ReturnType<typeof createTokenClient>, request: ReturnType<typeof call>): Promise<Principal> {
  const url = new URL(`${BASE_URL}/fhir/Task/1`);
  const headers = await client.headers(request, { method: 'GET', url });
  const principal = await gw.auth.authenticator.authenticate(headers.authorization, { method: 'GET', url: url.href, dpop: headers.dpop });
  if ('resourceType' in principal) throw new Error(JSON.stringify(principal));
  return principal;
}

const tokenPosts = () => traffic.posts.filter((post) => post.url.endsWith('/token'));
const presented = (form: URLSearchParams) => (decodeJwt(form.get('assertion')!).vp as { verifiableCredential: unknown[] }).verifiableCredential;

async function deziToken(claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: 'https://auth.dezi.test', nbf: now, exp: now + 3600, abonnee_nummer: HOSPITAL_URA, dezi_nummer: '900000123', voorletters: 'J.', achternaam: 'Broek', rol_code: '01.041', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: world.deziKey.kid })
    .sign(await importJWK(world.deziKey.jwk, 'ES256'));
}

/** The nurse with the Dezi id_token as the requester's gateway keeps it: sealed for the requester and the nurse. */
const nurseWithDezi = (idToken: string): Person => ({ ...NURSE, dezi: deziSealer.seal(idToken, { tenant: 'hospital-x', person: NURSE.identifier }, decodeJwt(idToken).exp!) });

beforeAll(async () => {
  folder = temporaryFolder('client-v6-');
  world = await nutsWorld(folder);
  hospital = await party('hospital-x', 'Ziekenhuis Oost', HOSPITAL_URA);
  const config = { ...world.config, trusted: world.config.trusted.map((trusted) => ({ ...trusted, jwks: publicJwks(hospital) })) };
  gw = await gateway(config, folder, { fetch: world.fetch, lookup: publicLookup });
  server = http.createServer(gw.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const requester = (await registryWith(v6)).hosted('hospital-x') as HostedParty;
  world.documents.set(didWebUrl(requester.did).href, didDocument(requester.did, requester.publicJwks));
  const certificate = await issueServerCertificate(world.ca, { organizationName: 'Ziekenhuis Oost', ura: HOSPITAL_URA, host: 'hospital.test' });
  x509Credential = await issueX509Credential({ chain: [certificate.certificate, world.ca.certificate], privateKey: certificate.keys.privateKey }, requester.did, Math.floor(Date.now() / 1000));
}, 30_000);
beforeEach(() => {
  gw.clock.now = Date.now();
  Object.assign(traffic, { posts: [], gets: [], rewrite: undefined });
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await gw.close();
  removeFolder(folder);
});

describe('the token client with a Nuts v6 authorization server', () => {
  it('gets a DPoP-bound token with vp_token-bearer: the Presentation Definition of the scope, the X509Credential, the submission', async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const principal = await principalOf(client, call());
    expect(principal).toMatchObject({ tenant: 'vvt-a', requester: 'hospital-x', purposeOfUse: 'eOverdracht-sender', organization: { ura: HOSPITAL_URA, name: 'Ziekenhuis Oost' } });
    expect(principal).not.toHaveProperty('person');
    expect(traffic.gets).toContain(`${ISSUER}/presentation_definition?scope=eOverdracht-sender`);
    const [post] = tokenPosts();
    expect(post!.url).toBe(`${ISSUER}/token`);
    expect(Object.fromEntries(post!.form)).toMatchObject({ grant_type: 'vp_token-bearer', scope: 'eOverdracht-sender', client_id: `${CLIENT_BASE}/oauth2/hospital-x` });
    expect(JSON.parse(post!.form.get('presentation_submission')!)).toMatchObject({
      definition_id: 'pd_care_organization',
      descriptor_map: [{ id: 'id_uzicert_uracredential', format: 'jwt_vc', path: '$.verifiableCredential[0]' }],
    });
    const vp = decodeJwt(post!.form.get('assertion')!);
    expect(vp).toMatchObject({ aud: ISSUER, iss: vp.sub });
    expect(vp.exp! - vp.nbf!).toBeLessThanOrEqual(5);
    expect(typeof vp.nonce).toBe('string');
    expect(decodeProtectedHeader(post!.dpop!).typ).toBe('dpop+jwt');
    expect((await client.getToken('vvt-a', 'eOverdracht-sender', call())).type).toBe('DPoP');
  });

  it('presents a self-attested NutsEmployeeCredential for the person of the call', async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const principal = await principalOf(client, call({ person: NURSE }));
    expect(principal.person).toEqual(NURSE);
    const [post] = tokenPosts();
    expect(presented(post!.form)[1]).toMatchObject({ type: ['VerifiableCredential', 'NutsEmployeeCredential'], credentialSubject: { identifier: NURSE.identifier, roleName: NURSE.role } });
    expect(JSON.parse(post!.form.get('presentation_submission')!).descriptor_map.map((entry: { id: string }) => entry.id)).toEqual(['id_uzicert_uracredential', 'id_employee']);
  });

  it("presents the Dezi id_token the EHR handed over instead, and the person is the one the token declares", async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const dezi = await deziToken();
    const principal = await principalOf(client, call({ person: nurseWithDezi(dezi) }));
    expect(principal.person).toMatchObject({ identifier: '900000123', name: 'J. Broek', role: '01.041' });
    const [post] = tokenPosts();
    expect(presented(post!.form)[1]).toMatchObject({ type: ['VerifiableCredential', 'DeziUserCredential'], proof: { type: 'DeziIDJWT07', jwt: dezi } });
    expect(JSON.parse(post!.form.get('presentation_submission')!).descriptor_map.map((entry: { id: string }) => entry.id)).toEqual(['id_uzicert_uracredential', 'id_dezi_user']);
  });

  it("surfaces the server's refusal as a TokenRequestError with its RFC 6749 error (a Dezi token of another organisation)", async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const dezi = await deziToken({ abonnee_nummer: '99999999' });
    const refusal = await client.getToken('vvt-a', 'eOverdracht-sender', call({ person: nurseWithDezi(dezi) })).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(TokenRequestError);
    expect(refusal).toMatchObject({ status: 400, error: 'invalid_request', message: expect.stringMatching(/Dezi declaration is for organisation 99999999/) });
    expect((refusal as Error).message).not.toContain(dezi);
  });

  it('refuses a kept Dezi id_token that does not open (changed, or sealed for another person), and sends no token request', async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const dezi = await deziToken();
    const kept = nurseWithDezi(dezi);
    const bytes = Buffer.from(kept.dezi!.sealed, 'base64url');
    bytes[20]! ^= 1;
    const changed = { ...kept, dezi: { ...kept.dezi!, sealed: bytes.toString('base64url') } };
    const moved = { ...kept, identifier: 'another-nurse@hospital' };
    for (const person of [changed, moved, { ...kept, dezi: { ...kept.dezi!, exp: kept.dezi!.exp + 3600 } }]) {
      const refusal = await client.getToken('vvt-a', 'eOverdracht-sender', call({ person })).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(SealedDeziRefused);
      expect((refusal as Error).message).not.toContain(dezi);
    }
    expect(tokenPosts()).toEqual([]);
  });

  it('keeps one token per person and shares one request among concurrent calls', async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    const [first, second] = await Promise.all([client.getToken('vvt-a', 'eOverdracht-sender', call()), client.getToken('vvt-a', 'eOverdracht-sender', call())]);
    expect(first).toEqual(second);
    expect(await client.getToken('vvt-a', 'eOverdracht-sender', call())).toEqual(first);
    expect(await client.getToken('vvt-a', 'eOverdracht-sender', call({ person: NURSE }))).not.toEqual(first);
    expect(tokenPosts()).toHaveLength(2);
  });
});

describe('grant selection', () => {
  it("uses the generic functions' jwt-bearer (a presentation, no submission) where vp_token-bearer is not offered", async () => {
    traffic.rewrite = (url, body) => (url.pathname.startsWith('/.well-known/') ? { ...body, grant_types_supported: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] } : body);
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    expect(await principalOf(client, call({ person: NURSE }))).toMatchObject({ organization: { ura: HOSPITAL_URA }, person: NURSE });
    const [post] = tokenPosts();
    expect(post!.form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    expect(post!.form.has('presentation_submission')).toBe(false);
    expect(presented(post!.form)).toHaveLength(2);
  });

  it('signs the RFC003 grant for a server without Nuts v6 metadata (endpoints.oauth only), with the person as usi', async () => {
    const client = createTokenClient({ registry: await registryWith({ oauth: `${BASE_URL}/oauth2/token`, fhir: `${BASE_URL}/fhir` }), wallet, fetch: clientFetch });
    const principal = await principalOf(client, call({ person: NURSE }));
    expect(principal).toMatchObject({ requester: 'hospital-x', person: NURSE });
    expect(principal).not.toHaveProperty('organization');
    const [post] = tokenPosts();
    expect(decodeJwt(post!.form.get('assertion')!)).toMatchObject({ iss: 'hospital-x', sub: 'vvt-a', purposeOfUse: 'eOverdracht-sender', usi: { id: NURSE.identifier } });
    expect(traffic.gets).toEqual([]);
  });

  it('signs the RFC003 grant where the metadata has no Presentation Definitions, even if it lists jwt-bearer', async () => {
    traffic.rewrite = (_url, { presentation_definition_endpoint: _none, ...body }) => body;
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    await expect(client.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toBeInstanceOf(TokenRequestError);
    const [post] = tokenPosts();
    expect(decodeJwt(post!.form.get('assertion')!)).toMatchObject({ iss: 'hospital-x', sub: 'vvt-a', purposeOfUse: 'eOverdracht-sender' });
    expect(decodeJwt(post!.form.get('assertion')!)).not.toHaveProperty('vp');
  });

  it('signs the RFC003 grant at endpoints.oauth when the tenant has no X509Credential to present to the Nuts v6 server', async () => {
    const client = createTokenClient({ registry: await registryWith({ ...v6, oauth: `${BASE_URL}/oauth2/token` }), wallet: { x509Credential: () => undefined }, fetch: clientFetch });
    expect(await principalOf(client, call())).toMatchObject({ requester: 'hospital-x' });
    const [post] = tokenPosts();
    expect([post!.url, post!.form.get('grant_type')]).toEqual([`${BASE_URL}/oauth2/token`, 'urn:ietf:params:oauth:grant-type:jwt-bearer']);
    expect(decodeJwt(post!.form.get('assertion')!)).toMatchObject({ iss: 'hospital-x', sub: 'vvt-a', purposeOfUse: 'eOverdracht-sender', aud: `${BASE_URL}/oauth2/token` });
  });

  it('presents to the Nuts v6 server when the tenant has an X509Credential, though endpoints.oauth is there too', async () => {
    const client = createTokenClient({ registry: await registryWith({ ...v6, oauth: `${BASE_URL}/oauth2/token` }), wallet, fetch: clientFetch });
    await client.getToken('vvt-a', 'eOverdracht-sender', call());
    const [post] = tokenPosts();
    expect([post!.url, post!.form.get('grant_type')]).toEqual([`${ISSUER}/token`, 'vp_token-bearer']);
  });
});

describe('a Presentation Definition the client cannot meet', () => {
  it('is an error that says so, and no token request is sent', async () => {
    traffic.rewrite = (url, body) =>
      url.pathname.endsWith('/presentation_definition')
        ? { ...body, input_descriptors: [{ id: 'id_other', constraints: { fields: [{ path: ['$.type[*]'], filter: { type: 'string', const: 'SomeOtherCredential' } }] } }] }
        : body;
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    await expect(client.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toThrow(PresentationDefinitionUnmet);
    await expect(client.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toThrow(/do not satisfy the Presentation Definition 'pd_care_organization'/);
    expect(tokenPosts()).toEqual([]);
  });

  it('is an error when the tenant has no X509Credential, and no token request is sent', async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet: { x509Credential: () => undefined }, fetch: clientFetch });
    await expect(client.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toThrow(/'hospital-x' has no X509Credential/);
    expect(tokenPosts()).toEqual([]);
  });

  it("surfaces the server's refusal of the scope (invalid_scope) without asking for a token", async () => {
    const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
    await expect(client.getToken('vvt-a', 'care-services-query', call())).rejects.toMatchObject({ status: 400, error: 'invalid_scope' });
    expect(tokenPosts()).toEqual([]);
  });
});

describe('a gateway that accepts only vp_token-bearer (nuts.acceptedGrants)', () => {
  it('lists only it, refuses the RFC003 grant and jwt-bearer with unsupported_grant_type, and grants the client its v6 token', async () => {
    const strictFolder = temporaryFolder('client-v6-strict-');
    const strict = await gateway({ ...world.config, trusted: world.config.trusted.map((trusted) => ({ ...trusted, jwks: publicJwks(hospital) })), nuts: { ...world.config.nuts, acceptedGrants: ['vp_token-bearer'] } }, strictFolder, { fetch: world.fetch, lookup: publicLookup });
    const strictServer = http.createServer(strict.app);
    await new Promise<void>((resolve) => strictServer.listen(0, '127.0.0.1', resolve));
    const original = local;
    local = `http://127.0.0.1:${(strictServer.address() as AddressInfo).port}`;
    try {
      const metadata = (await (await fetch(`${local}/.well-known/oauth-authorization-server/oauth2/vvt-a`)).json()) as Record<string, unknown>;
      expect(metadata.grant_types_supported).toEqual(['vp_token-bearer']);
      const root = (await (await fetch(`${local}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(root.grant_types_supported).toEqual(['client_credentials']);

      const rfc003 = createTokenClient({ registry: await registryWith({ oauth: `${BASE_URL}/oauth2/token`, fhir: `${BASE_URL}/fhir` }), wallet, fetch: clientFetch });
      await expect(rfc003.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toMatchObject({ status: 400, error: 'unsupported_grant_type' });

      traffic.rewrite = (url, body) => (url.pathname.startsWith('/.well-known/') ? { ...body, grant_types_supported: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] } : body);
      const jwtBearer = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
      await expect(jwtBearer.getToken('vvt-a', 'eOverdracht-sender', call())).rejects.toMatchObject({ status: 400, error: 'unsupported_grant_type' });

      traffic.rewrite = undefined;
      const client = createTokenClient({ registry: await registryWith(v6), wallet, fetch: clientFetch });
      expect(await client.getToken('vvt-a', 'eOverdracht-sender', call({ person: NURSE }))).toMatchObject({ type: 'DPoP' });
    } finally {
      local = original;
      await new Promise<void>((resolve) => strictServer.close(() => resolve()));
      await strict.close();
      removeFolder(strictFolder);
    }
  });
});

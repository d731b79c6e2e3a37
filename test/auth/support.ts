import { randomUUID } from 'node:crypto';
import express from 'express';
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { parseConfig, type GatewayConfig } from '../../src/config/config.js';
import { createAuth, wwwAuthenticate, type Auth } from '../../src/auth/index.js';
import type { Operation } from '../../src/fhir/principal.js';
import type { RateLimit } from '../../src/auth/rateLimit.js';
import { createMemoryGate } from '../../src/http/bodies.js';
import { oauthRouter } from '../../src/http/oauth.js';
import { httpStatus } from '../../src/rest/status.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { party, publicJwks, type Party } from '../harness/parties.js';

export const BASE_URL = 'https://gw.test';
export const TOKEN_ENDPOINT = `${BASE_URL}/oauth2/token`;

/** Test parties: two hosted care organisations (tenants), two trusted hospitals, one EHR client per tenant. */
export interface World {
  config: GatewayConfig;
  vvtA: Party;
  vvtB: Party;
  hospitalX: Party;
  hospitalY: Party;
  /** Not in the configuration at all. */
  stranger: Party;
  ehrA: Party;
}

export async function world(overrides: Partial<Record<string, unknown>> = {}): Promise<World> {
  const [vvtA, vvtB, hospitalX, hospitalY, stranger, ehrA] = await Promise.all(
    ['vvt-a', 'vvt-b', 'hospital-x', 'hospital-y', 'stranger', 'ehr-a'].map((id) => party(id)),
  );
  const config = parseConfig({
    publicBaseUrl: BASE_URL,
    organizations: [
      { id: 'vvt-a', name: 'VVT A', roles: ['receiver'], keys: [{ jwk: vvtA!.jwk }], ehrClients: [{ clientId: 'ehr-a', jwks: publicJwks(ehrA!) }] },
      { id: 'vvt-b', name: 'VVT B', roles: ['receiver'], keys: [{ jwk: vvtB!.jwk }] },
    ],
    trusted: [
      { id: 'hospital-x', name: 'Hospital X', jwks: publicJwks(hospitalX!), endpoints: { oauth: 'https://x.test/oauth2/token', fhir: 'https://x.test/fhir' } },
      { id: 'hospital-y', name: 'Hospital Y', jwks: publicJwks(hospitalY!), endpoints: { oauth: 'https://y.test/oauth2/token' } },
    ],
    ...overrides,
  });
  return { config, vvtA: vvtA!, vvtB: vvtB!, hospitalX: hospitalX!, hospitalY: hospitalY!, stranger: stranger!, ehrA: ehrA! };
}

export const now = () => Math.floor(Date.now() / 1000);

/** A JWT bearer grant as a remote organisation would sign it; every part can be overridden to build an attack. */
export async function grant(
  signer: Party,
  claims: JWTPayload = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const issuedAt = now();
  return new SignJWT({
    iss: signer.id,
    sub: 'vvt-a',
    aud: TOKEN_ENDPOINT,
    iat: issuedAt,
    exp: issuedAt + 5,
    jti: randomUUID(),
    purposeOfUse: 'eOverdracht-receiver',
    vcs: [],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: signer.kid, ...header })
    .sign(await importJWK(signer.jwk, 'ES256'));
}

/** A client assertion (RFC 7523 §2.2) of an EHR client. */
export async function clientAssertion(client: Party, claims: JWTPayload = {}): Promise<string> {
  return grant(client, { sub: client.id, purposeOfUse: undefined, vcs: undefined, ...claims });
}

/** Any JWS with an arbitrary header, for algorithms jose refuses to produce for us (`none`, HS256 with a public key). */
export function rawJws(header: object, claims: JWTPayload, signature: (input: string) => string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(header)}.${encode(claims)}`;
  return `${input}.${signature(input)}`;
}


/** A gateway under test: the real store on a temporary SQLite file, auth wired as main.ts wires it, over HTTP. */
export interface Gateway {
  store: Store;
  auth: Auth;
  app: express.Express;
  /** Milliseconds; starts at the real time, tests move it forward. */
  clock: { now: number };
  close(): Promise<void>;
}

/** Rate limits high enough for a test's requests, unless the test is about them. */
const UNLIMITED: RateLimit = { capacity: 1_000_000, refillPerSecond: 1_000_000 };

export async function gateway(
  config: GatewayConfig,
  dataDir: string,
  options: { rateLimit?: RateLimit; unauthenticated?: RateLimit; fetch?: typeof fetch; lookup?: (host: string) => Promise<string[]> } = {},
): Promise<Gateway> {
  const store = await openStore({ dataDir });
  const clock = { now: Date.now() };
  const limited = { ...config, rateLimits: { unauthenticated: options.unauthenticated ?? UNLIMITED } };
  const auth = await createAuth(limited, store, {
    clock: () => clock.now,
    rateLimit: options.rateLimit ?? UNLIMITED,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  const app = express();
  app.use(oauthRouter({ ...auth, bodyBytes: limited.limits.unauthenticatedBodyBytes, bodies: createMemoryGate(limited.limits.inFlightBytes) }));
  app.use('/fhir', guardedEcho(auth));
  const close = async () => {
    await auth.close();
    await store.close();
  };
  return { store, auth, app, clock, close };
}

/**
 * A stand-in FHIR route that does exactly what the HTTP layer does with the guard: authenticate (401 with the
 * challenge), authorize (403), then echo the principal.
 */
function guardedEcho(auth: Auth): express.RequestHandler {
  const operations: Record<string, Operation> = { GET: 'read', PUT: 'update', DELETE: 'delete', POST: 'create' };
  return async (req, res) => {
    const principal = await auth.authenticator.authenticate(req.headers.authorization, {
      method: req.method,
      url: `${BASE_URL}${req.originalUrl}`,
      dpop: req.headers.dpop,
    });
    if ('resourceType' in principal) {
      res.status(httpStatus(principal)).set('WWW-Authenticate', wwwAuthenticate(principal)).json(principal);
      return;
    }
    const refusal = await auth.authenticator.authorize(principal, { version: 'r4', operation: operations[req.method] ?? 'read', path: req.path });
    if (refusal) {
      res.status(httpStatus(refusal)).json(refusal);
      return;
    }
    res.json({ principal });
  };
}

import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { createPrivateKey, sign } from 'node:crypto';
import { CompactSign } from 'jose';
import { importSigningKey } from '../../src/auth/jwk.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { parseXml } from '../../src/fhir/xml.js';
import { authorization, body, headers, method, path as fhirPath, query, visibleAscii } from '../../test/e2e/hostile-input.js';
import { ehrToken, organizationToken } from '../../test/harness/calls.js';
import { newSite, startProcess } from '../../test/harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../../test/harness/parties.js';
import type { Figure } from '../bench/index.js';
import { costlyRequest, type CostlyRequest } from './costly-input.js';
import { killHard, machineLoad, peakResidentMb } from './processes.js';

/**
 * DESIGN §8 bad input: 20,000 fuzzed requests → 0 × 5xx, 0 crashes, each refusal a 4xx OperationOutcome (at the token
 * endpoint the RFC 6749 error JSON). The gateway runs as its own process (production mode, SQLite, the default
 * limits, a 256 MB heap bound); fast-check generates, from a fixed seed, four kinds of request in equal parts:
 * - FHIR API calls with hostile paths, queries, headers and bodies (test/e2e/hostile-input.ts), with a valid EHR token,
 *   none, or garbage;
 * - FHIR reads with forged bearer tokens: random JWT-shaped strings, `alg: none` and HS256 headers, a real token
 *   with one character changed, cut short or padded, non-ASCII;
 * - token requests: fuzzed forms, and grants signed with a trusted organisation's real key whose claims are
 *   generated (wrong or missing iss/sub/aud, expired, exp beyond iat + 5 s, odd purposes and credentials, replayed jti);
 * - costly requests (costly-input.ts): huge arrays, batches of many searches from the EHR and from a remote
 *   organisation, JWT header fields of the wrong type, repeated parameters and thousands of sort terms.
 * Requests go 16 at a time; the process must still answer /healthz at the end and never have exited. The unauthenticated
 * rate limit is set out of reach, so that every refusal is decided by the checks themselves.
 */
const REQUESTS = Number(process.env.EVIDENCE_FUZZ_REQUESTS ?? 20_000);
const CONCURRENCY = 16;
const HEAP_BOUND_MB = 256;
const SEED = Number(process.env.EVIDENCE_FUZZ_SEED ?? 20_260_101);

type FuzzRequest = CostlyRequest | {
  kind: 'fhir' | 'bearer' | 'token';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
};

interface Tokens {
  token: string;
  remoteToken: string;
  remote: Party;
  audience: string;
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Any text a header may carry (fetch refuses control characters and code points above 0xFF before sending). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((code) => code !== 0x7f).map((code) => String.fromCharCode(code)), maxLength: 300 });

/** Forged bearer tokens; `real` stands for a valid token, replaced when sent. */
const forgedToken = fc.oneof(
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 3 }), visibleAscii).map(([header, payload, signature]) => `${b64(header)}.${b64(payload)}.${b64(signature)}`),
  fc
    .record({ alg: fc.constantFrom('none', 'HS256', 'ES256', 'RS256', ''), kid: fc.oneof(visibleAscii, fc.constant('fuzz#1')), typ: fc.constantFrom('JWT', 'at+jwt', '') })
    .chain((header) => fc.record({ sub: visibleAscii, exp: fc.integer(), scope: visibleAscii }).map((claims) => `${b64(header)}.${b64(claims)}.`)),
  fc.tuple(fc.nat(), fc.constantFrom('flip', 'cut', 'pad')).map(([at, how]) => `real:${how}:${at}`),
  headerText,
  fc.constantFrom('', '.', '..', 'a.b.c', 'Bearer', 'null', 'undefined', 'x'.repeat(8000)),
);

function bearerRequest(token: string, scheme: string, where: string): FuzzRequest {
  return { kind: 'bearer', method: 'GET', path: where, headers: { authorization: `${scheme} ${token}`, accept: 'application/fhir+json' } };
}

const bearerRequests = fc
  .tuple(forgedToken, fc.constantFrom('Bearer', 'bearer', 'Basic', 'DPoP', ''), fc.constantFrom('/fhir/Patient', '/fhir/stu3/Task', '/fhir/Task/1', '/fhir/MeasureReport/$match-capacity?care-type=elv-hoog'))
  .map(([token, scheme, where]) => bearerRequest(token, scheme, where));

/** Claims for a grant signed with the trusted organisation's real key: they pass the signature and test the rules. */
const grantClaims = fc.record(
  {
    iss: fc.oneof(fc.constant('remote'), visibleAscii),
    sub: fc.oneof(fc.constant('fuzz'), visibleAscii),
    aud: fc.oneof(fc.constant('AUDIENCE'), visibleAscii, fc.array(visibleAscii, { maxLength: 2 })),
    iat: fc.oneof(fc.constant('NOW'), fc.integer()),
    exp: fc.oneof(fc.constantFrom('NOW+5', 'NOW+6', 'NOW-10', 'NOW+3600'), fc.integer()),
    jti: fc.oneof(fc.constant('replayed-jti'), visibleAscii),
    purposeOfUse: fc.oneof(fc.constantFrom('eOverdracht-sender', 'eOverdracht-receiver', 'capacity-subscription', 'capacity-publication'), visibleAscii),
    vcs: fc.oneof(fc.array(visibleAscii, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
    usi: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const tokenForms = fc.oneof(
  grantClaims.map((claims) => ({ grant_type: JWT_BEARER_GRANT, assertion: `SIGNED:${JSON.stringify(claims)}` })),
  fc.record({ grant_type: fc.oneof(fc.constantFrom(JWT_BEARER_GRANT, CLIENT_CREDENTIALS_GRANT, 'password', 'authorization_code', ''), visibleAscii), assertion: forgedToken }, { requiredKeys: [] }),
  fc.record(
    { grant_type: fc.constant(CLIENT_CREDENTIALS_GRANT), client_assertion_type: fc.oneof(fc.constant(JWT_BEARER_CLIENT_ASSERTION), visibleAscii), client_assertion: forgedToken, client_id: visibleAscii },
    { requiredKeys: [] },
  ),
  fc.dictionary(visibleAscii, visibleAscii, { maxKeys: 5 }),
);

const tokenRequests = fc
  .tuple(tokenForms, fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', ''), fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'))
  .map(([form, contentType, verb]): FuzzRequest => ({
    kind: 'token',
    method: verb,
    path: '/oauth2/token',
    headers: contentType ? { 'content-type': contentType } : {},
    body: JSON.stringify(form),
  }));

const fhirRequests = fc.tuple(method, fhirPath, query, headers, body, authorization).map(([verb, where, search, sent, payload, credential]): FuzzRequest => {
  const requestHeaders: Record<string, string> = { ...sent };
  if (credential === 'valid') requestHeaders.authorization = 'Bearer real:as-is:0';
  if (credential === 'garbage') requestHeaders.authorization = 'Bearer x.y.z';
  return { kind: 'fhir', method: verb, path: where + search, headers: requestHeaders, body: verb === 'GET' || verb === 'HEAD' ? undefined : payload };
});

/**
 * Replaces the stand-ins: `real:<how>:<n>` with the valid token (changed as told), `SIGNED:<claims>` with a grant,
 * `UNSIGNED:`/`SIGNED-HEADER:<header>` with a JWS of that header; a costly request gets its party's token.
 */
async function materialise(request: FuzzRequest, context: Tokens): Promise<RequestInit & { url: string }> {
  if (request.kind === 'costly') return materialiseCostly(request, context);
  const real = (text: string) =>
    text.replace(/real:(as-is|flip|cut|pad):(\d+)/, (_, how: string, at: string) => {
      const { token } = context;
      const index = Number(at) % token.length;
      if (how === 'flip') return token.slice(0, index) + (token[index] === 'A' ? 'B' : 'A') + token.slice(index + 1);
      if (how === 'cut') return token.slice(0, index);
      if (how === 'pad') return `${token}${'='.repeat((Number(at) % 3) + 1)}`;
      return token;
    });
  const requestHeaders = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, real(value)]));
  let payload = request.body;
  if (request.kind === 'token' && payload !== undefined) {
    const form = JSON.parse(payload) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    for (const [name, value] of Object.entries(form)) fields[name] = typeof value === 'string' ? await signedStandIn(real(value), context) : JSON.stringify(value);
    payload = request.headers['content-type'] === 'application/json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
  }
  return { url: request.path, method: request.method, headers: requestHeaders, ...(payload !== undefined && request.method !== 'GET' ? { body: payload } : {}) };
}

/** `SIGNED:<claims>` becomes a JWS over exactly those claims (times relative to now), with the remote's real key. */
async function signedStandIn(value: string, context: { remote: Party; audience: string }): Promise<string> {
  if (!value.startsWith('SIGNED:')) return value;
  const claims = JSON.parse(value.slice('SIGNED:'.length)) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  const time = (given: unknown) => (typeof given === 'string' && given.startsWith('NOW') ? now + Number(given.slice(3) || 0) : given);
  const payload = { ...claims, ...(claims.aud === 'AUDIENCE' ? { aud: context.audience } : {}), iat: time(claims.iat), exp: time(claims.exp) };
  const key = await importSigningKey(context.remote.id, context.remote.jwk);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.key);
}

async function materialiseCostly(request: CostlyRequest, context: Tokens): Promise<RequestInit & { url: string }> {
  const requestHeaders = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, typedHeaderStandIn(value, context)]));
  if (request.who !== 'none') requestHeaders.authorization = `Bearer ${request.who === 'ehr' ? context.token : context.remoteToken}`;
  let payload = request.body;
  if (payload !== undefined && request.path.startsWith('/oauth2/')) {
    const form = JSON.parse(payload) as Record<string, string>;
    payload = new URLSearchParams(Object.entries(form).map(([name, value]): [string, string] => [name, typedHeaderStandIn(value, context)])).toString();
  }
  return { url: request.path, method: request.method, headers: requestHeaders, ...(payload !== undefined ? { body: payload } : {}) };
}

/** A JWS whose header is exactly the one given, over a plausible grant; signed with the remote's real key, or not at all. */
function typedHeaderStandIn(value: string, context: Tokens): string {
  const found = /^(Bearer )?(UNSIGNED|SIGNED-HEADER):(.*)$/.exec(value);
  if (!found) return value;
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: context.remote.id, sub: 'fuzz', aud: context.audience, iat: now, exp: now + 5, jti: `typed-${Math.random()}`, purposeOfUse: 'capacity-subscription' };
  const input = `${b64(found[3])}.${b64(claims)}`;
  const signature = found[2] === 'UNSIGNED' ? '' : sign('sha256', Buffer.from(input), { key: createPrivateKey({ key: context.remote.jwk as never, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${found[1] ?? ''}${input}.${signature}`;
}

/** The tenant EHR's token and a remote organisation's `capacity-subscription` token, both renewed every 30 s. */
async function tokensFor(url: string, own: Party, remote: Party): Promise<Pick<Tokens, 'token' | 'remoteToken'>> {
  const remoteGrant = await organizationToken(url, remote, own.id, 'capacity-subscription', []);
  if (remoteGrant.status !== 200) throw new Error(`remote token refused: ${remoteGrant.status} ${JSON.stringify(remoteGrant.body)}`);
  return { token: await ehrToken(url, own), remoteToken: remoteGrant.body.access_token as string };
}

type Outcome = 'accepted' | 'refused-structured' | 'refused-unstructured' | 'server-error' | 'no-answer';

/** A refusal must say why in the shape its endpoint promises: an OperationOutcome, or RFC 6749 error JSON. */
function isStructured(request: FuzzRequest, text: string, contentType: string | null): boolean {
  try {
    if (request.kind === 'token' || request.path.startsWith('/oauth2/')) return typeof (JSON.parse(text) as { error?: unknown }).error === 'string';
    if (contentType?.startsWith('application/fhir+xml')) return parseXml('r4', text).resourceType === 'OperationOutcome';
    return (JSON.parse(text) as { resourceType?: unknown }).resourceType === 'OperationOutcome';
  } catch {
    return false;
  }
}

async function send(base: string, request: FuzzRequest, init: RequestInit & { url: string }): Promise<{ outcome: Outcome; status: number }> {
  try {
    const response = await fetch(base + init.url, { ...init, signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    if (response.status >= 500) return { outcome: 'server-error', status: response.status };
    if (response.status < 400) return { outcome: 'accepted', status: response.status };
    const structured = request.method === 'HEAD' || isStructured(request, text, response.headers.get('content-type'));
    return { outcome: structured ? 'refused-structured' : 'refused-unstructured', status: response.status };
  } catch {
    return { outcome: 'no-answer', status: 0 };
  }
}

export async function fuzzBadRequests(): Promise<Figure[]> {
  const [own, remote] = await Promise.all([party('fuzz', 'Fuzz Zorg', '66666666'), party('remote', 'Remote Ziekenhuis', '77777777')]);
  const site = await newSite([{ party: own, roles: ['sender', 'receiver', 'coordination-point'] }], 'evidence-fuzz-');
  let gateway: ChildProcess | undefined;
  try {
    writeFileSync(
      path.join(site.dataDir, 'config.json'),
      JSON.stringify({
        mode: 'production',
        port: site.port,
        publicBaseUrl: site.url,
        dataDir: site.dataDir,
        rateLimits: { unauthenticated: { capacity: 1_000_000, refillPerSecond: 1_000_000 } },
        organizations: [await hostedOrganization(own, ['sender', 'receiver', 'coordination-point'])],
        trusted: [await trustedOrganization(remote)],
      }),
    );
    gateway = await startProcess(site, [`--max-old-space-size=${HEAP_BOUND_MB}`, '--import', 'tsx', 'src/main.ts']);
    const requests: FuzzRequest[] = fc.sample(fc.oneof<fc.Arbitrary<FuzzRequest>[]>(fhirRequests, bearerRequests, tokenRequests, costlyRequest), { numRuns: REQUESTS, seed: SEED });
    const context: Tokens = { ...(await tokensFor(site.url, own, remote)), remote, audience: `${site.url}/oauth2/token` };
    let tokenIssuedAt = Date.now();
    const outcomes: Record<Outcome, number> = { accepted: 0, 'refused-structured': 0, 'refused-unstructured': 0, 'server-error': 0, 'no-answer': 0 };
    const byStatus: Record<string, number> = {};
    const examples: string[] = [];
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        if (Date.now() - tokenIssuedAt > 30_000) {
          tokenIssuedAt = Date.now();
          Object.assign(context, await tokensFor(site.url, own, remote));
        }
        const { outcome, status } = await send(site.url, request, await materialise(request, context));
        outcomes[outcome] += 1;
        byStatus[status] = (byStatus[status] ?? 0) + 1;
        if ((outcome === 'server-error' || outcome === 'refused-unstructured' || outcome === 'no-answer') && examples.length < 5) {
          examples.push(`${status} ${request.method} ${request.path.slice(0, 120)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const durationMs = Date.now() - started;
    const alive = gateway.exitCode === null && gateway.signalCode === null && (await fetch(`${site.url}/healthz`).then((r) => r.ok, () => false));
    const peakRss = gateway.pid === undefined ? null : peakResidentMb(gateway.pid);
    const kinds = Object.fromEntries((['fhir', 'bearer', 'token', 'costly'] as const).map((kind) => [kind, requests.filter((r) => r.kind === kind).length]));
    return [
      {
        name: 'fuzz.bad-requests.5xx',
        value: outcomes['server-error'],
        unit: 'responses',
        baseline: null,
        target: '0 × 5xx and 0 crashes in 20,000 fuzzed bodies, headers, tokens and costly requests; each refusal a 4xx OperationOutcome (DESIGN §8, issue #12)',
        requests: requests.length,
        kinds,
        crashes: alive ? 0 : 1,
        heapBoundMb: HEAP_BOUND_MB,
        peakRssMb: peakRss,
        noAnswer: outcomes['no-answer'],
        refusalsWithoutOperationOutcome: outcomes['refused-unstructured'],
        refusedWithOperationOutcome: outcomes['refused-structured'],
        acceptedAsValid: outcomes.accepted,
        byStatus,
        examples,
        requestsPerSecond: Math.round(requests.length / (durationMs / 1000)),
        seed: SEED,
        ...machineLoad(),
      },
    ];
  } finally {
    await killHard(gateway);
    rmSync(site.dataDir, { recursive: true, force: true });
  }
}

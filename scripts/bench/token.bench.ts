/**
 * Token exchange over HTTP (DESIGN §8: >= 0.4 x a bare express JSON endpoint, same machine, same run).
 *
 * The servers run in a child process (this same file, started with TOKEN_BENCH_ROLE=server) so autocannon in this
 * process does not share their event loop: the real token endpoint (createAuth on a SQLite store: grant signature,
 * claims, jti in the store, access token signing, AuditEvent) and, on another port, a bare express endpoint that
 * parses the same form body and answers a constant JSON token response. Every grant needs a fresh jti, so a pool
 * of signed grants is prepared before each run, with iat a few seconds ahead (allowed by the 5 s skew) to stay
 * valid throughout.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import express from 'express';
import { SignJWT, type JWK } from 'jose';
import { createAuth } from '../../src/auth/index.js';
import { importSigningKey, publicJwk, type SigningKey } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { parseConfig } from '../../src/config/config.js';
import { createMemoryGate } from '../../src/http/bodies.js';
import { oauthRouter } from '../../src/http/oauth.js';
import { openStore } from '../../src/store/index.js';
import type { Figure } from './index.js';

const DURATION_S = Number(process.env.BENCH_TOKEN_SECONDS ?? 8);
const CONNECTIONS = 16;
const ROUNDS = 4;
const REQUESTER = 'hospital-bench';
const AUTHORIZER = 'vvt-bench';

interface Ports {
  token: number;
  baseline: number;
}

export const listen = (app: express.Express) =>
  new Promise<Server>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });
export const portOf = (server: Server) => (server.address() as AddressInfo).port;

/** Child process: both servers, the token endpoint trusting the requester's public key handed over by the parent. */
async function serve(requesterKey: JWK): Promise<Ports> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'token-bench-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const tokenApp = express();
  const tokenServer = await listen(tokenApp);
  const config = parseConfig({
    publicBaseUrl: `http://127.0.0.1:${portOf(tokenServer)}`,
    organizations: [{ id: AUTHORIZER, name: 'VVT', roles: ['receiver'], keys: [{ jwk: await generatePrivateJwk() }] }],
    trusted: [{ id: REQUESTER, name: 'Hospital', jwks: { keys: [requesterKey] } }],
  });
  const store = await openStore({ dataDir });
  const auth = await createAuth(config, store, { rateLimit: { capacity: 1e9, refillPerSecond: 1e9 } });
  tokenApp.use(oauthRouter({ ...auth, bodyBytes: config.limits.unauthenticatedBodyBytes, bodies: createMemoryGate(config.limits.inFlightBytes) }));

  const baselineApp = express();
  const constant = { access_token: 'x'.repeat(400), token_type: 'bearer', expires_in: 60 };
  baselineApp.post('/oauth2/token', express.urlencoded({ extended: false, limit: '64kb' }), (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(constant);
  });
  const baselineServer = await listen(baselineApp);
  return { token: portOf(tokenServer), baseline: portOf(baselineServer) };
}

if (process.env.TOKEN_BENCH_ROLE === 'server') {
  process.once('message', (message) => {
    serve(message as JWK).then((ports) => process.send?.(ports));
  });
  process.once('disconnect', () => process.exit(0));
}

function startServers(requesterKey: JWK): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, TOKEN_BENCH_ROLE: 'server' }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`token bench server exited with ${code}`)));
    child.once('message', (ports) => resolve({ child, ports: ports as Ports }));
    child.send(requesterKey);
  });
}

async function grants(key: SigningKey, audience: string, count: number): Promise<string[]> {
  const iat = Math.floor(Date.now() / 1000) + 4;
  const sign = () =>
    new SignJWT({ purposeOfUse: 'eOverdracht-receiver', vcs: [] })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(REQUESTER)
      .setSubject(AUTHORIZER)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 5)
      .setJti(randomUUID())
      .sign(key.key);
  const pool: string[] = [];
  while (pool.length < count) pool.push(...(await Promise.all(Array.from({ length: Math.min(256, count - pool.length) }, sign))));
  return pool.map((assertion) => new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString());
}

export interface Run {
  requests: number;
  seconds: number;
  non2xx: number;
  errors: number;
  p99Ms: number;
}

/**
 * One autocannon run. Its own `duration` is no measure here: a run of `amount` requests ends only on autocannon's
 * next one-second tick (lib/run.js checks for the end there), so a 0.4 s run of 2,000 requests reports 1 s. The
 * time is taken from the start to the last response instead, the same way for both sides.
 */
export async function load(url: string, bodies: string[], options: { amount?: number; duration?: number }): Promise<Run> {
  let next = 0;
  const started = performance.now();
  let lastResponse = started;
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
        onResponse: () => {
          lastResponse = performance.now();
        },
      },
    ],
    ...(options.amount ? { amount: options.amount } : { duration: options.duration }),
  });
  const seconds = (lastResponse - started) / 1000;
  return { requests: result.requests.total, seconds, non2xx: result.non2xx, errors: result.errors, p99Ms: result.latency.p99 };
}

/** Grants for about `seconds` at the given rate, each used once. */
async function tokenRun(key: SigningKey, tokenUrl: string, rate: number, seconds: number): Promise<Run> {
  const amount = Math.max(1_000, Math.ceil(rate * seconds));
  return load(tokenUrl, await grants(key, tokenUrl, amount), { amount });
}

export const rate = (runs: Run[]) => runs.reduce((sum, run) => sum + run.requests, 0) / runs.reduce((sum, run) => sum + run.seconds, 0);

/**
 * The rate figure of alternated rounds of an exchange and the bare express baseline: the ratio against `target`,
 * the p99s and each round's ratio. A failed request fails the bench.
 */
export function rateFigure(name: string, exchange: Run[], baseline: Run[], target: number): Figure {
  const failed = exchange.reduce((sum, run) => sum + run.non2xx + run.errors, 0);
  if (failed > 0) throw new Error(`${name}: ${failed} token requests failed`);
  const ratio = rate(exchange) / rate(baseline);
  return {
    name,
    value: Math.round(rate(exchange)),
    unit: 'requests/s',
    baseline: Math.round(rate(baseline)),
    baselineName: 'bare express POST parsing the same form body and answering constant JSON',
    ratio: Number(ratio.toFixed(3)),
    target: `ratio >= ${target}`,
    met: ratio >= target,
    requests: exchange.reduce((sum, run) => sum + run.requests, 0),
    p99_ms: Math.max(...exchange.map((run) => run.p99Ms)),
    baseline_p99_ms: Math.max(...baseline.map((run) => run.p99Ms)),
    round_ratios: exchange.map((run, index) => Number((rate([run]) / rate([baseline[index]!])).toFixed(3))),
  };
}

export async function run(): Promise<Figure[]> {
  const requesterJwk = await generatePrivateJwk();
  const key = await importSigningKey(REQUESTER, requesterJwk);
  const { child, ports } = await startServers({ ...publicJwk(requesterJwk), kid: key.kid, alg: key.alg });
  try {
    const tokenUrl = `http://127.0.0.1:${ports.token}/oauth2/token`;
    const baselineUrl = `http://127.0.0.1:${ports.baseline}/oauth2/token`;
    const baselineBodies = await grants(key, tokenUrl, 64);
    const warmUp = [await tokenRun(key, tokenUrl, 500, 2), await load(baselineUrl, baselineBodies, { duration: 1 })];
    // Alternating rounds, so drift in the shared machine's load hits both sides alike.
    const baseline: Run[] = [];
    const exchange: Run[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      baseline.push(await load(baselineUrl, baselineBodies, { duration: DURATION_S / ROUNDS }));
      exchange.push(await tokenRun(key, tokenUrl, rate(exchange.length > 0 ? exchange : [warmUp[0]!]) * 1.2, DURATION_S / ROUNDS));
    }
    return [{ ...rateFigure('token_exchange.requests_per_s', exchange, baseline, 0.4), connections: CONNECTIONS }];
  } finally {
    child.disconnect();
  }
}

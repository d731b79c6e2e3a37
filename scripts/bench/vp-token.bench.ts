/**
 * The Nuts v6 vp_token-bearer exchange over HTTP (issue #15: >= 0.3 x a bare express JSON endpoint, same machine,
 * same run), and where its CPU goes.
 *
 * Every request carries a fresh JWT VP (its own nonce and jti) of a hospital known only by its did:web, holding an
 * X509Credential under a test UZI CA: per request the gateway checks the VP's signature (ES256, key from the cached
 * DID document), the X509Credential's signature (ES256, the server certificate's key) and certificate chain (the
 * CA's signature on the server certificate, validity), the did:x509 policies, the Presentation Definition (cached
 * per credential set: pex spends milliseconds on one evaluation) — all of it in the gateway's presentation worker
 * thread — then stores nonce, jti, token and AuditEvent in one transaction. The servers run in a child process, as
 * in token.bench.ts, whose load and rate helpers this reuses.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createAuth } from '../../src/auth/index.js';
import { didDocument } from '../../src/auth/did.js';
import { createCertificateAuthority, issueServerCertificate } from '../../src/auth/credentials/certificateAuthority.js';
import { leafAttributes, parseX5c, trustedCa, verifyChain } from '../../src/auth/credentials/certificates.js';
import { signPresentation, verifyPresentation } from '../../src/auth/credentials/presentation.js';
import { issueX509Credential, verifyX509Credential } from '../../src/auth/credentials/x509Credential.js';
import { importSigningKey, importVerificationKey, type SigningKey } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { verifyJws } from '../../src/auth/jws.js';
import { loadPolicies } from '../../src/auth/oauth2/policy.js';
import { matchDefinition } from '../../src/auth/oauth2/presentationExchange.js';
import { parseConfig } from '../../src/config/config.js';
import { createMemoryGate } from '../../src/http/bodies.js';
import { oauthRouter } from '../../src/http/oauth.js';
import { openStore } from '../../src/store/index.js';
import type { Figure } from './index.js';
import { listen, load, portOf, rate, rateFigure, type Run } from './token.bench.js';

const DURATION_S = Number(process.env.BENCH_TOKEN_SECONDS ?? 8);
const ROUNDS = 4;
const AUTHORIZER = 'vvt-bench';
const HOLDER = 'did:web:hospital.bench:iam:1';
const SCOPE = 'eOverdracht-sender';

interface Handover {
  caPem: string;
  document: object;
}

interface Ports {
  token: number;
  baseline: number;
}

/** Child process: the gateway's auth on a SQLite store trusting the handed-over CA, and the bare express endpoint. */
async function serve({ caPem, document }: Handover): Promise<Ports> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vp-token-bench-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const caFile = path.join(dataDir, 'ca.pem');
  writeFileSync(caFile, caPem);
  const tokenApp = express();
  const tokenServer = await listen(tokenApp);
  const config = parseConfig({
    publicBaseUrl: `http://127.0.0.1:${portOf(tokenServer)}`,
    dataDir,
    organizations: [{ id: AUTHORIZER, name: 'VVT', roles: ['sender', 'receiver'], keys: [{ jwk: await generatePrivateJwk() }] }],
    nuts: { trustedCaFiles: [caFile] },
  });
  const store = await openStore({ dataDir });
  const auth = await createAuth(config, store, {
    rateLimit: { capacity: 1e9, refillPerSecond: 1e9 },
    fetch: (async () => Response.json(document)) as unknown as typeof fetch,
    lookup: async () => ['93.184.216.34'],
  });
  tokenApp.use(oauthRouter({ ...auth, bodyBytes: config.limits.unauthenticatedBodyBytes, bodies: createMemoryGate(config.limits.inFlightBytes) }));
  const baselineApp = express();
  const constant = { access_token: 'x'.repeat(80), token_type: 'bearer', expires_in: 60, scope: SCOPE };
  baselineApp.post('/oauth2/token', express.urlencoded({ extended: false, limit: '64kb' }), (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(constant);
  });
  return { token: portOf(tokenServer), baseline: portOf(await listen(baselineApp)) };
}

/**
 * After the handover, every message asks the server process for the CPU time it has used so far (µs): in all, and
 * on its main thread (the event loop; the rest is the presentation worker, libuv's pool and V8's helpers).
 */
if (process.env.VP_TOKEN_BENCH_ROLE === 'server') {
  process.once('message', (message) => {
    serve(message as Handover).then((ports) => {
      process.on('message', () => process.send?.(serverCpu()));
      process.send?.(ports);
    });
  });
  process.once('disconnect', () => process.exit(0));
}

interface Cpu {
  all: number;
  mainThread: number;
}

const CLOCK_TICK_US = 10_000;

/** The main thread's user + system time from Linux's /proc (Node 20 has no per-thread CPU time of its own). */
function mainThreadCpu(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
}

function serverCpu(): Cpu {
  const { user, system } = process.cpuUsage();
  return { all: user + system, mainThread: mainThreadCpu() };
}

function startServers(handover: Handover): Promise<{ child: ChildProcess; ports: Ports }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, VP_TOKEN_BENCH_ROLE: 'server' }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`vp_token bench server exited with ${code}`)));
    child.once('message', (ports) => resolve({ child, ports: ports as Ports }));
    child.send(handover);
  });
}

function cpuOf(child: ChildProcess): Promise<Cpu> {
  return new Promise((resolve) => {
    child.once('message', (message) => resolve(message as Cpu));
    child.send('cpu');
  });
}

/**
 * A run and the server process's CPU time per request in it: what the rate ratio says, less the load generator
 * sharing the machine (and the other work on it).
 */
async function measured(child: ChildProcess, cpu: Cpu[], work: () => Promise<Run>): Promise<Run> {
  const before = await cpuOf(child);
  const result = await work();
  const after = await cpuOf(child);
  cpu.push({ all: (after.all - before.all) / result.requests, mainThread: (after.mainThread - before.mainThread) / result.requests });
  return result;
}

const mean = (values: Cpu[], of: keyof Cpu) => values.reduce((sum, value) => sum + value[of], 0) / values.length;

const SUBMISSION = JSON.stringify({
  id: 'bench',
  definition_id: 'pd_care_organization',
  descriptor_map: [{ id: 'id_uzicert_uracredential', format: 'jwt_vc', path: '$.verifiableCredential[0]' }],
});

/** Presentations valid from a few seconds ahead (within the 5 s skew), each with its own nonce and jti. */
async function presentations(holder: { did: string; signing: SigningKey }, credential: string, issuer: string, count: number): Promise<string[]> {
  const nbf = Math.floor(Date.now() / 1000) + 4;
  const pool: string[] = [];
  while (pool.length < count) {
    const batch = await Promise.all(Array.from({ length: Math.min(256, count - pool.length) }, () => signPresentation(holder, [credential], issuer, nbf)));
    pool.push(...batch);
  }
  return pool.map((assertion) => new URLSearchParams({ grant_type: 'vp_token-bearer', assertion, presentation_submission: SUBMISSION, scope: SCOPE }).toString());
}

/** Mean microseconds of `work` over `times` calls. */
async function microseconds(times: number, work: () => unknown): Promise<number> {
  await work();
  const started = performance.now();
  for (let i = 0; i < times; i += 1) await work();
  return Math.round(((performance.now() - started) * 1000) / times);
}

/**
 * Where the CPU of one exchange goes, step by step, measured alone in this process (on its main thread, where the
 * JWS signatures are checked on libuv's pool: those steps are latencies; the worker checks them directly).
 */
async function cpuProfile(holder: { did: string; signing: SigningKey }, credential: string, caPem: string, issuer: string) {
  const anchor = trustedCa(caPem);
  const trust = { anchors: new Map([[anchor.fingerprint, anchor]]), allowSelfSigned: false };
  const holderKey = await importVerificationKey(holder.signing.publicJwk);
  const now = Math.floor(Date.now() / 1000);
  const [vp] = await presentations(holder, credential, issuer, 1);
  const assertion = new URLSearchParams(vp).get('assertion')!;
  const decoded = (await verifyX509Credential(credential, trust, now)).credential;
  const policy = loadPolicies().get(SCOPE)!;
  const chain = parseX5c(JSON.parse(Buffer.from(credential.split('.')[0]!, 'base64url').toString()).x5c);
  const leafKey = await importVerificationKey(chain[0]!.publicKey.export({ format: 'jwk' }));
  const { PEX } = await import('@sphereon/pex');
  return {
    vp_signature_and_claims: await microseconds(2_000, () => verifyPresentation(assertion, { audience: issuer, now, key: async () => holderKey })),
    x509_chain: await microseconds(2_000, () => verifyChain(chain, anchor, new Date())),
    x509_credential_per_request: await microseconds(2_000, () => verifyX509Credential(credential, trust, now)),
    x509_credential_signature: await microseconds(2_000, () => verifyJws(credential, () => leafKey)),
    x5c_parse: await microseconds(2_000, () => parseX5c(JSON.parse(Buffer.from(credential.split('.')[0]!, 'base64url').toString()).x5c)),
    leaf_attributes_cached: await microseconds(2_000, () => leafAttributes(chain[0]!)),
    presentation_definition_cached: await microseconds(2_000, () => matchDefinition(policy.organization, [decoded])),
    presentation_definition_pex_uncached: await microseconds(50, () => new PEX().evaluateCredentials(policy.organization, [decoded] as never[])),
  };
}

export async function run(): Promise<Figure[]> {
  const ca = await createCertificateAuthority('Bench UZI CA');
  const server = await issueServerCertificate(ca, { organizationName: 'Ziekenhuis Bench', city: 'Utrecht', ura: '12345678', host: 'hospital.bench' });
  const signing = await importSigningKey(HOLDER, await generatePrivateJwk());
  const holder = { did: HOLDER, signing };
  const credential = await issueX509Credential({ chain: [server.certificate, ca.certificate], privateKey: server.keys.privateKey }, HOLDER, Math.floor(Date.now() / 1000));
  const { child, ports } = await startServers({ caPem: ca.pem, document: didDocument(HOLDER, [signing.publicJwk]) });
  try {
    const issuer = `http://127.0.0.1:${ports.token}/oauth2/${AUTHORIZER}`;
    const tokenUrl = `${issuer}/token`;
    const baselineUrl = `http://127.0.0.1:${ports.baseline}/oauth2/token`;
    const exchangeRun = async (perSecond: number, seconds: number): Promise<Run> => {
      const amount = Math.max(500, Math.ceil(perSecond * seconds));
      return load(tokenUrl, await presentations(holder, credential, issuer, amount), { amount });
    };
    const baselineBodies = await presentations(holder, credential, issuer, 64);
    // Long enough for the presentation worker to start (it loads its modules on the first grant) and warm up.
    const warmUp = await exchangeRun(300, 4);
    await load(baselineUrl, baselineBodies, { duration: 1 });
    const baseline: Run[] = [];
    const exchange: Run[] = [];
    const [baselineCpu, exchangeCpu]: Cpu[][] = [[], []];
    for (let round = 0; round < ROUNDS; round += 1) {
      baseline.push(await measured(child, baselineCpu, () => load(baselineUrl, baselineBodies, { duration: DURATION_S / ROUNDS })));
      const perSecond = rate(exchange.length > 0 ? exchange : [warmUp]) * 1.2;
      exchange.push(await measured(child, exchangeCpu, () => exchangeRun(perSecond, DURATION_S / ROUNDS)));
    }
    return [
      {
        ...rateFigure('vp_token_bearer_exchange.requests_per_s', exchange, baseline, 0.3),
        per_request: 'VP signature (ES256, did:web key), X509Credential signature (ES256) and chain (CA signature on the server certificate, validity), did:x509 policies, Presentation Definition, nonce + jti + token + AuditEvent in one transaction',
        server_cpu_us_per_request: Math.round(mean(exchangeCpu, 'all')),
        server_main_thread_cpu_us_per_request: Math.round(mean(exchangeCpu, 'mainThread')),
        baseline_server_cpu_us_per_request: Math.round(mean(baselineCpu, 'all')),
        cpu_ratio: Number((mean(baselineCpu, 'all') / mean(exchangeCpu, 'all')).toFixed(3)),
        cpu_us_per_step: await cpuProfile(holder, credential, ca.pem, issuer),
      },
    ];
  } finally {
    child.disconnect();
  }
}

/**
 * Subscription delivery (DESIGN §8): a capacity change → all 1,000 loopback subscribers delivered (target <= 2 s),
 * and sustained notifications/s (target >= 5,000), each beside a baseline measured in the same run: a bare loop of
 * HTTP POSTs of the same notification body to the same receivers, as many at once as the gateway allows (16 per
 * endpoint), without outbox, signing, or anything else.
 *
 * The gateway runs in this process (development mode, SQLite in a temporary folder) as a coordination point with
 * 1,000 topic subscriptions (full-resource); a provider publishes its availability over HTTP with its own token. The
 * receivers (four HTTP servers) run in a child process, this same file started with SUBSCRIPTIONS_BENCH_ROLE=receivers,
 * which reports over IPC when the number of notifications it was told to expect has arrived.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT, type JWK } from 'jose';
import { importSigningKey, type SigningKey } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import { availabilityReport } from '../../src/capacity/report.js';
import { parseConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { PAYLOAD_CONTENT_EXTENSION } from '../../src/subscriptions/canonical.js';
import { CAPACITY_CHANGED_TOPIC } from '../../src/subscriptions/index.js';
import type { Figure } from './index.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';

const SUBSCRIBERS = 1000;
const RECEIVERS = 4;
const PER_ENDPOINT = 16;
const ROUNDS = Number(process.env.BENCH_SUBSCRIPTIONS_ROUNDS ?? 3);
/** Changes queued back to back for the sustained figure: each one notifies every subscriber. */
const SUSTAINED_CHANGES = Number(process.env.BENCH_SUBSCRIPTIONS_CHANGES ?? 10);
const ZCC = { id: 'zcc-bench', ura: '44444444' };
const PROVIDER = { id: 'vvt-bench', name: 'Zorggroep Bench', ura: '22222222' };
const EHR = 'zcc-bench-ehr';

// ---- child process: the receivers -------------------------------------------------------------------------------

type ToReceivers = { expect: number } | { sample: true };
type FromReceivers = { ports: number[] } | { done: number } | { sample: string };

function receivers(): void {
  let expected = Infinity;
  let count = 0;
  let sample = '';
  const servers = Array.from({ length: RECEIVERS }, () =>
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        res.writeHead(200).end();
        if (chunks.length > 0) sample = Buffer.concat(chunks).toString('utf8');
        count += 1;
        if (count === expected) process.send?.({ done: count } satisfies FromReceivers);
      });
    }),
  );
  for (const server of servers) server.keepAliveTimeout = 60_000;
  process.on('message', (message: ToReceivers) => {
    if ('sample' in message) return process.send?.({ sample } satisfies FromReceivers);
    count = 0;
    expected = message.expect;
  });
  process.once('disconnect', () => process.exit(0));
  Promise.all(servers.map((server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))))).then(
    (ports) => process.send?.({ ports } satisfies FromReceivers),
  );
}

if (process.env.SUBSCRIPTIONS_BENCH_ROLE === 'receivers') receivers();

class ReceiverProcess {
  private waiting?: (message: FromReceivers) => void;

  private constructor(
    private readonly child: ChildProcess,
    readonly ports: number[],
  ) {
    child.on('message', (message: FromReceivers) => this.waiting?.(message));
  }

  static start(): Promise<ReceiverProcess> {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, SUBSCRIPTIONS_BENCH_ROLE: 'receivers' }, stdio: 'inherit' });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('message', (message: FromReceivers) => resolve(new ReceiverProcess(child, (message as { ports: number[] }).ports)));
    });
  }

  endpoint(i: number): string {
    return `http://127.0.0.1:${this.ports[i % RECEIVERS]}/subscriber/${i}`;
  }

  /** Resolves when `count` more notifications have arrived. */
  expect(count: number): Promise<void> {
    return this.ask({ expect: count }, (message) => 'done' in message).then(() => undefined);
  }

  async sample(): Promise<string> {
    return ((await this.ask({ sample: true }, (message) => 'sample' in message)) as { sample: string }).sample;
  }

  stop(): void {
    this.child.disconnect();
  }

  private ask(message: ToReceivers, answered: (message: FromReceivers) => boolean): Promise<FromReceivers> {
    return new Promise((resolve) => {
      this.waiting = (reply) => {
        if (answered(reply)) resolve(reply);
      };
      this.child.send(message);
    });
  }
}

// ---- the gateway and its callers --------------------------------------------------------------------------------

interface Keys {
  zcc: JWK;
  ehr: SigningKey;
  provider: SigningKey;
}

async function gatewayFor(dataDir: string, keys: Keys): Promise<Gateway> {
  const config = parseConfig({
    mode: 'development',
    port: 0,
    publicBaseUrl: 'http://127.0.0.1:0',
    dataDir,
    organizations: [{ ...ZCC, name: 'ZCC Bench', roles: ['coordination-point'], keys: [{ jwk: keys.zcc }], ehrClients: [{ clientId: EHR, jwks: { keys: [keys.ehr.publicJwk] } }] }],
    trusted: [{ ...PROVIDER, jwks: { keys: [keys.provider.publicJwk] } }],
  });
  return startGateway(config, { logger: createLogger('silent') });
}

async function signed(key: SigningKey, issuer: string, subject: string, audience: string, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 5)
    .setJti(randomUUID())
    .sign(key.key);
}

async function token(gateway: Gateway, form: Record<string, string>): Promise<string> {
  const response = await fetch(`${gateway.url}/oauth2/token`, { method: 'POST', body: new URLSearchParams(form) });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`subscriptions bench: token refused: ${JSON.stringify(body)}`);
  return body.access_token;
}

async function call(gateway: Gateway, bearer: string, method: string, pathname: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function subscription(endpoint: string) {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'bench',
    criteria: CAPACITY_CHANGED_TOPIC,
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json', _payload: { extension: [{ url: PAYLOAD_CONTENT_EXTENSION, valueCode: 'full-resource' }] } },
  };
}

let change = 0;
/** A provider report with a count the board has not seen, as the provider's gateway builds it. */
function nextReport() {
  change += 1;
  const now = new Date();
  const identity = { identifier: { system: URA_SYSTEM, value: PROVIDER.ura }, name: PROVIDER.name };
  const report = availabilityReport(identity, { measuredAt: new Date(now.getTime() - 1000).toISOString(), groups: [{ careType: 'elv-hoog', available: change }] }, now.toISOString());
  const organization = { resourceType: 'Organization', extension: [{ url: ZORGREGIO_EXTENSION, valueId: 'rijnmond' }], identifier: [identity.identifier], name: PROVIDER.name };
  return buildAvailabilityPayload({ organization, endpoints: [], report });
}

// ---- the baseline: a bare loop of POSTs -------------------------------------------------------------------------

async function bareLoop(target: ReceiverProcess, body: string, notifications: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: PER_ENDPOINT });
  let next = 0;
  const post = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(target.endpoint(i % SUBSCRIBERS), { method: 'POST', agent, headers: { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body) } }, (response) => {
        response.resume();
        response.once('end', resolve);
      });
      request.once('error', reject);
      request.end(body);
    });
  const worker = async () => {
    while (next < notifications) await post(next++);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: PER_ENDPOINT * RECEIVERS }, worker));
  const elapsed = performance.now() - started;
  agent.destroy();
  return elapsed;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export async function run(): Promise<Figure[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'subscriptions-bench-'));
  const target = await ReceiverProcess.start();
  const keys: Keys = {
    zcc: await generatePrivateJwk(),
    ehr: await importSigningKey(EHR, await generatePrivateJwk()),
    provider: await importSigningKey(PROVIDER.id, await generatePrivateJwk()),
  };
  const gateway = await gatewayFor(dataDir, keys);
  try {
    const tokenUrl = `${gateway.config.publicBaseUrl}/oauth2/token`;
    const ehr = await token(gateway, {
      grant_type: CLIENT_CREDENTIALS_GRANT,
      client_assertion_type: JWT_BEARER_CLIENT_ASSERTION,
      client_assertion: await signed(keys.ehr, EHR, EHR, tokenUrl),
    });
    const provider = await token(gateway, {
      grant_type: JWT_BEARER_GRANT,
      assertion: await signed(keys.provider, PROVIDER.id, ZCC.id, tokenUrl, { purposeOfUse: 'capacity-publication', vcs: [] }),
    });
    const publish = async () => {
      const answer = await call(gateway, provider, 'POST', '/fhir/MeasureReport', nextReport());
      if (answer.status >= 300) throw new Error(`subscriptions bench: publication answered ${answer.status}`);
    };

    const handshakes = target.expect(SUBSCRIBERS);
    for (let start = 0; start < SUBSCRIBERS; start += 250) {
      const entry = Array.from({ length: 250 }, (_, i) => ({ resource: subscription(target.endpoint(start + i)), request: { method: 'POST', url: 'Subscription' } }));
      const answer = await call(gateway, ehr, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry });
      if (answer.status !== 200) throw new Error(`subscriptions bench: creating subscriptions answered ${answer.status}`);
    }
    await handshakes;
    for (;;) {
      const { body } = await call(gateway, ehr, 'GET', '/fhir/Subscription/$status?status=active');
      if (body.total === SUBSCRIBERS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const warmUp = target.expect(SUBSCRIBERS);
    await publish();
    await warmUp;
    const body = await target.sample();

    // Alternating rounds, so drift in the shared machine's load hits both sides alike.
    const fanOut: number[] = [];
    const fanOutBaseline: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const delivered = target.expect(SUBSCRIBERS);
      const started = performance.now();
      await publish();
      await delivered;
      fanOut.push(performance.now() - started);
      const bare = target.expect(SUBSCRIBERS);
      fanOutBaseline.push(await bareLoop(target, body, SUBSCRIBERS));
      await bare;
    }

    const total = SUBSCRIBERS * SUSTAINED_CHANGES;
    const sustained = target.expect(total);
    const started = performance.now();
    for (let i = 0; i < SUSTAINED_CHANGES; i += 1) await publish();
    await sustained;
    const sustainedRate = total / ((performance.now() - started) / 1000);
    const bare = target.expect(total);
    const bareRate = total / ((await bareLoop(target, body, total)) / 1000);
    await bare;

    const latency = median(fanOut);
    return [
      {
        name: 'subscriptions.change_to_1000_delivered_ms',
        value: Math.round(latency),
        unit: 'ms',
        baseline: Math.round(median(fanOutBaseline)),
        baselineName: `bare loop: ${SUBSCRIBERS} HTTP POSTs of the same notification body to the same receivers, ${PER_ENDPOINT} per endpoint at once`,
        target: '<= 2000 ms',
        met: latency <= 2000,
        rounds_ms: fanOut.map(Math.round),
        baseline_rounds_ms: fanOutBaseline.map(Math.round),
        notification_bytes: Buffer.byteLength(body),
      },
      {
        name: 'subscriptions.sustained_notifications_per_s',
        value: Math.round(sustainedRate),
        unit: 'notifications/s',
        baseline: Math.round(bareRate),
        baselineName: `bare loop: ${total} HTTP POSTs of the same body, ${PER_ENDPOINT} per endpoint at once`,
        target: '>= 5000 notifications/s',
        met: sustainedRate >= 5000,
        notifications: total,
        changes: SUSTAINED_CHANGES,
        ratio: Number((sustainedRate / bareRate).toFixed(3)),
      },
    ];
  } finally {
    await gateway.close();
    target.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { publication } from '../../test/subscriptions/support.js';
import { ehrToken, fhirCall } from '../../test/harness/calls.js';
import { eventually } from '../../test/harness/eventually.js';
import { freePort, startProcess } from '../../test/harness/gateways.js';
import { hostedOrganization, party, signed, trustedOrganization, type Party } from '../../test/harness/parties.js';
import type { Figure } from '../bench/index.js';
import { subscribeAll, subscribers } from './delivery.js';
import { killHard, machineLoad } from './processes.js';

/**
 * DESIGN §8 faults: two instances on one PostgreSQL → 0 lost. Two processes of one coordination point's gateway share
 * a PostgreSQL schema behind one public URL. SUBSCRIBERS topic subscriptions; PROVIDERS providers publish CHANGES
 * changes each, alternating between the instances and all at once, so both instances queue notifications in the one
 * outbox and both dispatchers claim from it (FOR UPDATE SKIP LOCKED, woken by LISTEN/NOTIFY). When a third has
 * arrived, instance B is killed with SIGKILL; A takes over B's claims when their leases expire. Counted per
 * subscriber by event number: lost (never arrived) and duplicates (arrived twice: at-least-once, recognisable).
 */
const DATABASE_URL = process.env.EVIDENCE_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SUBSCRIBERS = Number(process.env.EVIDENCE_PG_SUBSCRIBERS ?? 100);
const PROVIDERS = 10;
const CHANGES = Number(process.env.EVIDENCE_PG_CHANGES ?? 10);
const DEADLINE_MS = 180_000;

async function postgresAnswers(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`drop schema if exists ${schema} cascade`);
  await client.end();
}

export async function postgresTwoInstances(): Promise<Figure[]> {
  const name = 'faults.postgres-two-instances.lost';
  if (!(await postgresAnswers())) return [{ name, value: NaN, unit: 'notifications', baseline: null, target: '0 lost', skipped: `no PostgreSQL at ${DATABASE_URL}` }];
  const schema = `evidence_${process.pid}_${Date.now().toString(36)}`;
  const [zcc, ...providers] = await Promise.all([
    party('zcc', 'ZCC Rijnmond', '44444444'),
    ...Array.from({ length: PROVIDERS }, (_, i) => party(`vvt-${i + 1}`, `Zorgaanbieder ${i + 1}`, String(22222222 + i))),
  ]);
  const target = await subscribers(SUBSCRIBERS);
  const ports = [await freePort(), await freePort()];
  const publicBaseUrl = `http://127.0.0.1:${ports[0]}`;
  const sites = ports.map((port) => ({ url: `http://127.0.0.1:${port}`, port, dataDir: mkdtempSync(path.join(tmpdir(), 'evidence-pg-')) }));
  const children: ChildProcess[] = [];
  try {
    for (const site of sites) {
      writeFileSync(
        path.join(site.dataDir, 'config.json'),
        JSON.stringify({
          mode: 'development',
          port: site.port,
          publicBaseUrl,
          dataDir: site.dataDir,
          databaseUrl: DATABASE_URL,
          databaseSchema: schema,
          organizations: [await hostedOrganization(zcc, ['coordination-point'])],
          trusted: await Promise.all(providers.map((provider) => trustedOrganization(provider))),
          subscriptions: { deliveryTimeoutMs: 1000, retryBaseMs: 50 },
        }),
      );
    }
    children.push(...(await Promise.all(sites.map((site) => startProcess(site)))));
    const [a, b] = sites;
    await subscribeAll(a.url, await ehrToken(a.url, zcc), target);
    const handshakes = target.requests();
    for (const receiver of target.receivers) receiver.delayMs = 10;

    const publish = async (url: string, provider: Party, available: number) => {
      const assertion = await signed(provider.id, provider.jwk, { purposeOfUse: 'capacity-publication', vcs: [] }, `${publicBaseUrl}/oauth2/token`, zcc.id);
      const grant = await fetch(`${url}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }) });
      const { access_token: token } = (await grant.json()) as { access_token: string };
      const answer = await fhirCall(url, token, 'POST', '/fhir/MeasureReport', publication(provider, 'rijnmond', [['elv-hoog', available]]));
      if (answer.status >= 300) throw new Error(`publication at ${url} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
    };
    const loadStarted = Date.now();
    await Promise.all(
      providers.map(async (provider, p) => {
        for (let change = 1; change <= CHANGES; change += 1) await publish((change + p) % 2 === 0 ? a.url : b.url, provider, change);
      }),
    );
    const publishMs = Date.now() - loadStarted;
    const total = SUBSCRIBERS * PROVIDERS * CHANGES;
    await eventually('a third delivered', async () => (target.requests() - handshakes >= total / 3 ? true : undefined), 120_000);
    await killHard(children[1]);
    const deliveredAtKill = target.requests() - handshakes;
    await eventually('every event at every subscriber', async () => (target.tally(PROVIDERS * CHANGES).lost === 0 ? true : undefined), DEADLINE_MS).catch(() => undefined);
    const { lost, duplicates, outOfOrder, missingNumbers } = target.tally(PROVIDERS * CHANGES);
    return [
      {
        name,
        value: lost,
        unit: 'notifications',
        baseline: null,
        target: '0 lost; duplicates only from deliveries in flight at the kill, recognisable by event number (DESIGN §8)',
        deliveries: total,
        duplicates,
        subscribersSeeingEventsOutOfOrder: outOfOrder,
        missingEventNumbers: missingNumbers.slice(0, 20),
        publications: PROVIDERS * CHANGES,
        publicationsPerSecond: Math.round((PROVIDERS * CHANGES) / (publishMs / 1000)),
        instanceBKilledAfter: deliveredAtKill,
        allDeliveredAfterMs: Date.now() - loadStarted,
        subscribers: SUBSCRIBERS,
        ...machineLoad(),
      },
    ];
  } finally {
    await Promise.all(children.map(killHard));
    await target.close();
    for (const site of sites) rmSync(site.dataDir, { recursive: true, force: true });
    await dropSchema(schema).catch(() => undefined);
  }
}

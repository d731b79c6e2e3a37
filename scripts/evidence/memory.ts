import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_LIMITS, type Limits } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { publication } from '../../test/subscriptions/support.js';
import { ehrToken, organizationToken } from '../../test/harness/calls.js';
import { newSite, startProcess } from '../../test/harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../../test/harness/parties.js';
import type { Figure } from '../bench/index.js';
import { buildGateway, compiledGateway, killHard, machineLoad, removeBuild, residentMb } from './processes.js';

/**
 * Issue #12 "Done when": under a 256 MB heap bound, 50 concurrent worst-case requests leave the gateway alive and
 * answering `/healthz` within 1 s throughout.
 *
 * A coordination point's gateway runs compiled, as its own process, as the Docker image runs it (heap bound 256 MB,
 * production mode, SQLite, default limits). Its EHR first stores SEED_PATIENTS Patients of about 20 kB and a trusted
 * provider publishes its availability, so that searches have something to gather. Then ROUNDS times CONCURRENCY
 * requests go at once, the four worst cases the limits allow in turn:
 * - the EHR's largest batch of searches: `limits.bundleEntries` entries of `GET Patient?_count=<limits.searchCount>`;
 * - the EHR's largest resource: a Patient of nearly `limits.resourceBytes` with nearly `limits.resourceElements` values;
 * - a remote organisation's (purpose capacity-subscription) largest batch of `GET MeasureReport?_count=...`;
 * - a remote organisation's (purpose capacity-publication) largest MeasureReport.
 * Throughout, `/healthz` is asked every POLL_MS on a connection of its own (each poll waits at most HEALTHZ_TIMEOUT_MS)
 * and the process's resident memory is read. Reported: the slowest `/healthz`, the polls that failed, peak RSS, the
 * statuses per kind of request (0: no answer), and whether the process survived (if not, how it exited).
 */
const ROUNDS = Number(process.env.EVIDENCE_MEMORY_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.EVIDENCE_MEMORY_CONCURRENCY ?? 50);
const SEED_PATIENTS = Number(process.env.EVIDENCE_MEMORY_PATIENTS ?? 500);
const HEAP_BOUND_MB = 256;
const POLL_MS = 100;
const HEALTHZ_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 300_000;
const TARGET_MS = 1_000;
/** The gateway's limits: the defaults, with what EVIDENCE_MEMORY_LIMITS (JSON, e.g. `{"inFlightBytes":8388608}`) changes. */
const LIMITS: Limits = { ...DEFAULT_LIMITS, ...(JSON.parse(process.env.EVIDENCE_MEMORY_LIMITS ?? '{}') as Partial<Limits>) };
const EXIT_WAIT_MS = 30_000;

type Kind = 'ehr-batch' | 'ehr-resource' | 'remote-batch' | 'remote-resource';
/** The kinds sent, in turn (EVIDENCE_MEMORY_KINDS, comma-separated, narrows them down to see which one costs what). */
const KINDS = (process.env.EVIDENCE_MEMORY_KINDS?.split(',') ?? ['ehr-batch', 'ehr-resource', 'remote-batch', 'remote-resource']) as Kind[];

interface Callers {
  ehr: string;
  subscriber: string;
  publisher: string;
}

/** A batch of the most searches a Bundle may hold, each asking for the largest page. */
function searchBatch(search: string): Resource {
  const request = { method: 'GET', url: `${search}?_count=${LIMITS.searchCount}` };
  return { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: LIMITS.bundleEntries }, () => ({ request })) };
}

/**
 * `base` with `field` an array of `{ [key]: "xxx…" }`, as many as the element limit allows (two values each) and
 * the strings as long as the size limit then allows.
 */
function largest(base: Resource, field: string, key: string): Resource {
  const entries = Math.floor((LIMITS.resourceElements - 100) / 2);
  const entryBytes = Math.floor((LIMITS.resourceBytes - 4096) / entries);
  const text = 'x'.repeat(Math.max(1, entryBytes - `{"${key}":""},`.length));
  return { ...base, [field]: Array.from({ length: entries }, () => ({ [key]: text })) };
}

const largestPatient = () => largest({ resourceType: 'Patient', active: true }, 'name', 'family');

function largestMeasureReport(provider: Party): Resource {
  return largest(publication(provider, 'rijnmond', [['elv-hoog', 3]]), 'evaluatedResource', 'display');
}

/** A Patient of about 20 kB: searches of the seeded store gather pages of real weight. */
const seedPatient = (i: number): Resource => ({
  resourceType: 'Patient',
  identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: String(100_000_000 + i) }],
  name: Array.from({ length: 100 }, (_, n) => ({ family: `Achternaam-${i}-${n}`, given: [`Voornaam${n}`.padEnd(150, 'a')] })),
});

/** The body of each kind, serialised once: the largest resource takes a while to stringify. */
function bodies(provider: Party): Record<Kind, { path: string; body: string; caller: keyof Callers }> {
  return {
    'ehr-batch': { path: '/fhir', body: JSON.stringify(searchBatch('Patient')), caller: 'ehr' },
    'ehr-resource': { path: '/fhir/Patient', body: JSON.stringify(largestPatient()), caller: 'ehr' },
    'remote-batch': { path: '/fhir', body: JSON.stringify(searchBatch('MeasureReport')), caller: 'subscriber' },
    'remote-resource': { path: '/fhir/MeasureReport', body: JSON.stringify(largestMeasureReport(provider)), caller: 'publisher' },
  };
}

async function post(url: string, token: string, body: string): Promise<number> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Whether the gateway still answers /healthz; if it does not, waits for it to exit (an OOM abort takes a while). */
async function survived(url: string, gateway: ChildProcess): Promise<boolean> {
  const answers = running(gateway) && (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) }).then((r) => r.ok, () => false));
  if (answers || !running(gateway)) return answers;
  await Promise.race([new Promise((resolve) => gateway.once('exit', resolve)), new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS))]);
  return false;
}

/** Polls /healthz every POLL_MS until stopped; the slowest answer (a failed poll counts as HEALTHZ_TIMEOUT_MS). */
function watch(url: string, gateway: ChildProcess) {
  const state = { polls: 0, failed: 0, slowestMs: 0, peakRssMb: 0, running: true };
  const done = (async () => {
    while (state.running) {
      const started = performance.now();
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) }).then(
        (response) => response.ok,
        () => false,
      );
      const ms = ok ? performance.now() - started : HEALTHZ_TIMEOUT_MS;
      state.polls += 1;
      if (!ok) state.failed += 1;
      state.slowestMs = Math.max(state.slowestMs, ms);
      const rss = running(gateway) ? residentMb(gateway.pid!) : NaN;
      if (Number.isFinite(rss)) state.peakRssMb = Math.max(state.peakRssMb, rss);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, POLL_MS - ms)));
    }
  })();
  return {
    state,
    async stop() {
      state.running = false;
      await done;
    },
  };
}

async function seed(url: string, callers: Callers, provider: Party): Promise<void> {
  for (let i = 0; i < SEED_PATIENTS; i += 1) {
    const status = await post(`${url}/fhir/Patient`, callers.ehr, JSON.stringify(seedPatient(i)));
    if (status !== 201) throw new Error(`seeding Patient ${i} answered ${status}`);
  }
  const status = await post(`${url}/fhir/MeasureReport`, callers.publisher, JSON.stringify(publication(provider, 'rijnmond', [['elv-hoog', 3]])));
  if (status >= 300) throw new Error(`seeding the provider's publication answered ${status}`);
}

async function tokens(url: string, zcc: Party, hospital: Party, provider: Party): Promise<Callers> {
  const grant = async (requester: Party, purpose: string) => {
    const answer = await organizationToken(url, requester, zcc.id, purpose, []);
    if (answer.status !== 200) throw new Error(`${purpose} token refused: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.access_token as string;
  };
  return { ehr: await ehrToken(url, zcc), subscriber: await grant(hospital, 'capacity-subscription'), publisher: await grant(provider, 'capacity-publication') };
}

export async function memoryUnderWorstCase(): Promise<Figure[]> {
  const [zcc, hospital, provider] = await Promise.all([
    party('zcc', 'Zorgcoördinatie Rijnmond', '55555555'),
    party('hospital', 'Ziekenhuis Rijnmond', '44444444'),
    party('provider', 'VVT Rijnmond', '33333333'),
  ]);
  const site = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'evidence-memory-');
  let gateway: ChildProcess | undefined;
  try {
    writeFileSync(
      path.join(site.dataDir, 'config.json'),
      JSON.stringify({
        mode: 'production',
        port: site.port,
        publicBaseUrl: site.url,
        dataDir: site.dataDir,
        limits: LIMITS,
        organizations: [await hostedOrganization(zcc, ['coordination-point'])],
        coordinationPoint: { organization: zcc.id },
        trusted: [await trustedOrganization(hospital), await trustedOrganization(provider)],
      }),
    );
    buildGateway();
    gateway = await startProcess(site, compiledGateway(HEAP_BOUND_MB));
    const callers = await tokens(site.url, zcc, hospital, provider);
    await seed(site.url, callers, provider);
    const requests = bodies(provider);
    const byKind = Object.fromEntries(KINDS.map((kind) => [kind, {} as Record<string, number>])) as Record<Kind, Record<string, number>>;
    const watcher = watch(site.url, gateway);
    const started = Date.now();
    for (let round = 0; round < ROUNDS; round += 1) {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, i) => {
          const kind = KINDS[i % KINDS.length]!;
          const { path: target, body, caller } = requests[kind];
          const status = await post(site.url + target, callers[caller], body);
          byKind[kind][status] = (byKind[kind][status] ?? 0) + 1;
        }),
      );
    }
    const durationMs = Date.now() - started;
    await watcher.stop();
    const { state } = watcher;
    const alive = await survived(site.url, gateway);
    const byStatus: Record<string, number> = {};
    for (const statuses of Object.values(byKind)) for (const [status, count] of Object.entries(statuses)) byStatus[status] = (byStatus[status] ?? 0) + count;
    const context = {
      survived: alive,
      exit: running(gateway) ? null : { code: gateway.exitCode, signal: gateway.signalCode },
      rounds: ROUNDS,
      concurrentRequests: CONCURRENCY,
      requests: ROUNDS * CONCURRENCY,
      seededPatients: SEED_PATIENTS,
      byStatus,
      byKind,
      requestBytes: Object.fromEntries(KINDS.map((kind) => [kind, Buffer.byteLength(requests[kind].body)])),
      durationMs,
      limits: LIMITS,
      heapBoundMb: HEAP_BOUND_MB,
      ...machineLoad(),
    };
    return [
      {
        name: 'memory.worst-case.healthz.max',
        value: Math.round(state.slowestMs),
        unit: 'ms',
        baseline: null,
        target: `under a ${HEAP_BOUND_MB} MB heap bound, ${CONCURRENCY} concurrent worst-case requests leave the gateway alive and answering /healthz within ${TARGET_MS} ms throughout (issue #12)`,
        met: context.survived && state.failed === 0 && state.slowestMs <= TARGET_MS,
        healthzPolls: state.polls,
        healthzFailed: state.failed,
        peakRssMb: state.peakRssMb,
        ...context,
      },
      {
        name: 'memory.worst-case.peak-rss',
        value: state.peakRssMb,
        unit: 'MB',
        baseline: null,
        note: `resident memory of the gateway process, read every ${POLL_MS} ms during the rounds`,
        survived: context.survived,
        ...machineLoad(),
      },
    ];
  } finally {
    await killHard(gateway);
    removeBuild();
    rmSync(site.dataDir, { recursive: true, force: true });
  }
}

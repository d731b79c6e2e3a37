/**
 * FHIR REST over HTTP (DESIGN §8: authorized FHIR read >= 0.5 x a bare express JSON endpoint, p99 <= 10 ms; create
 * measured beside the same baseline).
 *
 * The servers run in a child process (this file, started with REST_BENCH_ROLE=server) so autocannon here does not
 * share their event loop: a real gateway (startGateway on SQLite, validators, auth, audit; development keys in a
 * temporary folder) and, on another port, a bare express app that answers the same Patient as constant JSON
 * (GET) and parses a JSON body and echoes it (POST). Requests carry a real EHR access token from the gateway's
 * token endpoint (client credentials); tokens live 60 s, so every round asks the child for a fresh one.
 *
 * Reads are measured twice: a Task (the eOverdracht hot path; Task is in the R4 patient compartment, so every read
 * also writes an AuditEvent, as in production) and an Organization (directory data, not audited), which shows the
 * REST layer's own cost.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import express from 'express';
import { startTestGateway, type TestGateway } from '../../test/harness/gateways.js';
import type { Figure } from './index.js';

const SECONDS_PER_ROUND = Number(process.env.BENCH_REST_SECONDS ?? 3);
const ROUNDS = 3;
const CONNECTIONS = 8;
const TENANT = 'bench-vvt';

/** A Task read back as patient data; not coded as an eOverdracht transfer, whose POST would start one (docs/transfer.md). */
const TASK = {
  resourceType: 'Task',
  status: 'requested',
  intent: 'order',
  code: { coding: [{ system: 'http://snomed.info/sct', code: '385644000', display: 'Verpleegkundige zorg' }] },
  for: { reference: 'Patient/p1' },
  owner: { reference: 'Organization/vvt', display: 'VVT Zuid' },
  authoredOn: '2025-01-06T10:00:00+01:00',
};

const ORGANIZATION = {
  resourceType: 'Organization',
  identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/ura', value: '00000001' }],
  name: 'VVT Zuid',
  telecom: [{ system: 'phone', value: '010-1234567' }],
  address: [{ line: ['Dorpsstraat 1'], city: 'Rotterdam', postalCode: '3011AA', country: 'NL' }],
};

const PATIENT = {
  resourceType: 'Patient',
  identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }],
  name: [{ family: 'Jansen', given: ['Anna'] }],
  gender: 'female',
  birthDate: '1940-02-03',
  address: [{ line: ['Dorpsstraat 1'], city: 'Rotterdam', postalCode: '3011AA', country: 'NL' }],
};

interface Ready {
  gateway: string;
  baseline: string;
  /** Read paths, the same on both servers: `/fhir/Task/<id>`, `/fhir/Organization/<id>`. */
  task: string;
  organization: string;
}

type Message = { type: 'token' } | { type: 'ready'; ready: Ready } | { type: 'token'; token: string };

/** Child process: the gateway with a stored Task and Organization, and the bare express baseline serving the same. */
async function serve(): Promise<{ gateway: TestGateway; ready: Ready }> {
  const gateway = await startTestGateway([TENANT]);
  const token = await gateway.token(TENANT);
  const store = async (resource: object) => {
    const created = await fetch(`${gateway.url}/fhir/${(resource as { resourceType: string }).resourceType}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    });
    if (created.status !== 201) throw new Error(`REST bench: seeding answered ${created.status}: ${await created.text()}`);
    return (await created.json()) as { resourceType: string; id: string };
  };
  const stored = [await store(TASK), await store(ORGANIZATION)];
  const baselineApp = express();
  for (const resource of stored) {
    const body = JSON.stringify(resource);
    baselineApp.get(`/fhir/${resource.resourceType}/${resource.id}`, (_req, res) => {
      res.type('application/fhir+json').send(body);
    });
  }
  baselineApp.post('/fhir/Patient', express.json({ type: () => true }), (req, res) => {
    res.status(201).type('application/fhir+json').send(JSON.stringify({ ...req.body, id: 'x' }));
  });
  const baseline = await new Promise<Server>((resolve) => {
    const server = baselineApp.listen(0, '127.0.0.1', () => resolve(server));
  });
  const [task, organization] = stored.map((resource) => `/fhir/${resource.resourceType}/${resource.id}`);
  return { gateway, ready: { gateway: gateway.url, baseline: `http://127.0.0.1:${(baseline.address() as AddressInfo).port}`, task, organization } };
}

if (process.env.REST_BENCH_ROLE === 'server') {
  serve().then(({ gateway, ready }) => {
    process.on('message', (message: Message) => {
      if (message.type === 'token') gateway.token(TENANT).then((token) => process.send?.({ type: 'token', token }));
    });
    process.once('disconnect', () => gateway.close().then(() => process.exit(0)));
    process.send?.({ type: 'ready', ready });
  });
}

class Servers {
  private constructor(
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {}

  static start(): Promise<Servers> {
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, REST_BENCH_ROLE: 'server' }, stdio: 'inherit' });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`REST bench server exited with ${code}`)));
      child.once('message', (message: Message) => {
        if (message.type === 'ready') resolve(new Servers(child, message.ready));
      });
    });
  }

  token(): Promise<string> {
    return new Promise((resolve) => {
      this.child.once('message', (message: Message) => {
        if (message.type === 'token' && 'token' in message) resolve(message.token);
      });
      this.child.send({ type: 'token' });
    });
  }

  stop(): void {
    this.child.disconnect();
  }
}

interface Run {
  requests: number;
  seconds: number;
  failed: number;
  p99Ms: number;
}

async function load(url: string, options: { method: 'GET' | 'POST'; token?: string; body?: string }): Promise<Run> {
  const headers: Record<string, string> = { 'content-type': 'application/fhir+json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const result = await autocannon({ url, method: options.method, headers, body: options.body, connections: CONNECTIONS, duration: SECONDS_PER_ROUND });
  return { requests: result.requests.total, seconds: result.duration, failed: result.non2xx + result.errors, p99Ms: result.latency.p99 };
}

const rate = (runs: Run[]) => runs.reduce((sum, run) => sum + run.requests, 0) / runs.reduce((sum, run) => sum + run.seconds, 0);
const worstP99 = (runs: Run[]) => Math.max(...runs.map((run) => run.p99Ms));
/** Each round beside the baseline round run just before it: the spread shows how much the shared machine drifted. */
const roundRatios = (runs: { measured: Run[]; baseline: Run[] }) =>
  runs.measured.map((run, round) => Number((rate([run]) / rate([runs.baseline[round]!])).toFixed(3)));

/** Alternating rounds, so drift in the shared machine's load hits both sides alike. */
async function compare(servers: Servers, measured: (token: string) => Promise<Run>, baseline: () => Promise<Run>) {
  const runs = { measured: [] as Run[], baseline: [] as Run[] };
  for (let round = 0; round < ROUNDS; round += 1) {
    runs.baseline.push(await baseline());
    runs.measured.push(await measured(await servers.token()));
  }
  const failed = runs.measured.reduce((sum, run) => sum + run.failed, 0);
  if (failed > 0) throw new Error(`REST bench: ${failed} gateway requests failed`);
  return runs;
}

const BASELINE_READ = 'bare express GET answering the same resource as constant JSON';

function readFigures(name: string, runs: { measured: Run[]; baseline: Run[] }, detail: string): Figure[] {
  const ratio = rate(runs.measured) / rate(runs.baseline);
  const common = { connections: CONNECTIONS, seconds: SECONDS_PER_ROUND * ROUNDS, detail };
  return [
    {
      name: `${name}.requests_per_s`,
      value: Math.round(rate(runs.measured)),
      unit: 'requests/s',
      baseline: Math.round(rate(runs.baseline)),
      baselineName: BASELINE_READ,
      ratio: Number(ratio.toFixed(3)),
      target: 'ratio >= 0.5',
      met: ratio >= 0.5,
      round_ratios: roundRatios(runs),
      ...common,
    },
    {
      name: `${name}.p99_ms`,
      value: worstP99(runs.measured),
      unit: 'ms',
      baseline: worstP99(runs.baseline),
      baselineName: BASELINE_READ,
      target: '<= 10',
      met: worstP99(runs.measured) <= 10,
      ...common,
    },
  ];
}

export async function run(): Promise<Figure[]> {
  const servers = await Servers.start();
  try {
    const { gateway, baseline, task, organization } = servers.ready;
    const read = (path: string) => (token: string) => load(gateway + path, { method: 'GET', token });
    const readBaseline = (path: string) => () => load(baseline + path, { method: 'GET' });
    const body = JSON.stringify(PATIENT);
    await read(task)(await servers.token());
    await readBaseline(task)();

    const taskReads = await compare(servers, read(task), readBaseline(task));
    const organizationReads = await compare(servers, read(organization), readBaseline(organization));
    const creates = await compare(
      servers,
      (token) => load(`${gateway}/fhir/Patient`, { method: 'POST', token, body }),
      () => load(`${baseline}/fhir/Patient`, { method: 'POST', body }),
    );
    return [
      ...readFigures('fhir_read', taskReads, 'authorized EHR read of an eOverdracht Task on /fhir: token check, tenant scope, SQLite read, AuditEvent write'),
      ...readFigures('fhir_read_unaudited', organizationReads, 'authorized EHR read of an Organization (directory data, no AuditEvent)'),
      {
        name: 'fhir_create.requests_per_s',
        value: Math.round(rate(creates.measured)),
        unit: 'requests/s',
        baseline: Math.round(rate(creates.baseline)),
        baselineName: 'bare express POST parsing the same JSON body and echoing it',
        ratio: Number((rate(creates.measured) / rate(creates.baseline)).toFixed(3)),
        round_ratios: roundRatios(creates),
        p99_ms: worstP99(creates.measured),
        baseline_p99_ms: worstP99(creates.baseline),
        detail: 'authorized EHR create of a Patient on /fhir: safe JSON parse, validation, SQLite write with search index, AuditEvent',
        connections: CONNECTIONS,
        seconds: SECONDS_PER_ROUND * ROUNDS,
      },
    ];
  } finally {
    servers.stop();
  }
}

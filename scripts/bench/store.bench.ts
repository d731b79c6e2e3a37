/**
 * Store figures on SQLite (the embedded default), each beside a raw better-sqlite3 baseline in the same run:
 * - create throughput: eOverdracht Tasks through `store.resources.create` (version, history, search index) against
 *   inserting the same JSON into a one-column table;
 * - Task owner+status search p95 over TASKS stored Tasks, against the same query on a hand-made table with an
 *   (owner, status) index;
 * - the store part of a transfer intake (25 resources and an outbox message in one transaction) p50, against
 *   inserting the same 25 JSON documents in one raw transaction;
 * - resident memory after the run.
 * `BENCH_STORE_TASKS` sets the number of Tasks (default 100,000, which keeps the run near a minute). The DESIGN target
 * speaks of 1 M stored resources; at about 25 resources per transfer that is some 40,000 Tasks, so 100,000 Tasks
 * over 200 receiving organisations (500 each) is the denser case. `BENCH_STORE_TASKS=1000000` loads for ~10 minutes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { parseSearchRequest } from '../../src/fhir/search/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { openStore } from '../../src/store/index.js';
import type { Scope, Store } from '../../src/store/repository.js';
import type { Figure } from './index.js';
import { percentile, round } from './stats.js';

const TASKS = Number(process.env.BENCH_STORE_TASKS ?? 100_000);
const TIMED_CREATES = 3_000;
const LOAD_BATCH = 1_000;
const SEARCHES = 2_000;
const INTAKES = 200;
const OWNERS = 200;
const STATUSES = ['requested', 'received', 'accepted', 'rejected', 'on-hold', 'in-progress', 'completed', 'cancelled'];
const SCOPE: Scope = { tenant: 'hospital-rotterdam', version: 'stu3' };

/** A small deterministic generator, so every run stores the same data. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/** The i-th Task of the data set: the same every run, generated when needed rather than held in memory. */
function eOverdrachtTask(i: number): Resource {
  const next = random(i + 1);
  const authored = new Date(Date.UTC(2025, 0, 1) + Math.floor(next() * 300) * 86_400_000).toISOString();
  return {
    resourceType: 'Task',
    meta: { profile: ['http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task'] },
    identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.3.11.999.7.6', value: `transfer-${i}` }],
    status: STATUSES[Math.floor(next() * STATUSES.length)],
    intent: 'order',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '308292007', display: 'Overdracht van zorg' }] },
    for: { reference: `Patient/patient-${i % 40_000}` },
    authoredOn: authored,
    lastModified: authored,
    requester: { agent: { reference: 'Organization/hospital-rotterdam' } },
    owner: { reference: `Organization/vvt-${Math.floor(next() * OWNERS)}` },
    input: [
      {
        type: { coding: [{ system: 'http://snomed.info/sct', code: '721915006', display: 'Aanmelding' }] },
        valueReference: { reference: `Composition/advance-notice-${i}` },
      },
    ],
  };
}

async function timed(work: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function createThroughput(store: Store, raw: BetterSqlite3.Database): Promise<Figure> {
  const storeMs = await timed(async () => {
    for (let i = 0; i < TIMED_CREATES; i += 1) await store.resources.create(SCOPE, eOverdrachtTask(i));
  });
  const insert = raw.prepare('insert into raw_resources (content) values (?)');
  const rawMs = await timed(() => {
    for (let i = 0; i < TIMED_CREATES; i += 1) insert.run(JSON.stringify(eOverdrachtTask(i)));
  });
  return {
    name: 'store.create.throughput',
    value: round(TIMED_CREATES / (storeMs / 1000), 0),
    unit: 'resources/s',
    baseline: round(TIMED_CREATES / (rawMs / 1000), 0),
    baselineName: 'better-sqlite3 insert of the same JSON into a one-column table, one commit each',
    samples: TIMED_CREATES,
  };
}

async function loadRest(store: Store, raw: BetterSqlite3.Database): Promise<void> {
  for (let start = TIMED_CREATES; start < TASKS; start += LOAD_BATCH) {
    await store.transaction(async (tx) => {
      for (let i = start; i < Math.min(TASKS, start + LOAD_BATCH); i += 1) await tx.resources.create(SCOPE, eOverdrachtTask(i));
    });
  }
  const insert = raw.prepare('insert into raw_tasks (owner, status, content) values (?, ?, ?)');
  raw.transaction(() => {
    for (let i = 0; i < TASKS; i += 1) {
      const task = eOverdrachtTask(i);
      insert.run((task.owner as { reference: string }).reference, task.status, JSON.stringify(task));
    }
  })();
}

async function ownerStatusSearch(store: Store, raw: BetterSqlite3.Database): Promise<Figure> {
  const next = random(7);
  const queries = Array.from({ length: SEARCHES }, () => ({
    owner: `Organization/vvt-${Math.floor(next() * OWNERS)}`,
    status: STATUSES[Math.floor(next() * 3)],
  }));
  const storeSamples: number[] = [];
  for (const query of queries) {
    storeSamples.push(await timed(() => store.resources.search(SCOPE, parseSearchRequest('stu3', 'Task', query))));
  }
  const select = raw.prepare('select content from raw_tasks where owner = ? and status = ? order by id limit 21');
  const rawSamples = queries.map(({ owner, status }) => {
    const start = performance.now();
    select.all(owner, status).map((row) => JSON.parse((row as { content: string }).content) as unknown);
    return performance.now() - start;
  });
  return {
    name: 'store.search.task-owner-status.p95',
    value: round(percentile(storeSamples, 95)),
    unit: 'ms',
    baseline: round(percentile(rawSamples, 95)),
    baselineName: 'better-sqlite3 query on a dedicated (owner, status) table index, same rows',
    p50: round(percentile(storeSamples, 50)),
    storedTasks: TASKS,
    target: 'p95 <= 5 ms at 1 M resources',
  };
}

async function intake(store: Store, raw: BetterSqlite3.Database): Promise<Figure> {
  const batches = Array.from({ length: INTAKES }, (_, b) => Array.from({ length: 25 }, (_, i) => eOverdrachtTask(TASKS + b * 25 + i)));
  const storeSamples: number[] = [];
  for (const batch of batches) {
    storeSamples.push(
      await timed(() =>
        store.transaction(async (tx) => {
          for (const resource of batch) await tx.resources.create(SCOPE, resource);
          await tx.outbox.enqueue({ tenant: SCOPE.tenant, kind: 'transfer.notify', destination: 'vvt-1', payload: { task: 'Task/x' } });
        }),
      ),
    );
  }
  const insert = raw.prepare('insert into raw_resources (content) values (?)');
  const insertAll = raw.transaction((batch: Resource[]) => batch.forEach((resource) => insert.run(JSON.stringify(resource))));
  const rawSamples = batches.map((batch) => {
    const start = performance.now();
    insertAll(batch);
    return performance.now() - start;
  });
  return {
    name: 'store.intake.25-resources.p50',
    value: round(percentile(storeSamples, 50)),
    unit: 'ms',
    baseline: round(percentile(rawSamples, 50)),
    baselineName: 'better-sqlite3 insert of the same 25 JSON documents in one transaction',
    note: 'store part only (no validation): 25 creates + 1 outbox message in one transaction',
  };
}

export async function run(): Promise<Figure[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'store-bench-'));
  const store = await openStore({ dataDir: dir });
  const raw = new BetterSqlite3(path.join(dir, 'baseline.sqlite'));
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  raw.exec('create table raw_resources (id integer primary key, content text not null)');
  raw.exec('create table raw_tasks (id integer primary key, owner text, status text, content text not null)');
  raw.exec('create index raw_tasks_owner_status on raw_tasks (owner, status, id)');
  try {
    const figures = [await createThroughput(store, raw)];
    await loadRest(store, raw);
    figures.push(await ownerStatusSearch(store, raw));
    figures.push(await intake(store, raw));
    figures.push({ name: 'store.rss', value: round(process.memoryUsage().rss / 1_048_576, 0), unit: 'MB', baseline: null, storedTasks: TASKS });
    return figures;
  } finally {
    await store.close();
    raw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

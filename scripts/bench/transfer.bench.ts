/**
 * Transfer intake on SQLite, in-process (no HTTP), each figure beside a baseline in the same run:
 * - `$handoff` of the Nictiz patient 1.5 nursing handoff (the Composition and the 21 resources it references):
 *   validate against the eOverdracht profiles, store, record the receiver's Consents (the handoff's opened, the advance
 *   notice's closed), set the Task in-progress (both releases), enqueue the notification; p50 and transfers/s;
 * - `$offer` of the advance notice (8 resources) to one receiver: validate, store, create the Task, record its two
 *   Consents, enqueue the notification; p50.
 * Baseline: storing the same resources in one transaction, without validation, Consents or outbox.
 * Every round is a new patient's transfer: the examples get ids of their own (references follow), so nothing is
 * an unchanged re-write. Each timed handoff needs an accepted Task: an offer of the same patient's advance notice
 * and the receiver's acceptance are made before it, untimed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createAuth } from '../../src/auth/index.js';
import { importSigningKey } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { parseConfig } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import type { TransferContext } from '../../src/transfer/context.js';
import { keyOf } from '../../src/transfer/references.js';
import { changeOutboundTask, handoff, offer } from '../../src/transfer/sender.js';
import { createValidator } from '../../src/validation/index.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  EOVERDRACHT,
  nictizExamples,
  NURSING_HANDOFF,
  renamed,
  transaction,
} from '../../test/transfer/support.js';
import type { Figure } from './index.js';
import { percentile } from './stats.js';
import { loadPersonPolicy } from '../../src/transfer/person-policy.js';
import { PURPOSE } from '../../src/transfer/purposes.js';

const WARM_UP = 20;
const ROUNDS = Number(process.env.BENCH_TRANSFER_ROUNDS ?? 200);
const TENANT = 'hospital';
const RECEIVER = 'vvt-1';

async function transferContext(store: Store, dataDir: string): Promise<TransferContext> {
  const receiverKey = await importSigningKey(RECEIVER, await generatePrivateJwk());
  const config = parseConfig({
    publicBaseUrl: 'https://hospital.example',
    dataDir,
    profiles: { folders: [path.join(EOVERDRACHT, 'profiles')] },
    organizations: [{ id: TENANT, name: 'Ziekenhuis', ura: '11111111', roles: ['sender'], keys: [{ jwk: await generatePrivateJwk() }] }],
    trusted: [
      {
        id: RECEIVER,
        name: 'VVT Een',
        ura: '22222222',
        jwks: { keys: [receiverKey.publicJwk] },
        endpoints: { notification: 'https://vvt.example/eoverdracht/notification/Task' },
      },
    ],
  });
  const auth = await createAuth(config, store);
  const [r4, stu3] = await Promise.all([createValidator({ version: 'r4' }), createValidator({ version: 'stu3', profileFolders: config.profiles.folders })]);
  return { store, registry: auth.registry, credentials: auth.credentials, personPolicy: loadPersonPolicy(PURPOSE.pull), validators: { r4, stu3 }, clock: Date.now };
}

const mean = (samples: number[]) => samples.reduce((sum, x) => sum + x, 0) / samples.length;

/**
 * Each call comes after a turn of the event loop, as each request does in the server. The store's SQLite calls are
 * synchronous: a loop of awaited calls alone never lets a timer run, so the deferred index's background rounds would
 * never run, its queue would fill, and from then on every write would index its own entries (the queue's overflow
 * rule, store/deferred-index.ts) — the baseline too. The rounds run in these turns, untimed, for both figures alike.
 */
async function timed(work: () => Promise<unknown>): Promise<number> {
  await nextTurn();
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** The baseline: the same resources written in one transaction, nothing else. */
async function storeOnly(store: Store, resources: Resource[]): Promise<void> {
  await store.transaction(async (tx) => {
    for (const resource of resources) await tx.resources.update({ tenant: 'baseline', version: 'stu3' }, resource);
  });
}

export async function run(): Promise<Figure[]> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'transfer-bench-'));
  const store = await openStore({ dataDir });
  try {
    const context = await transferContext(store, dataDir);
    const examples = nictizExamples();
    const advanceNotice = documentOf(examples, ADVANCE_NOTICE);
    const nursingHandoff = documentOf(examples, NURSING_HANDOFF);
    const offerOf = async (resources: Resource[]) =>
      (await offer(context, { tenant: TENANT, version: 'stu3', source: { bundle: transaction(resources) }, receivers: [RECEIVER] })).result[0];
    const accept = async (task: Resource) =>
      (await changeOutboundTask(context, { tenant: TENANT, version: 'stu3', taskId: task.id!, proposed: { ...task, status: 'accepted' }, by: { role: 'receiver', organization: RECEIVER } }))
        .result;
    const handOver = (task: Resource, resources: Resource[]) =>
      handoff(context, { tenant: TENANT, version: 'stu3', taskId: task.id!, source: { bundle: transaction(resources) } });

    const samples = { handoff: [] as number[], offer: [] as number[], handoffBaseline: [] as number[], offerBaseline: [] as number[] };
    for (let round = 0; round < WARM_UP + ROUNDS; round++) {
      const task = await accept(await offerOf(renamed(advanceNotice, `h${round}`)));
      const handoffMs = await timed(() => handOver(task, renamed(nursingHandoff, `h${round}`)));
      const offerMs = await timed(() => offerOf(renamed(advanceNotice, `o${round}`)));
      const handoffBaselineMs = await timed(() => storeOnly(store, renamed(nursingHandoff, `b${round}`)));
      const offerBaselineMs = await timed(() => storeOnly(store, renamed(advanceNotice, `c${round}`)));
      if (round < WARM_UP) continue;
      samples.handoff.push(handoffMs);
      samples.offer.push(offerMs);
      samples.handoffBaseline.push(handoffBaselineMs);
      samples.offerBaseline.push(offerBaselineMs);
    }
    const common = { rounds: ROUNDS, store: 'sqlite', baselineName: 'the same resources stored in one transaction, no validation/Consents/outbox' };
    return [
      { name: 'transfer intake: $handoff p50', value: percentile(samples.handoff, 50), unit: 'ms', baseline: percentile(samples.handoffBaseline, 50), target: '<= 10', resources: nursingHandoff.length, ...common },
      { name: 'transfer intake: $handoff throughput', value: 1000 / mean(samples.handoff), unit: 'transfers/s', baseline: 1000 / mean(samples.handoffBaseline), resources: nursingHandoff.length, ...common },
      { name: 'transfer intake: $offer p50', value: percentile(samples.offer, 50), unit: 'ms', baseline: percentile(samples.offerBaseline, 50), resources: advanceNotice.map(keyOf).length, receivers: 1, ...common },
    ];
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

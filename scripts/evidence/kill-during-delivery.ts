import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { publication } from '../../test/subscriptions/support.js';
import { ehrToken, fhirCall, organizationToken } from '../../test/harness/calls.js';
import { eventually } from '../../test/harness/eventually.js';
import { newSite, startProcess } from '../../test/harness/gateways.js';
import { hostedOrganization, party, trustedOrganization } from '../../test/harness/parties.js';
import type { Figure } from '../bench/index.js';
import { subscribeAll, subscribers } from './delivery.js';
import { killHard, machineLoad } from './processes.js';

/**
 * DESIGN §8 faults: kill -9 during 10,000 deliveries → 0 lost after restart. A coordination point's gateway (its own
 * process, `node src/main.ts`, SQLite) has SUBSCRIBERS topic subscriptions on loopback receivers; a provider
 * publishes CHANGES availability changes, so SUBSCRIBERS × CHANGES notifications are queued in the outbox. When about
 * a third has arrived the gateway is killed with SIGKILL, then started again on the same database; every
 * subscriber's event numbers are counted until all are in (or the deadline passes): lost = numbers never seen,
 * duplicates = numbers seen twice (at-least-once: deliveries in flight at the kill).
 */
const SUBSCRIBERS = Number(process.env.EVIDENCE_KILL_SUBSCRIBERS ?? 200);
const CHANGES = Number(process.env.EVIDENCE_KILL_CHANGES ?? 50);
const RECOVERY_DEADLINE_MS = 180_000;

export async function killDuringDelivery(): Promise<Figure[]> {
  const [zcc, provider] = await Promise.all([party('zcc', 'ZCC Rijnmond', '44444444'), party('vvt', 'Zorggroep Maas', '22222222')]);
  const site = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'evidence-kill-');
  const target = await subscribers(SUBSCRIBERS);
  let gateway: ChildProcess | undefined;
  try {
    writeFileSync(
      path.join(site.dataDir, 'config.json'),
      JSON.stringify({
        mode: 'development',
        port: site.port,
        publicBaseUrl: site.url,
        dataDir: site.dataDir,
        organizations: [await hostedOrganization(zcc, ['coordination-point'])],
        trusted: [await trustedOrganization(provider)],
        // A short attempt timeout keeps the killed process's claims short-lived (a claim lasts four timeouts).
        subscriptions: { deliveryTimeoutMs: 1000, retryBaseMs: 50 },
      }),
    );
    gateway = await startProcess(site);
    await subscribeAll(site.url, await ehrToken(site.url, zcc), target);
    const handshakes = target.requests();
    // Slow receivers keep most of the work queued while the changes come in.
    for (const receiver of target.receivers) receiver.delayMs = 20;
    const grant = await organizationToken(site.url, provider, zcc.id, 'capacity-publication', []);
    for (let change = 1; change <= CHANGES; change += 1) {
      const answer = await fhirCall(site.url, grant.body.access_token as string, 'POST', '/fhir/MeasureReport', publication(provider, 'rijnmond', [['elv-hoog', change]]));
      if (answer.status >= 300) throw new Error(`publication ${change} answered ${answer.status}`);
    }
    const total = SUBSCRIBERS * CHANGES;
    await eventually('a third delivered', async () => (target.requests() - handshakes >= total / 3 ? true : undefined), 120_000);
    await killHard(gateway);
    const deliveredAtKill = target.requests() - handshakes;

    for (const receiver of target.receivers) receiver.delayMs = 0;
    const restartedAt = Date.now();
    gateway = await startProcess(site);
    await eventually('every event at every subscriber', async () => (target.tally(CHANGES).lost === 0 ? true : undefined), RECOVERY_DEADLINE_MS).catch(() => undefined);
    const recoveryMs = Date.now() - restartedAt;
    const { lost, duplicates, outOfOrder, missingNumbers } = target.tally(CHANGES);
    return [
      {
        name: 'faults.kill-9-during-deliveries.lost',
        value: lost,
        unit: 'notifications',
        baseline: null,
        target: '0 lost after restart (DESIGN §8)',
        deliveries: total,
        deliveredBeforeKill: deliveredAtKill,
        duplicates,
        subscribersSeeingEventsOutOfOrder: outOfOrder,
        missingEventNumbers: missingNumbers.slice(0, 20),
        restartToAllDeliveredMs: recoveryMs,
        subscribers: SUBSCRIBERS,
        changes: CHANGES,
        ...machineLoad(),
      },
    ];
  } finally {
    await killHard(gateway);
    await target.close();
    rmSync(site.dataDir, { recursive: true, force: true });
  }
}

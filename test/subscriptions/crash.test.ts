import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startProcess, type Site } from '../harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';
import { eventNumbers, publication, receiver, topicSubscription, type Receiver } from './support.js';

/**
 * The last done-when: the gateway (its own process) is killed with SIGKILL in the middle of delivering, and
 * after a restart on the same database every subscriber gets every event: nothing is lost, and each subscriber sees
 * its events first in order (a delivery in flight at the kill may come twice).
 */
const SUBSCRIBERS = 40;
const CHANGES = 30;
let zcc: Party;
let provider: Party;
let site: Site;
let gateway: ChildProcess | undefined;
let receivers: Receiver[];

beforeAll(async () => {
  [zcc, provider] = await Promise.all([party('zcc', 'ZCC Rijnmond', '44444444'), party('vvt', 'Zorggroep Maas', '22222222')]);
  site = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'subscriptions-crash-');
  receivers = await Promise.all([receiver(), receiver()]);
  const config = {
    mode: 'development',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    organizations: [await hostedOrganization(zcc, ['coordination-point'])],
    trusted: [await trustedOrganization(provider)],
    // A short attempt timeout keeps the claims of the killed process short-lived (a claim lasts 4 timeouts).
    subscriptions: { deliveryTimeoutMs: 500, retryBaseMs: 50 },
  };
  writeFileSync(path.join(site.dataDir, 'config.json'), JSON.stringify(config));
  gateway = await startProcess(site);
}, 120_000);

afterAll(async () => {
  gateway?.kill('SIGKILL');
  await Promise.all((receivers ?? []).map((target) => target.close()));
  if (site) rmSync(site.dataDir, { recursive: true, force: true });
});

const endpointOf = (i: number) => ({ target: receivers[i % receivers.length], path: `/subscriber/${i}` });
const delivered = () => receivers.reduce((sum, target) => sum + target.all.length, 0);

/** First occurrences, in arrival order: a redelivery after the restart may repeat an event, never reorder them. */
const firstSeen = (numbers: number[]) => numbers.filter((number, index) => numbers.indexOf(number) === index);

it('loses no notification when the gateway is killed mid-delivery', async () => {
  const token = await ehrToken(site.url, zcc);
  const entry = Array.from({ length: SUBSCRIBERS }, (_, i) => ({
    resource: topicSubscription({ endpoint: `${endpointOf(i).target.url}${endpointOf(i).path}` }),
    request: { method: 'POST', url: 'Subscription' },
  }));
  expect((await fhirCall(site.url, token, 'POST', '/fhir', { resourceType: 'Bundle', type: 'transaction', entry })).status).toBe(200);
  await eventually('every subscription active', async () => {
    const { body } = await fhirCall(site.url, token, 'GET', '/fhir/Subscription/$status?status=active');
    return body.total === SUBSCRIBERS ? true : undefined;
  });
  const handshakes = delivered();

  // Slow subscribers: most events are still queued when the changes are all in.
  for (const target of receivers) target.delayMs = 150;
  const grant = await organizationToken(site.url, provider, zcc.id, 'capacity-publication', []);
  for (let change = 1; change <= CHANGES; change += 1) {
    const answer = await fhirCall(site.url, grant.body.access_token as string, 'POST', '/fhir/MeasureReport', publication(provider, 'rijnmond', [['elv-hoog', change]]));
    expect([answer.status, answer.body.resourceType]).toEqual([change === 1 ? 201 : 200, 'MeasureReport']);
  }
  const total = SUBSCRIBERS * CHANGES;
  await eventually('a third delivered', async () => (delivered() - handshakes >= total / 3 ? true : undefined));
  gateway!.kill('SIGKILL');
  await new Promise((resolve) => gateway!.once('exit', resolve));
  const atKill = delivered() - handshakes;
  expect(atKill).toBeLessThan(total);

  for (const target of receivers) target.delayMs = 0;
  gateway = await startProcess(site);
  const expected = Array.from({ length: CHANGES }, (_, i) => i + 1);
  await eventually(
    'every event at every subscriber',
    async () => (Array.from({ length: SUBSCRIBERS }, (_, i) => i).every((i) => firstSeen(eventNumbers(endpointOf(i).target, endpointOf(i).path)).length === CHANGES) ? true : undefined),
    45_000,
  );
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    expect(firstSeen(eventNumbers(endpointOf(i).target, endpointOf(i).path))).toEqual(expected);
  }
}, 120_000);

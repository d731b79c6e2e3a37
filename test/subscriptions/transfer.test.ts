import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { type Gateway } from '../../src/main.js';
import { TASK_STATUS_CHANGED_TOPIC } from '../../src/subscriptions/index.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, tasks, transaction } from '../transfer/support.js';
import { receiver, statusOf, topicSubscription, type Receiver } from './support.js';

/**
 * The task-status-changed topic across an eOverdracht transfer between two gateways in this process: the hospital's
 * EHR follows the Tasks it offered to one provider, and only the acceptances; the provider's EHR follows its copies.
 */
let hospital: Party;
let vvt1: Party;
let vvt2: Party;
let sender: Gateway;
let provider: Gateway;
let hooks: Receiver;
let sites: RunningSites;
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';

beforeAll(async () => {
  hooks = await receiver();
  [hospital, vvt1, vvt2] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222'), party('vvt-2', 'VVT Twee', '33333333')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'subscriptions-transfer-');
  const v = await newSite([{ party: vvt1, roles: ['receiver'] }, { party: vvt2, roles: ['receiver'] }], 'subscriptions-transfer-');
  sites = await startSites([h, v], (raw) => ({ ...raw, subscriptions: { allowedEndpoints: [hooks.url] } }));
  [sender, provider] = sites.gateways;
}, 60_000);

afterAll(async () => {
  await sites?.close();
  await hooks?.close();
});

async function subscribe(gateway: Gateway, token: string, body: Resource): Promise<void> {
  const created = await fhirCall(gateway.url, token, 'POST', '/fhir/Subscription', body);
  expect(created.status).toBe(201);
  await eventually('active', async () => ((await fhirCall(gateway.url, token, 'GET', `/fhir/Subscription/${created.body.id}`)).body.status === 'active' ? true : undefined));
}

const events = (path: string) => hooks.at(path).map((request) => statusOf(request.body)).filter((status) => status.type === 'event-notification');

it('notifies the EHRs on both sides of Task status changes, as their filters select', async () => {
  const hospitalEhr = await ehrToken(sender.url, hospital);
  const vvtEhr = await ehrToken(provider.url, vvt1);
  const toVvt1 = `owner=${URA}|${vvt1.ura}`;
  await subscribe(sender, hospitalEhr, topicSubscription({ endpoint: `${hooks.url}/hospital/vvt1`, topic: TASK_STATUS_CHANGED_TOPIC, content: 'full-resource', filters: [toVvt1] }));
  await subscribe(sender, hospitalEhr, topicSubscription({ endpoint: `${hooks.url}/hospital/accepted`, topic: TASK_STATUS_CHANGED_TOPIC, filters: [toVvt1, 'status=accepted'] }));
  await subscribe(provider, vvtEhr, topicSubscription({ endpoint: `${hooks.url}/vvt1`, topic: TASK_STATUS_CHANGED_TOPIC }));

  const offered = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
    resourceType: 'Parameters',
    parameter: [
      { name: 'advanceNotice', resource: transaction(documentOf(nictizExamples(), ADVANCE_NOTICE)) },
      ...[vvt1, vvt2].map((p) => ({ name: 'receiver', valueIdentifier: { system: URA, value: p.ura } })),
    ],
  });
  expect(offered.status).toBe(200);
  const task = (offered.body.parameter as { name: string; resource: Resource }[]).find((p) => p.name === 'task' && (p.resource.owner as { identifier: { value: string } }).identifier.value === vvt1.ura)!.resource;

  const copy = await eventually('the provider has the Task', async () => (await tasks(provider.url, vvtEhr)).find((t) => t.status === 'requested'));
  const r4Copy = (await fhirCall(provider.url, vvtEhr, 'GET', `/fhir/Task/${copy.id}`)).body;
  expect((await fhirCall(provider.url, vvtEhr, 'PUT', `/fhir/Task/${copy.id}`, { ...r4Copy, status: 'accepted' })).status).toBe(200);

  const offeredThenAccepted = await eventually('the hospital hears of the acceptance', async () => {
    const seen = events('/hospital/vvt1');
    return seen.length >= 2 ? seen : undefined;
  });
  expect(offeredThenAccepted.map((event) => event.events[0].number)).toEqual([1, 2]);
  expect(offeredThenAccepted[0].events[0].focus).toBe(`${sender.config.publicBaseUrl}/fhir/stu3/Task/${task.id}`);
  const statuses = offeredThenAccepted.map((event) => ((event.bundle.entry as { resource: Resource }[])[1].resource as { status: string; resourceType: string }));
  expect(statuses.map((resource) => [resource.resourceType, resource.status])).toEqual([
    ['Task', 'requested'],
    ['Task', 'accepted'],
  ]);
  const accepted = await eventually('the acceptance filter', async () => (events('/hospital/accepted').length > 0 ? events('/hospital/accepted') : undefined));
  expect(accepted.map((event) => event.events[0].number)).toEqual([1]);
  const atProvider = await eventually('the provider EHR hears of its own copy', async () => (events('/vvt1').length >= 2 ? events('/vvt1') : undefined));
  expect(atProvider.every((event) => event.events[0].focus?.includes(`/fhir/stu3/Task/${copy.id}`))).toBe(true);
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { OUTBOX_KINDS } from '../../src/transfer/context.js';
import { localId } from '../../src/transfer/receiver.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { Relay, relayedEndpoints, type Exchange } from '../harness/relay.js';
import { ADVANCE_NOTICE, documentOf, EOVERDRACHT, nictizExamples, NURSING_HANDOFF, parametersNamed, readStoreOf, transaction } from './support.js';

/**
 * Both published notification shapes between two gateways, chosen per receiver in the hospital's configuration: a
 * care provider notified as the Nuts eOverdracht Bolt v1 says (an empty POST to `<notification>/<Task id>`, 202) and
 * one notified as the Twiin TA Notified Pull says (a notification Task POSTed to `<notification>/Task`, 201), in one
 * region. Every notification passes a relay that keeps it, and the receivers' pulls pass another, which can play a
 * sender that refuses.
 */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const examples = nictizExamples();
const patient = examples.find((resource) => resource.resourceType === 'Patient')!;
let hospital: Party;
let boltVvt: Party;
let twiinVvt: Party;
let h: Site;
let v: Site;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
/** The hospital's notifications to both care providers. */
let notifications: Relay;
/** The care providers' reads and writes at the hospital. */
let pulls: Relay;

beforeAll(async () => {
  [hospital, boltVvt, twiinVvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-bolt', 'VVT Bolt', '22222222'), party('vvt-twiin', 'VVT Twiin', '33333333')]);
  h = await newSite([{ party: hospital, roles: ['sender'] }], 'shapes-');
  v = await newSite(
    [
      { party: boltVvt, roles: ['receiver'] },
      { party: twiinVvt, roles: ['receiver'] },
    ],
    'shapes-',
  );
  notifications = new Relay(v.url);
  pulls = new Relay(h.url);
  const [notificationsUrl, pullsUrl] = [await notifications.start(), await pulls.start()];
  const shapes: Record<string, Record<string, unknown>> = {
    [boltVvt.id]: { notificationShape: 'bolt', notification: `${notificationsUrl}/eoverdracht/notification/Task` },
    [twiinVvt.id]: { notificationShape: 'twiin', notification: `${notificationsUrl}/eoverdracht/notification` },
  };
  sites = await startSites([h, v], (raw) => {
    const trusted = (raw.trusted as { id: string; endpoints: Record<string, string> }[]).map((organization) => {
      const shape = shapes[organization.id];
      if (organization.id === hospital.id) return { ...organization, endpoints: relayedEndpoints(organization.endpoints, { fhir: `${pullsUrl}/fhir/stu3` }) };
      return shape ? { ...organization, notificationShape: shape.notificationShape, endpoints: relayedEndpoints(organization.endpoints, { notification: shape.notification as string }) } : organization;
    });
    return { ...raw, trusted };
  });
  [sender, receiver] = sites.gateways;
}, 60_000);

afterAll(async () => {
  await sites?.close();
  await Promise.all([notifications?.close(), pulls?.close()]);
});

async function offer(to: Party[]): Promise<Resource[]> {
  const offered = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', '/fhir/stu3/$offer', {
    resourceType: 'Parameters',
    parameter: [{ name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) }, ...to.map((p) => ({ name: 'receiver', valueIdentifier: { system: URA, value: p.ura } }))],
  });
  expect(offered.status).toBe(200);
  return parametersNamed(offered.body, 'task');
}

const localTaskId = (remoteTask: string) => localId(hospital.id, `Task/${remoteTask}`);

async function localCopy(p: Party, remoteTask: string, status: string): Promise<Resource> {
  const token = await ehrToken(receiver.url, p);
  return eventually(`Task/${remoteTask} ${status} at ${p.id}`, async () => {
    const { status: code, body } = await fhirCall(receiver.url, token, 'GET', `/fhir/stu3/Task/${localTaskId(remoteTask)}`);
    return code === 200 && body.status === status ? body : undefined;
  });
}

async function atHospital(taskId: string, status: string): Promise<Resource> {
  const token = await ehrToken(sender.url, hospital);
  return eventually(`Task/${taskId} ${status} at the hospital`, async () => {
    const { body } = await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task/${taskId}`);
    return body.status === status ? body : undefined;
  });
}

/** The care provider's EHR answers on its local copy; the hospital's Task follows. */
async function answer(p: Party, remoteTask: string, status: string): Promise<void> {
  const ehr = await ehrToken(receiver.url, p);
  const { body: copy } = await fhirCall(receiver.url, ehr, 'GET', `/fhir/stu3/Task/${localTaskId(remoteTask)}`);
  expect((await fhirCall(receiver.url, ehr, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status })).status).toBe(200);
  await atHospital(remoteTask, status);
}

/** One candidate rejects, the other accepts, gets the handoff (with the document behind it) and completes. */
async function wholeStory(accepting: Party, rejecting: Party): Promise<void> {
  const [first, second] = await offer([accepting, rejecting]);
  await Promise.all([localCopy(accepting, first.id!, 'requested'), localCopy(rejecting, second.id!, 'requested')]);
  const ehr = await ehrToken(receiver.url, accepting);
  expect((await fhirCall(receiver.url, ehr, 'GET', `/fhir/stu3/Composition/${localId(hospital.id, ADVANCE_NOTICE)}`)).status).toBe(200);
  await answer(rejecting, second.id!, 'rejected');
  await answer(accepting, first.id!, 'accepted');
  const handedOver = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', `/fhir/stu3/Task/${first.id}/$handoff`, {
    resourceType: 'Parameters',
    parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
  });
  expect(handedOver.status).toBe(200);
  await localCopy(accepting, first.id!, 'in-progress');
  expect((await fhirCall(receiver.url, ehr, 'GET', `/fhir/stu3/Composition/${localId(hospital.id, NURSING_HANDOFF)}`)).status).toBe(200);
  await answer(accepting, first.id!, 'completed');
}

/** A token of the hospital for notifying a care provider, as the hospital's gateway gets one. */
async function notifierToken(notified: Party): Promise<string> {
  const { status, body } = await organizationToken(receiver.url, hospital, notified.id, 'eOverdracht-receiver', []);
  expect(status).toBe(200);
  return body.access_token as string;
}

/** The Twiin fixture (nuts-knooppunt's demo notification Task), verbatim. */
const twiinFixture = (): Resource => JSON.parse(readFileSync(path.join(EOVERDRACHT, 'examples/twiin-notification-task.json'), 'utf8'));

/**
 * The fixture made out between this region's parties, changing only what names them and what the demo leaves out:
 * the URAs of the hospital and the care provider for the demo's dummy identifiers, the workflow Task it is based on
 * with `get-workflow-task`, and a validity still running. Its `for` (the Knooppunt's BSN) stays.
 */
function twiinNotificationFor(workflowTask: string, notified: Party): Resource {
  const fixture = twiinFixture();
  const ura = (p: Party) => ({ identifier: { system: URA, value: p.ura } });
  return {
    ...fixture,
    requester: { ...(fixture.requester as object), onBehalfOf: ura(hospital) },
    owner: ura(notified),
    basedOn: [{ reference: `Task/${workflowTask}` }],
    restriction: { period: { end: new Date(Date.now() + 86_400_000).toISOString() } },
    input: [...(fixture.input as object[]), { type: { coding: [{ system: 'http://fhir.nl/fhir/NamingSystem/TaskParameter', code: 'get-workflow-task' }] }, valueBoolean: true }],
  };
}

const notificationsTo = (p: Party, exchanges: Exchange[]) => exchanges.filter((exchange) => exchange.method === 'POST' && notifiedParty(exchange) === p.id);

/** Which care provider a notification went to: the Bolt's path names the Task, Twiin's body the owner's URA. */
function notifiedParty(exchange: Exchange): string | undefined {
  if (exchange.body === '') return boltVvt.id;
  const owner = (JSON.parse(exchange.body) as { owner?: { identifier?: { value?: string } } }).owner?.identifier?.value;
  return [boltVvt, twiinVvt].find((p) => p.ura === owner)?.id;
}

describe('both notification shapes, chosen per receiver', () => {
  it('completes the whole story with a Bolt receiver and a Twiin receiver in one region, each one accepting in turn', async () => {
    await wholeStory(boltVvt, twiinVvt);
    await wholeStory(twiinVvt, boltVvt);
    expect(notificationsTo(boltVvt, notifications.received).length).toBeGreaterThan(0);
    expect(notificationsTo(twiinVvt, notifications.received).length).toBeGreaterThan(0);
  }, 60_000);

  it('sends no notification that carries personal data: the Bolt ones are empty, the Twiin ones name organisations and a Task', async () => {
    const sent = notifications.received.filter((exchange) => exchange.method === 'POST');
    expect(new Set(sent.map((exchange) => (exchange.body === '' ? 'bolt' : 'twiin')))).toEqual(new Set(['bolt', 'twiin']));
    const personal = [
      ...(patient.identifier as { value: string }[]).map((identifier) => identifier.value),
      ...(patient.name as { family?: string; given?: string[] }[]).flatMap((name) => [name.family ?? '', ...(name.given ?? [])]).filter((part) => part.length > 2),
      ...(typeof patient.birthDate === 'string' ? [patient.birthDate] : []),
      'NamingSystem/bsn',
      'Patient/',
    ];
    for (const exchange of sent) {
      expect(personal.filter((text) => exchange.body.includes(text) || exchange.path.includes(text))).toEqual([]);
      if (exchange.body === '') {
        expect(exchange.path).toMatch(/^\/eoverdracht\/notification\/Task\/[A-Za-z0-9\-.]+$/);
        continue;
      }
      expect(exchange.path).toBe('/eoverdracht/notification/Task');
      const task = JSON.parse(exchange.body) as Resource;
      expect(Object.keys(task).sort()).toEqual(['authoredOn', 'basedOn', 'code', 'groupIdentifier', 'identifier', 'input', 'intent', 'owner', 'requester', 'resourceType', 'restriction', 'status']);
      expect(task).toMatchObject({ status: 'requested', intent: 'proposal', owner: { identifier: { system: URA, value: twiinVvt.ura } }, requester: { onBehalfOf: { identifier: { system: URA, value: hospital.ura } } } });
    }
  });

  it('takes the Twiin fixture, made out between these parties, with 201 and pulls the workflow Task and its advance notice', async () => {
    notifications.holding = true;
    const [task] = await offer([twiinVvt]);
    await eventually('the gateway notification, held', async () => (notifications.held.length > 0 ? true : undefined));
    notifications.held.splice(0);
    notifications.holding = false;
    const token = await notifierToken(twiinVvt);

    // verbatim, its dummy identifiers name no organisation of this region
    const verbatim = await fhirCall(receiver.url, token, 'POST', '/eoverdracht/notification/Task', twiinFixture());
    expect([verbatim.status, verbatim.body.resourceType, JSON.stringify(verbatim.body.issue)]).toEqual([403, 'OperationOutcome', expect.stringContaining('requester.onBehalfOf must name the notifying organisation')]);

    const notification = twiinNotificationFor(task.id!, twiinVvt);
    expect(JSON.stringify(notification)).toContain('http://fhir.nl/fhir/NamingSystem/bsn');
    const created = await fhirCall(receiver.url, token, 'POST', '/eoverdracht/notification/Task', notification);
    expect(created.status).toBe(201);
    const { for: _bsn, ...kept } = notification;
    expect(created.body).toMatchObject({ ...kept, id: expect.any(String) });
    expect(JSON.stringify(created.body)).not.toContain('172642863');
    await localCopy(twiinVvt, task.id!, 'requested');
    const ehr = await ehrToken(receiver.url, twiinVvt);
    expect((await fhirCall(receiver.url, ehr, 'GET', `/fhir/stu3/Composition/${localId(hospital.id, ADVANCE_NOTICE)}`)).status).toBe(200);
  });

  it('refuses a Bolt notification with a body, and notification Tasks of another shape, each with a 4xx OperationOutcome', async () => {
    const [task] = await offer([twiinVvt]);
    const token = await notifierToken(twiinVvt);
    const withBody = await fhirCall(receiver.url, token, 'POST', `/eoverdracht/notification/Task/${task.id}`, { resourceType: 'Parameters', parameter: [] });
    expect([withBody.status, withBody.body.resourceType]).toEqual([400, 'OperationOutcome']);

    const good = twiinNotificationFor(task.id!, twiinVvt);
    const { basedOn: _basedOn, ...withoutBasedOn } = good;
    const refused: [string, Resource, number, string][] = [
      ['another code', { ...good, code: { coding: [{ system: 'http://fhir.nl/fhir/NamingSystem/TaskCode', code: 'other' }] } }, 422, 'Task.code'],
      ['intent order', { ...good, intent: 'order' }, 422, 'Task.intent'],
      ['status completed', { ...good, status: 'completed' }, 422, 'Task.status'],
      ['no basedOn', withoutBasedOn, 422, 'Task.basedOn'],
      ['a BSN', { ...good, focus: { identifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' } } }, 422, 'patient data'],
      ['a patient reference', { ...good, focus: { reference: 'Patient/p1' } }, 422, 'patient data'],
      ['a contained patient with a name', { ...good, contained: [{ resourceType: 'Patient', id: 'p', name: [{ family: 'Jansen' }] }] }, 422, 'patient data'],
      ['another owner', { ...good, owner: { identifier: { system: URA, value: boltVvt.ura } } }, 422, 'Task.owner'],
      ['expired', { ...good, restriction: { period: { end: '2023-10-14T15:36:05+02:00' } } }, 422, 'expired'],
      ['another notifier', { ...good, requester: { ...(good.requester as object), onBehalfOf: { identifier: { system: URA, value: '99999999' } } } }, 403, 'notifying organisation'],
    ];
    for (const [what, body, status, naming] of refused) {
      const answered = await fhirCall(receiver.url, token, 'POST', '/eoverdracht/notification/Task', body);
      expect([what, answered.status, answered.body.resourceType, JSON.stringify(answered.body.issue)]).toEqual([what, status, 'OperationOutcome', expect.stringContaining(naming)]);
    }
  });

  it("takes a refusal of the sender's Task (403, 401 after a fresh token) as final: dead-lettered with the reason, asked once, the local Task as it was", async () => {
    const [task] = await offer([boltVvt]);
    await localCopy(boltVvt, task.id!, 'requested');
    const pullsOf = async () =>
      (await readStoreOf({ dataDir: v.dataDir }, (store) => store.outbox.list(boltVvt.id, { kind: OUTBOX_KINDS.pull }))).filter(
        (message) => (message.payload as { task: string }).task === localTaskId(task.id!),
      );
    await eventually('the pulls of the offer done', async () => ((await pullsOf()).every((message) => message.status === 'delivered') ? true : undefined));
    const token = await notifierToken(boltVvt);
    const taskReads = () => pulls.received.filter((exchange) => exchange.method === 'GET' && exchange.path === `/fhir/stu3/Task/${task.id}`).length;

    for (const [status, asked] of [
      [403, 1],
      [401, 2],
    ]) {
      const refusal = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'forbidden', details: { text: `refused with ${status}` } }] };
      pulls.answer = (exchange) =>
        exchange.method === 'GET' && exchange.path === `/fhir/stu3/Task/${task.id}` ? { status, headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(refusal) } : undefined;
      const readsBefore = taskReads();
      const deadBefore = new Set((await pullsOf()).filter((message) => message.status === 'dead').map((message) => message.id));
      expect((await fhirCall(receiver.url, token, 'POST', `/eoverdracht/notification/Task/${task.id}`)).status).toBe(202);
      const dead = await eventually(`the pull refused with ${status}, dead-lettered`, async () =>
        (await pullsOf()).find((message) => message.status === 'dead' && !deadBefore.has(message.id)),
      );
      expect([dead.attempts, dead.lastError]).toEqual([1, expect.stringContaining(`GET Task/${task.id} answered ${status}: ${JSON.stringify(refusal)}`)]);
      expect(taskReads() - readsBefore).toBe(asked);
      expect((await localCopy(boltVvt, task.id!, 'requested')).status).toBe('requested');
    }
    pulls.answer = undefined;
  }, 60_000);
});

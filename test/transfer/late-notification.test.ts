import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { type Gateway } from '../../src/main.js';
import { OUTBOX_KINDS } from '../../src/transfer/context.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { removeFolder } from '../harness/folders.js';
import { eOverdrachtEndpoints, newSite, siteConfig, startSite } from '../harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';
import { Relay, relayedEndpoints } from '../harness/relay.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  nictizExamples,
  NURSING_HANDOFF,
  parametersNamed,
  readStoreOf,
  renamed,
  tasks,
  transaction,
} from './support.js';

/**
 * A notification that arrives late must not show the receiving EHR a status whose document is not there yet: here
 * the sender's "accepted" notification is delivered again after the Task went in-progress, while the notification
 * of the handoff is held back. The receiver's pull then finds the Task in-progress and pulls the handoff before its
 * copy shows in-progress: notifications carry nothing, the sender grants the pull what its record of the transfer
 * holds now. And a receiving EHR that answers on the copy it read before a late notification's pull moved it on is
 * judged on what it may change, not on the gateway's own bookkeeping (Task.lastModified) that the pull brought.
 */
let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let receiverData: string;
/** The sender's notifications to the receiver. */
let notifications: Relay;
/** The receiver's reads (pulls) and writes (answers) at the sender. */
let pulls: Relay;
const dirs: string[] = [];
const examples = nictizExamples();

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT', '22222222')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'late-');
  const v = await newSite([{ party: vvt, roles: ['receiver'] }], 'late-');
  dirs.push(h.dataDir, v.dataDir);
  receiverData = v.dataDir;
  notifications = new Relay(v.url);
  pulls = new Relay(h.url);
  const [notificationsUrl, pullsUrl] = [await notifications.start(), await pulls.start()];
  const senderConfig = {
    ...(await siteConfig(h, [v])),
    organizations: [await hostedOrganization(hospital, ['sender'])],
    trusted: [await trustedOrganization(vvt, relayedEndpoints(eOverdrachtEndpoints(v.url), { notification: `${notificationsUrl}/eoverdracht/notification/Task` }))],
  };
  const receiverConfig = {
    ...(await siteConfig(v, [h])),
    organizations: [await hostedOrganization(vvt, ['receiver'])],
    trusted: [await trustedOrganization(hospital, relayedEndpoints(eOverdrachtEndpoints(h.url), { fhir: `${pullsUrl}/fhir/stu3` }))],
  };
  [sender, receiver] = await Promise.all([startSite(h, senderConfig), startSite(v, receiverConfig)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sender?.close(), receiver?.close(), notifications?.close(), pulls?.close()]);
  for (const dir of dirs) removeFolder(dir);
});

async function localCopy(token: string, remoteId: string): Promise<Resource | undefined> {
  return (await tasks(receiver.url, token)).find((task) => (task.identifier as { value: string }[] | undefined)?.[0]?.value.endsWith(`/Task/${remoteId}`));
}

/** True when every pull the receiver queued is delivered (the notification answered 202 after queuing its pull). */
const pullsDone = async () =>
  (await readStoreOf({ dataDir: receiverData }, (store) => store.outbox.list(vvt.id, { kind: OUTBOX_KINDS.pull }))).every((message) => message.status === 'delivered');

/** How often the receiver has read the sender's Task. */
const taskReads = (taskId: string) => pulls.forwarded.filter((exchange) => exchange.method === 'GET' && exchange.path.endsWith(`/Task/${taskId}`)).length;

describe('a late notification at the receiver', () => {
  it('shows the in-progress Task only with its handoff, whichever notification brings it', async () => {
    const hospitalEhr = await ehrToken(sender.url, hospital);
    const vvtEhr = await ehrToken(receiver.url, vvt);
    const advanceNotice = transaction(renamed(documentOf(examples, ADVANCE_NOTICE), 'late'));
    const offered = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: advanceNotice },
        { name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: vvt.ura } },
      ],
    });
    expect(offered.status).toBe(200);
    const [task] = parametersNamed(offered.body, 'task');
    const requested = await eventually('the local copy', async () => {
      const copy = await localCopy(vvtEhr, task!.id!);
      return copy?.status === 'requested' ? copy : undefined;
    });
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${requested.id}`, { ...requested, status: 'accepted' })).status).toBe(200);
    const acceptedNotification = await eventually('the sender notifying "accepted"', async () => {
      const { body } = await fhirCall(sender.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${task!.id}`);
      return body.status === 'accepted' && notifications.forwarded.length >= 2 ? notifications.forwarded.at(-1) : undefined;
    });
    await eventually('the receiver pulling "accepted"', async () => ((await localCopy(vvtEhr, task!.id!))?.status === 'accepted' ? true : undefined));

    notifications.holding = true;
    const handoff = transaction(renamed(documentOf(examples, NURSING_HANDOFF), 'late'));
    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task!.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: handoff }],
    });
    expect(handedOver.status).toBe(200);
    await eventually('the handoff notification, held', async () => (notifications.held.length > 0 ? true : undefined));

    const readsBefore = taskReads(task!.id!);
    expect(acceptedNotification.body).toBe('');
    expect((await notifications.forward(acceptedNotification)).status).toBe(202);
    await eventually('the receiver done with its pull of the in-progress Task', async () =>
      taskReads(task!.id!) > readsBefore && (await pullsDone()) ? true : undefined,
    );
    const inProgress = (await localCopy(vvtEhr, task!.id!))!;
    expect(inProgress.status).toBe('in-progress');
    const reference = (inProgress.input as { valueReference?: { reference: string } }[]).map((input) => input.valueReference?.reference).at(-1);
    expect((await fhirCall(receiver.url, vvtEhr, 'GET', `/fhir/stu3/${reference}`)).status).toBe(200);

    for (const notification of notifications.held.splice(0)) expect((await notifications.forward(notification)).status).toBe(202);
    await eventually('the receiver done with the held notification', async () => ((await pullsDone()) ? true : undefined));
    expect((await localCopy(vvtEhr, task!.id!))?.status).toBe('in-progress');
  }, 60_000);

  it("takes the EHR's answer on a copy read before the pull of the sender's echo of its previous answer", async () => {
    const hospitalEhr = await ehrToken(sender.url, hospital);
    const vvtEhr = await ehrToken(receiver.url, vvt);
    notifications.holding = false;
    const offered = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(renamed(documentOf(examples, ADVANCE_NOTICE), 'echo')) },
        { name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: vvt.ura } },
      ],
    });
    const [task] = parametersNamed(offered.body, 'task');
    const requested = await eventually('the local copy', async () => {
      const copy = await localCopy(vvtEhr, task!.id!);
      return copy?.status === 'requested' ? copy : undefined;
    });

    notifications.holding = true;
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${requested.id}`, { ...requested, status: 'accepted' })).status).toBe(200);
    await eventually('the sender notifying "accepted", held', async () => {
      const { body } = await fhirCall(sender.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${task!.id}`);
      return body.status === 'accepted' && notifications.held.length > 0 ? true : undefined;
    });
    const read = (await fhirCall(receiver.url, vvtEhr, 'GET', `/fhir/stu3/Task/${requested.id}`)).body;

    for (const notification of notifications.held.splice(0)) expect((await notifications.forward(notification)).status).toBe(202);
    const pulled = await eventually('the pull of the accepted Task', async () => {
      const { body } = await fhirCall(receiver.url, vvtEhr, 'GET', `/fhir/stu3/Task/${requested.id}`);
      return body.meta?.versionId !== read.meta?.versionId && (await pullsDone()) ? body : undefined;
    });
    expect([pulled.status, pulled.lastModified === read.lastModified]).toEqual(['accepted', false]);

    const cancelling = { ...read, status: 'cancelled', statusReason: { text: 'Cliënt kiest een andere aanbieder' } };
    const stale = await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${read.id}`, cancelling, { 'if-match': `W/"${read.meta?.versionId}"` });
    expect([stale.status, stale.body.resourceType]).toEqual([412, 'OperationOutcome']);
    const cancelled = await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${read.id}`, cancelling);
    expect([cancelled.status, cancelled.body.status]).toEqual([200, 'cancelled']);
    await eventually('the sender cancelled', async () => {
      const { body } = await fhirCall(sender.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${task!.id}`);
      return body.status === 'cancelled' ? true : undefined;
    });
  }, 60_000);
});

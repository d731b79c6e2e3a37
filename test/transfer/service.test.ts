import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createAuth } from '../../src/auth/index.js';
import { parseConfig, type NotificationShape } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { OUTBOX_KINDS, type TransferContext } from '../../src/transfer/context.js';
import { consentIds } from '../../src/transfer/consents.js';
import { readOptional } from '../../src/store/optional.js';
import { CONSENT_REQUIRES_PERSON_EXTENSION, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { announcedTask } from '../../src/transfer/notification-task.js';
import { AccessWithdrawn, type Peer, type PeerCall } from '../../src/transfer/peer.js';
import { answer, AWAITING_PERSON, deliverAnswer, localId, pull, pullOnBehalf, receiveNotification } from '../../src/transfer/receiver.js';
import { readInbound } from '../../src/transfer/records.js';
import { RemoteFailure } from '../../src/fhir/client/remote.js';
import { forbidden } from '../../src/fhir/outcome.js';
import { PermanentFailure } from '../../src/outbox/dispatcher.js';
import { REFUSAL_REASON_SYSTEM } from '../../src/vocabulary/canonical.js';
import { keyOf } from '../../src/transfer/references.js';
import { changeOutboundTask, handoff, offer, sendNotification } from '../../src/transfer/sender.js';
import { readTask } from '../../src/transfer/storage.js';
import { newTask, withHandoff } from '../../src/transfer/task.js';
import { createValidator } from '../../src/validation/index.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, EOVERDRACHT, nictizExamples, NURSING_HANDOFF, transaction } from './support.js';
import { loadPersonPolicy } from '../../src/transfer/person-policy.js';
import { PURPOSE } from '../../src/transfer/purposes.js';

/**
 * The transfer services in this process, each against a fake of the other gateway (no HTTP, no second gateway): the
 * hospital's sender against a receiving gateway that records the notifications it is sent, and the care provider's
 * receiver against a sending gateway that serves a Task and its documents as the sender's FHIR API would.
 */
const examples = nictizExamples();
const advanceNotice = documentOf(examples, ADVANCE_NOTICE);
const nursingHandoff = documentOf(examples, NURSING_HANDOFF);
const folders: string[] = [];
const stores: Store[] = [];
let hospital: Party;
let vvt: Party;
let sending: TransferContext;
let receiving: TransferContext;

/** The transfer context of a gateway hosting `host` with `role` and trusting `other` (notified at a URL never called, in `shape`). */
async function contextOf(host: Party, role: 'sender' | 'receiver', other: Party, shape: NotificationShape = 'bolt'): Promise<TransferContext> {
  const dataDir = temporaryFolder('transfer-service-');
  folders.push(dataDir);
  const config = parseConfig({
    publicBaseUrl: `https://${host.id}.example`,
    dataDir,
    profiles: { folders: [path.join(EOVERDRACHT, 'profiles')] },
    organizations: [await hostedOrganization(host, [role])],
    trusted: [
      {
        ...(await trustedOrganization(other, {
          fhir: `https://${other.id}.example/fhir/stu3`,
          notification: `https://${other.id}.example/eoverdracht/notification/Task`,
        })),
        notificationShape: shape,
      },
    ],
  });
  const store = await openStore({ dataDir });
  stores.push(store);
  const auth = await createAuth(config, store);
  const [r4, stu3] = await Promise.all([createValidator({ version: 'r4' }), createValidator({ version: 'stu3', profileFolders: config.profiles.folders })]);
  return { store, registry: auth.registry, credentials: auth.credentials, personPolicy: loadPersonPolicy(PURPOSE.pull), validators: { r4, stu3 }, clock: Date.now };
}

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222')]);
  [sending, receiving] = await Promise.all([contextOf(hospital, 'sender', vvt), contextOf(vvt, 'receiver', hospital)]);
}, 60_000);

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  for (const folder of folders) removeFolder(folder);
});

const unexpected = (what: string) => () => Promise.reject(new Error(`the fake gateway does not expect ${what}`));

/** The care provider's gateway as the sender sees it: it takes notifications of either shape and keeps them. */
function fakeReceivingGateway() {
  const notifications: { call: PeerCall; taskId?: string; notificationTask?: Resource }[] = [];
  const peer: Peer = {
    read: unexpected('a read'),
    readAll: unexpected('a batch read'),
    update: unexpected('an update'),
    notifyBolt: async (call, taskId) => {
      notifications.push({ call, taskId });
    },
    notifyTwiin: async (call, notificationTask) => {
      notifications.push({ call, notificationTask });
    },
  };
  return { peer, notifications };
}

/** The hospital's gateway as the receiver sees it: its Task and documents, the answers PUT to it, and whether it withdrew access. */
function fakeSendingGateway(task: Resource, documents: Resource[]) {
  const served = new Map([task, ...documents].map((resource) => [keyOf(resource), resource]));
  const state = {
    withdrawn: false,
    reads: 0,
    updates: [] as { resource: Resource; versionId: string | undefined }[],
    batchCalls: [] as PeerCall[],
    /** The handoff's answer to a call that names no person (a sender whose person policy opens it only to one). */
    refusalWithoutPerson: undefined as RemoteFailure | undefined,
    /** The documents (by key prefix) refusalWithoutPerson refuses: the handoff unless a test says otherwise. */
    personOnly: [NURSING_HANDOFF],
    /** On whose behalf each read of the handoff Composition (or its `$document`) was made. */
    handoffReaders: [] as PeerCall['person'][],
  };
  const serve = (key: string, call?: PeerCall): Resource => {
    if (state.withdrawn) throw new AccessWithdrawn('the credential was revoked');
    if (key.startsWith(NURSING_HANDOFF)) state.handoffReaders.push(call?.person);
    if (state.personOnly.some((prefix) => key.startsWith(prefix)) && !call?.person && state.refusalWithoutPerson) {
      throw new PermanentFailure(`GET ${key} ${state.refusalWithoutPerson.message}`, { cause: state.refusalWithoutPerson });
    }
    // `$document` of a Composition it serves: that Composition and the other resources (no other Composition)
    const documentOf = key.endsWith('/$document') ? served.get(key.slice(0, -'/$document'.length)) : undefined;
    if (documentOf) {
      const rest = documents.filter((resource) => resource.resourceType !== 'Composition');
      return { resourceType: 'Bundle', type: 'document', entry: [documentOf, ...rest].map((resource) => ({ resource: structuredClone(resource) })) };
    }
    const resource = served.get(key);
    if (!resource) throw new Error(`GET ${key} answered 404`);
    return structuredClone(resource);
  };
  const peer: Peer = {
    read: async (call, key) => {
      state.reads += 1;
      return serve(key, call);
    },
    readAll: async (call, keys) => {
      state.batchCalls.push(call);
      return keys.map((key) => serve(key, call));
    },
    update: async (_call, resource, versionId) => {
      state.updates.push({ resource, versionId });
    },
    notifyBolt: unexpected('a notification'),
    notifyTwiin: unexpected('a notification'),
  };
  const change = (next: Resource, documentsToServe: Resource[] = []) => {
    for (const resource of [next, ...documentsToServe]) served.set(keyOf(resource), resource);
  };
  return { peer, state, change };
}


const NURSE = { identifier: 'nurse-7', name: 'N. Verpleegkundige', role: 'nurse' };

/** Whether a Consent opens its resources only to a token that names a person (transfer/consents.ts). */
const requiresPerson = (consent: Resource | undefined) =>
  (consent?.extension as { url: string; valueBoolean?: boolean }[] | undefined)?.some((extension) => extension.url === CONSENT_REQUIRES_PERSON_EXTENSION && extension.valueBoolean === true) ?? false;

async function outboxOf(context: TransferContext, tenant: string, kind: string) {
  return context.store.outbox.list(tenant, { kind });
}

describe('the sender, with a fake receiving gateway', () => {
  /** The transfer's two Consents in the sender's R4 store (transfer/consents.ts): the Task's and the document's. */
  const consentsFor = async (taskId: string) => {
    const ids = consentIds(taskId);
    const read = (id: string) => readOptional(sending.store.resources, { tenant: hospital.id, version: 'r4' }, 'Consent', id);
    return { task: await read(ids.Task), data: await read(ids.advanceNotice), handoff: await read(ids.nursingHandoff) };
  };
  const dataOf = (consent: Resource | undefined) => (consent?.provision as { data: { reference: { reference: string } }[] }).data.map((entry) => entry.reference.reference);
  const actionsOf = (consent: Resource | undefined) => (consent?.provision as { action: { coding: { code: string }[] }[] }).action.map((entry) => entry.coding[0].code);

  it('notifies with nothing but the Task id and records Consents for the receiver: the Task, the advance notice, then the handoff', async () => {
    const receiving = fakeReceivingGateway();
    const offered = await offer(sending, { tenant: hospital.id, version: 'stu3', source: { bundle: transaction(advanceNotice) }, receivers: [vvt.id] });
    const [task] = offered.result;
    expect(task).toMatchObject({ resourceType: 'Task', status: 'requested', owner: { identifier: { value: vvt.ura } } });
    expect((await outboxOf(sending, hospital.id, OUTBOX_KINDS.notify)).map((message) => message.destination)).toEqual([vvt.id]);

    await sendNotification(sending, receiving.peer, hospital.id, task.id!);
    expect(receiving.notifications).toEqual([{ call: { tenant: hospital.id, peer: vvt.id }, taskId: task.id }]);
    const opened = await consentsFor(task.id!);
    for (const consent of [opened.task, opened.data]) {
      expect(consent).toMatchObject({
        resourceType: 'Consent',
        status: 'active',
        scope: { coding: [{ system: 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-consent-scope', code: 'eoverdracht' }] },
        organization: [{ identifier: { system: URA_SYSTEM, value: hospital.ura } }],
        provision: { type: 'permit', actor: [{ reference: { identifier: { system: URA_SYSTEM, value: vvt.ura } } }] },
      });
    }
    expect(dataOf(opened.task)).toEqual([`Task/${task.id}`]);
    expect(actionsOf(opened.task)).toEqual(['access', 'correct']);
    expect(actionsOf(opened.data)).toEqual(['access']);
    expect(dataOf(opened.data)).toContain(ADVANCE_NOTICE);
    expect(dataOf(opened.data)).not.toContain(NURSING_HANDOFF);
    expect(opened.handoff).toBeUndefined();
    expect(dataOf(opened.data).some((key) => key.startsWith('Patient/'))).toBe(true);

    const byReceiver = { role: 'receiver' as const, organization: vvt.id };
    await expect(changeOutboundTask(sending, { tenant: hospital.id, version: 'stu3', taskId: task.id!, proposed: { ...task, status: 'in-progress' }, by: byReceiver })).rejects.toThrow(/in-progress/);
    const accepted = await changeOutboundTask(sending, { tenant: hospital.id, version: 'stu3', taskId: task.id!, proposed: { ...task, status: 'accepted' }, by: byReceiver });
    expect(accepted.result.status).toBe('accepted');

    const handedOver = await handoff(sending, { tenant: hospital.id, version: 'stu3', taskId: task.id!, source: { bundle: transaction(nursingHandoff) } });
    expect(handedOver.result.status).toBe('in-progress');
    await sendNotification(sending, receiving.peer, hospital.id, task.id!);
    expect(receiving.notifications.at(-1)).toEqual({ call: { tenant: hospital.id, peer: vvt.id }, taskId: task.id });
    const handedOff = await consentsFor(task.id!);
    expect(dataOf(handedOff.data)).toContain(ADVANCE_NOTICE);
    expect(dataOf(handedOff.handoff)).toContain(NURSING_HANDOFF);
    expect([handedOff.data?.status, handedOff.handoff?.status]).toEqual(['inactive', 'active']);
    expect(actionsOf(handedOff.task)).toEqual(['access', 'correct']);
    // The policy (conformance/person-policy.json) decides which Consents open their resources only to a person.
    const policy = loadPersonPolicy(PURPOSE.pull);
    expect([handedOff.task, handedOff.data, handedOff.handoff].map(requiresPerson)).toEqual([policy.Task, policy.advanceNotice, policy.nursingHandoff]);

    await changeOutboundTask(sending, { tenant: hospital.id, version: 'stu3', taskId: task.id!, proposed: { ...handedOver.result, status: 'cancelled' }, by: { role: 'sender' } });
    const ended = await consentsFor(task.id!);
    expect([ended.data?.status, ended.handoff?.status]).toEqual(['inactive', 'inactive']);
    expect(ended.task).toMatchObject({ status: 'active', provision: { period: { end: expect.any(String) } } });
    expect(actionsOf(ended.task)).toEqual(['access']);
  });

  it('notifies a receiver configured for Twiin with a notification Task that names the parties by URA and nothing of the patient', async () => {
    const twiin = await contextOf(hospital, 'sender', vvt, 'twiin');
    const receiving = fakeReceivingGateway();
    const [task] = (await offer(twiin, { tenant: hospital.id, version: 'stu3', source: { bundle: transaction(advanceNotice) }, receivers: [vvt.id] })).result;
    await sendNotification(twiin, receiving.peer, hospital.id, task.id!);
    const [{ call, notificationTask }] = receiving.notifications;
    expect(call).toEqual({ tenant: hospital.id, peer: vvt.id });
    const parties = { notifier: hospital, notified: vvt };
    expect(announcedTask(notificationTask, parties, Date.now()).workflowTask).toBe(task.id);
    expect(notificationTask).toMatchObject({ groupIdentifier: task.groupIdentifier, basedOn: [{ reference: `Task/${task.id}` }] });
    expect(notificationTask!.for).toBeUndefined();
    expect(twiin.validators.stu3.validate(notificationTask!).issue.filter((issue) => issue.severity === 'error')).toEqual([]);
  });
});

describe('the receiver, with a fake sending gateway', () => {
  const remoteId = 'remote-task-1';
  const localTask = () => localId(hospital.id, `Task/${remoteId}`);
  const localStatus = async () => (await readTask(receiving.store.resources, vvt.id, localTask()))?.stu3.status;
  let sender: ReturnType<typeof fakeSendingGateway>;

  beforeAll(async () => {
    const task = newTask({
      id: remoteId,
      group: 'urn:uuid:2b0c5d4e-4f51-4c6b-9a59-6c1f0e3c3a11',
      patient: String((advanceNotice.find((resource) => keyOf(resource) === ADVANCE_NOTICE)!.subject as { reference: string }).reference),
      advanceNotice: ADVANCE_NOTICE,
      now: new Date().toISOString(),
      sender: hospital,
      receiver: vvt,
    });
    sender = fakeSendingGateway({ ...task, meta: { ...task.meta, versionId: '1' } }, advanceNotice);
  });

  it('takes a notification in, pulls the Task and its advance notice and keeps local copies', async () => {
    await receiveNotification(receiving, { tenant: vvt.id, sender: hospital.id, remoteTask: remoteId });
    expect((await outboxOf(receiving, vvt.id, OUTBOX_KINDS.pull)).map((message) => message.payload)).toEqual([{ task: localTask() }]);

    await pull(receiving, sender.peer, vvt.id, localTask());
    expect(await localStatus()).toBe('requested');
    const composition = await receiving.store.resources.read({ tenant: vvt.id, version: 'stu3' }, 'Composition', localId(hospital.id, ADVANCE_NOTICE));
    expect(composition).toMatchObject({ resourceType: 'Composition' });
  });

  it("sends the EHR's answer to the sender's Task as it is there, with If-Match", async () => {
    const current = (await readTask(receiving.store.resources, vvt.id, localTask()))!.stu3;
    await answer(receiving, { tenant: vvt.id, version: 'stu3', proposed: { ...current, status: 'accepted' }, person: NURSE });
    const [queued] = await outboxOf(receiving, vvt.id, OUTBOX_KINDS.answer);
    await deliverAnswer(receiving, sender.peer, vvt.id, queued.payload as { task: string; status: string });
    expect(sender.state.updates).toEqual([{ resource: expect.objectContaining({ id: remoteId, status: 'accepted' }), versionId: '1' }]);
  });

  it('pulls the handoff with the in-progress Task, so its copy never shows in-progress without it, as the nurse who accepted', async () => {
    const remote = sender.state.updates[0].resource;
    sender.change({ ...withHandoff(remote, NURSING_HANDOFF), status: 'in-progress', meta: { versionId: '3' } }, nursingHandoff);
    sender.state.batchCalls.length = 0;
    await pull(receiving, sender.peer, vvt.id, localTask());
    expect(sender.state.batchCalls.map((call) => call.person)).toEqual(sender.state.batchCalls.map(() => NURSE));
    expect(sender.state.batchCalls.length).toBeGreaterThan(0);
    expect(await localStatus()).toBe('in-progress');
    const copy = await receiving.store.resources.read({ tenant: vvt.id, version: 'stu3' }, 'Composition', localId(hospital.id, NURSING_HANDOFF));
    expect(copy).toMatchObject({ resourceType: 'Composition' });
  });

  it('ends its copy when the sender withdraws access (the transfer was cancelled there)', async () => {
    sender.state.withdrawn = true;
    await pull(receiving, sender.peer, vvt.id, localTask());
    expect(await localStatus()).toBe('cancelled');
  });
});

/**
 * A Task that starts in-progress, from a sender that opens the handoff only to a named person: the notified pull
 * names nobody, so the Task waits for the EHR to name the nurse (issue #15 item 4, docs/transfer.md).
 */
describe('the receiver, when the sender opens the handoff only to a person', () => {
  const remoteId = 'remote-task-in-progress';
  let waiting: TransferContext;
  const localTask = () => localId(hospital.id, `Task/${remoteId}`);
  const userIdentityRequired = forbidden('read requires a user identity');
  userIdentityRequired.issue[0]!.details!.coding = [{ system: REFUSAL_REASON_SYSTEM, code: 'user-identity-required' }];
  /** A Dezi id_token as the receiver keeps it (sealed): it reads only the expiry, and opens nothing here. */
  const deziOf = (exp: number) => ({ exp, sealed: 'c2VhbGVk' });

  async function inProgressSender(refusal: RemoteFailure) {
    const patient = String((advanceNotice.find((resource) => keyOf(resource) === ADVANCE_NOTICE)!.subject as { reference: string }).reference);
    const task = newTask({ id: remoteId, group: 'urn:uuid:6f1f7f3e-0b7c-4b8e-9d0e-2f4f3c9a7d21', patient, advanceNotice: ADVANCE_NOTICE, now: new Date().toISOString(), sender: hospital, receiver: vvt });
    const sender = fakeSendingGateway({ ...withHandoff(task, NURSING_HANDOFF), status: 'in-progress', meta: { versionId: '1' } }, [...advanceNotice, ...nursingHandoff]);
    sender.state.refusalWithoutPerson = refusal;
    waiting = await contextOf(vvt, 'receiver', hospital);
    await receiveNotification(waiting, { tenant: vvt.id, sender: hospital.id, remoteTask: remoteId });
    return sender;
  }

  const localCopy = async () => (await readTask(waiting.store.resources, vvt.id, localTask()))?.stu3;
  const handoffCopy = () => readOptional(waiting.store.resources, { tenant: vvt.id, version: 'stu3' }, 'Composition', localId(hospital.id, NURSING_HANDOFF));

  it.each([
    ['a gateway like this one, with the refusal reason user-identity-required', new RemoteFailure(403, userIdentityRequired)],
    ["another vendor's sender, with a plain 403", new RemoteFailure(403, forbidden('Forbidden'))],
  ])('stores the Task awaiting a person, and pulls the handoff on behalf of the nurse the EHR names: %s', async (_case, refusal) => {
    const sender = await inProgressSender(refusal);
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect(await localCopy()).toMatchObject({ status: 'in-progress', businessStatus: AWAITING_PERSON });
    expect(await handoffCopy()).toBeUndefined();

    const dezi = deziOf(Math.floor(Date.now() / 1000) + 600);
    await pullOnBehalf(waiting, { tenant: vvt.id, version: 'r4', task: localTask(), person: { ...NURSE, dezi } });
    expect((await outboxOf(waiting, vvt.id, OUTBOX_KINDS.pull)).map((message) => message.payload)).toEqual([{ task: localTask() }, { task: localTask() }]);
    sender.state.handoffReaders.length = 0;
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect(await handoffCopy()).toMatchObject({ resourceType: 'Composition' });
    expect((await localCopy())?.businessStatus).toBeUndefined();
    expect(sender.state.handoffReaders).toEqual([{ ...NURSE, dezi }]);
    // The Dezi id_token was needed for the handoff only: the transfer record keeps the person without it.
    expect((await readInbound(waiting.store, vvt.id, localTask()))?.person).toEqual(NURSE);
  });

  it("marks the waiting Task with the one concept of CodeSystem transfer-state", () => {
    const codeSystem = JSON.parse(readFileSync(new URL('../../profiles/r4/transfer/CodeSystem-transfer-state.json', import.meta.url), 'utf8')) as { url: string; concept: { code: string; display: string }[] };
    expect(AWAITING_PERSON.coding).toEqual(codeSystem.concept.map(({ code, display }) => ({ system: codeSystem.url, code, display })));
  });

  it('queues the pull again when the EHR updates the waiting Task with a token naming the nurse', async () => {
    const sender = await inProgressSender(new RemoteFailure(403, userIdentityRequired));
    await pull(waiting, sender.peer, vvt.id, localTask());
    const pulls = async () => (await outboxOf(waiting, vvt.id, OUTBOX_KINDS.pull)).length;
    const before = await pulls();
    await answer(waiting, { tenant: vvt.id, version: 'stu3', proposed: (await localCopy())!, person: NURSE });
    expect(await pulls()).toBe(before + 1);
    sender.state.handoffReaders.length = 0;
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect([sender.state.handoffReaders, (await localCopy())?.businessStatus]).toEqual([[NURSE], undefined]);
  });

  it('refuses $pull to a token that names no person', async () => {
    await inProgressSender(new RemoteFailure(403, userIdentityRequired));
    await expect(pullOnBehalf(waiting, { tenant: vvt.id, version: 'stu3', task: localTask() })).rejects.toMatchObject({ outcome: { id: 'unprocessable' } });
  });

  it('takes a refusal of the handoff to a call that named a person for what it is: a failure, dead-lettered', async () => {
    const sender = await inProgressSender(new RemoteFailure(403, userIdentityRequired));
    sender.state.refusalWithoutPerson = undefined;
    const served = sender.peer.read;
    sender.peer.read = async (call, key) => {
      if (key.startsWith(NURSING_HANDOFF)) throw new PermanentFailure(`GET ${key} answered 403`, { cause: new RemoteFailure(403, forbidden('no Consent')) });
      return served(call, key);
    };
    await pull(waiting, sender.peer, vvt.id, localTask());
    await pullOnBehalf(waiting, { tenant: vvt.id, version: 'stu3', task: localTask(), person: NURSE });
    await expect(pull(waiting, sender.peer, vvt.id, localTask())).rejects.toBeInstanceOf(PermanentFailure);
    expect((await localCopy())?.businessStatus).toEqual(AWAITING_PERSON);
  });

  it('keeps the Dezi id_token for the handoff when the sender opened the advance notice only to the person too', async () => {
    const patient = String((advanceNotice.find((resource) => keyOf(resource) === ADVANCE_NOTICE)!.subject as { reference: string }).reference);
    const task = newTask({ id: remoteId, group: 'urn:uuid:6f1f7f3e-0b7c-4b8e-9d0e-2f4f3c9a7d22', patient, advanceNotice: ADVANCE_NOTICE, now: new Date().toISOString(), sender: hospital, receiver: vvt });
    const sender = fakeSendingGateway({ ...task, meta: { versionId: '1' } }, [...advanceNotice, ...nursingHandoff]);
    sender.state.refusalWithoutPerson = new RemoteFailure(403, userIdentityRequired);
    sender.state.personOnly = [ADVANCE_NOTICE, NURSING_HANDOFF];
    waiting = await contextOf(vvt, 'receiver', hospital);
    await receiveNotification(waiting, { tenant: vvt.id, sender: hospital.id, remoteTask: remoteId });
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect((await localCopy())?.businessStatus).toEqual(AWAITING_PERSON);
    const dezi = deziOf(Math.floor(Date.now() / 1000) + 600);
    await pullOnBehalf(waiting, { tenant: vvt.id, version: 'stu3', task: localTask(), person: { ...NURSE, dezi } });
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect((await localCopy())?.businessStatus).toBeUndefined();
    expect((await readInbound(waiting.store, vvt.id, localTask()))?.person).toEqual({ ...NURSE, dezi });
  });

  it('does not send an expired Dezi id_token', async () => {
    const sender = await inProgressSender(new RemoteFailure(403, userIdentityRequired));
    await pull(waiting, sender.peer, vvt.id, localTask());
    await pullOnBehalf(waiting, { tenant: vvt.id, version: 'stu3', task: localTask(), person: { ...NURSE, dezi: deziOf(Math.floor(Date.now() / 1000) - 1) } });
    sender.state.handoffReaders.length = 0;
    await pull(waiting, sender.peer, vvt.id, localTask());
    expect(sender.state.handoffReaders).toEqual([NURSE]);
  });
});

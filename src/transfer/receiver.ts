import { createHash, randomUUID } from 'node:crypto';
import { badRequest, hasErrors, notFound, OperationOutcomeError, outcome, preconditionFailed, unprocessable, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { Person } from '../fhir/principal.js';
import { withoutDezi, withoutExpiredDezi } from '../auth/credentials/person.js';
import { isConvertible } from '../fhir/convert/index.js';
import type { ResourceRepository } from '../store/repository.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { PermanentFailure } from '../outbox/dispatcher.js';
import { VersionConflict } from '../store/optimistic.js';
import { readOptional } from '../store/optional.js';
import { TRANSFER_STATE_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import { asList, isObject } from '../vocabulary/json.js';
import { documentKind, PROFILES, withCurrentDocumentCode } from './codes.js';
import { announcedTask } from './notification-task.js';
import { announceStatus, identifiesOrganization, inTransaction, nowInstant, orderingKey, OUTBOX_KINDS, referencesOrganization, requireRole, type TransferContext } from './context.js';
import type { QueuedAnswer } from './payloads.js';
import { AccessWithdrawn, refusedForLackOfPerson, remoteAnswerOf, type Peer, type PeerCall } from './peer.js';
import { readInbound, saveInbound, type InboundTransfer } from './records.js';
import { keyOf, literalReference, parseReference, relativeReferences, rewriteReferences } from './references.js';
import { readTask, saveInBothReleases, saveTask, scopeOf, toCaller } from './storage.js';
import { answerIn, sameAnswer, withAnswer, withRoutingOf } from './task.js';
import { accessibleDocument, checkTaskUpdate, documentReference, isTerminal, statusOf } from './task-status.js';

/**
 * The care provider's side of notified pull: a notification is taken in at once and the pull is queued; the pull
 * fetches the Task and the document its status opens and stores local copies for the receiving EHR (both releases);
 * the EHR answers by updating its local copy, and the answer is queued for the sender. The pulled Task is the
 * truth: duplicate or late notifications only cause another pull.
 *
 * Local copies get ids of their own (a hash of sender and original id), so two senders' `Patient/1` never meet, and
 * references between them are rewritten alike.
 */
export function localId(sender: string, key: string): string {
  return createHash('sha256').update(`${sender}|${key}`).digest('hex').slice(0, 40);
}

const localKey = (sender: string, key: string) => {
  const target = parseReference(key);
  return target ? `${target.type}/${localId(sender, key)}` : key;
};

/** A notification, whatever its shape: who notified whom of which of the notifier's Tasks. Nothing else is in it. */
export interface Notification {
  /** The notified (receiving) organisation. */
  tenant: string;
  /** The notifying organisation, as authenticated. */
  sender: string;
  remoteTask: string;
}

export async function receiveNotification(context: TransferContext, notification: Notification): Promise<void> {
  const { tenant, sender, remoteTask } = notification;
  requireRole(context, tenant, 'receiver');
  const task = localId(sender, `Task/${remoteTask}`);
  await inTransaction(context, async (tx) => {
    const held = await readInbound(tx.store, tenant, task);
    if (held && (held.sender !== sender || held.remoteTask !== remoteTask)) throw new OperationOutcomeError(badRequest('Notification does not match the transfer on record'));
    if (!held) await saveInbound(tx.store, tenant, { task, sender, remoteTask });
    await queuePull(tx, tenant, { sender, task });
  });
}

/**
 * A Twiin notification Task: checked (shape, parties, no patient data, base STU3), then taken in as a notification of
 * the workflow Task it is based on. The answer is the notification Task with an id; it is not kept as a resource:
 * what the receiver keeps is the workflow Task it pulls.
 */
export async function receiveNotificationTask(context: TransferContext, tenant: string, sender: string, body: unknown): Promise<Resource> {
  requireRole(context, tenant, 'receiver');
  const parties = { notifier: context.registry.trusted(sender) ?? { id: sender }, notified: context.registry.hosted(tenant)!.organization };
  const { notification, workflowTask } = announcedTask(body, parties, context.clock());
  const result = context.validators.stu3.validate(notification);
  if (hasErrors(result)) throw new OperationOutcomeError(outcome('unprocessable', result.issue));
  await receiveNotification(context, { tenant, sender, remoteTask: workflowTask });
  return { ...notification, id: randomUUID(), meta: { lastUpdated: nowInstant(context) } };
}

async function inbound(context: TransferContext, tenant: string, task: string): Promise<InboundTransfer> {
  const record = await readInbound(context.store, tenant, task);
  if (!record) throw new PermanentFailure(`no inbound transfer ${task} on record`);
  return record;
}

/**
 * The calls about one transfer: tokens for the sender's Task, which the sender authorizes by the Consents it recorded, on
 * behalf of the person the receiving EHR last named for it (a sender's policy may open the handoff only to a person);
 * their Dezi id_token only while it is valid.
 */
function transferCall(context: TransferContext, tenant: string, record: InboundTransfer): PeerCall {
  const person = record.person && withoutExpiredDezi(record.person, context.clock() / 1000);
  return { tenant, peer: record.sender, about: `Task/${record.remoteTask}`, ...(person ? { person } : {}) };
}

/**
 * Task.businessStatus of a local Task whose sender opens the nursing handoff only to a named person, while nobody
 * here has been named: the EHR sees the sender's status (in-progress) and knows the document is not there yet.
 */
export const AWAITING_PERSON = {
  coding: [{ system: TRANSFER_STATE_SYSTEM, code: 'awaiting-person', display: 'Overdracht wacht op een persoon' }],
  text: 'The sender opens the nursing handoff only to a named person: call $pull on this Task, or update it, with a token that names the nurse',
} as const;

const AWAITING = AWAITING_PERSON.coding[0];

function isAwaitingPerson(task: Resource): boolean {
  const codings = isObject(task.businessStatus) ? asList(task.businessStatus.coding) : [];
  return codings.some((coding) => isObject(coding) && coding.system === AWAITING.system && coding.code === AWAITING.code);
}

/** What the pull brought of the document: the resources, or a refusal that a named person would lift. */
type PulledDocument = { resources: Resource[]; awaitingPerson: boolean };

/**
 * The queued pull (outbox `transfer.pull`). A refusal of the Task itself (403, or 401 after a fresh token) is final:
 * the message is dead-lettered with the sender's reason and the local Task is left as it is. A refusal of the
 * document to a call that named no person (the sender's person policy) is no failure: the Task is stored with the
 * business status awaiting-person, and the pull that the EHR's naming of a person queues (`pullOnBehalf`, an answer)
 * fetches the document.
 */
export async function pull(context: TransferContext, peer: Peer, tenant: string, task: string): Promise<void> {
  const record = await inbound(context, tenant, task);
  const call = transferCall(context, tenant, record);
  let remote: Resource;
  try {
    remote = await peer.read(call, `Task/${record.remoteTask}`);
  } catch (error) {
    if (error instanceof AccessWithdrawn) return endLocally(context, tenant, record);
    throw error;
  }
  await checkPulledTask(context, peer, call, remote);
  // The receiving EHR sees a status only with its document, or marked as awaiting the person the document needs.
  const document = await pullDocument(context, peer, call, record, remote).then(
    (resources): PulledDocument => ({ resources, awaitingPerson: false }),
    (error: unknown): PulledDocument => {
      if (call.person || !refusedForLackOfPerson(error)) throw error;
      return { resources: [], awaitingPerson: true };
    },
  );
  await inTransaction(context, async (tx) => {
    for (const resource of document.resources) await saveReceived(tx.store.resources, tenant, localCopy(record, resource));
    if (document.resources.length > 0 && accessibleDocument(statusOf(remote)) === 'nursingHandoff') await forgetDezi(tx, tenant, task);
    const previous = await readTask(tx.store.resources, tenant, task);
    const copy = { ...localCopy(record, remote), identifier: [taskIdentifier(tx, record)], ...(document.awaitingPerson ? { businessStatus: AWAITING_PERSON } : {}) };
    if (previous && sameState(previous.stu3, copy)) return;
    const saved = await saveTask(tx, tenant, copy, previous);
    await announceStatus(tx, { tenant, side: 'receiver', task: saved.stu3, previousStatus: previous && statusOf(previous.stu3) });
  });
}

const sameState = (stored: Resource, pulled: Resource) =>
  stored.status === pulled.status && stored.lastModified === pulled.lastModified && JSON.stringify(stored.businessStatus) === JSON.stringify(pulled.businessStatus);

/** The Dezi id_token of the remembered person was needed for the handoff only: once that is here, it is not kept. */
async function forgetDezi(context: TransferContext, tenant: string, task: string): Promise<void> {
  const record = await readInbound(context.store, tenant, task);
  if (!record?.person?.dezi) return;
  await saveInbound(context.store, tenant, { ...record, person: withoutDezi(record.person) });
}

/**
 * A pulled document resource, in both releases; one of a type the converter does not map (a Nictiz handoff's
 * Consent, say) only as it was sent, in STU3: refusing it would refuse the whole handoff.
 */
async function saveReceived(resources: ResourceRepository, tenant: string, resource: Resource): Promise<void> {
  if (isConvertible(resource.resourceType)) await saveInBothReleases(resources, tenant, resource);
  else await resources.update(scopeOf(tenant, 'stu3'), resource);
}

/**
 * The pulled Task must be owned by the tenant: `owner` names it by identifier, or is a literal reference to an
 * Organization on the sender's server that carries one of the tenant's identifiers (as Nictiz's Tasks do).
 */
async function checkPulledTask(context: TransferContext, peer: Peer, call: PeerCall, task: Resource): Promise<void> {
  const organization = context.registry.hosted(call.tenant)!.organization;
  if (task.resourceType !== 'Task' || !(await ownedBy(peer, call, task.owner, organization))) {
    throw new PermanentFailure(`the pulled Task is not owned by '${call.tenant}'`);
  }
  refuseInvalid(context, [task]);
}

async function ownedBy(peer: Peer, call: PeerCall, owner: unknown, organization: { id: string; ura?: string; agb?: string }): Promise<boolean> {
  if (referencesOrganization(owner, organization)) return true;
  const key = parseReference(literalReference(owner));
  if (key?.type !== 'Organization') return false;
  const identifiers = (await peer.read(call, `Organization/${key.id}`)).identifier;
  return Array.isArray(identifiers) && identifiers.some((identifier) => identifiesOrganization(identifier, organization));
}

/** The document the Task's status opens, once per document: by `$document`, or the Composition and then what it references, level by level, one batch each. */
async function pullDocument(context: TransferContext, peer: Peer, call: PeerCall, record: InboundTransfer, task: Resource): Promise<Resource[]> {
  const kind = accessibleDocument(statusOf(task));
  const composition = kind && documentReference(task, kind);
  if (!composition) return [];
  if (await readOptional(context.store.resources, scopeOf(call.tenant, 'stu3'), 'Composition', localId(record.sender, composition))) return [];
  const pulled = await documentOf(peer, call, composition);
  const notPulled = () => [...new Set([...pulled.values()].flatMap(relativeReferences))].filter((key) => !pulled.has(key));
  for (let level = notPulled(); level.length > 0; level = notPulled()) {
    for (const resource of await peer.readAll(call, level)) pulled.set(keyOf(resource), resource);
  }
  const resources = [...pulled.values()].map((resource) => (resource.resourceType === 'Composition' ? withCurrentDocumentCode(resource).composition : resource));
  refuseInvalid(context, resources);
  return resources;
}

/** Statuses of a sender that does not offer `$document`: the Composition is then read, and what it references. */
const NO_DOCUMENT_OPERATION = [400, 404, 405, 501];

/**
 * `Composition/{id}/$document` (Nictiz TA: how the receiving XIS retrieves the nursing handoff): the Composition and
 * what it references in one answer. A sender without the operation answers 404 (or 400/405/501): the Composition is
 * then read on its own, and the rest follows level by level.
 */
async function documentOf(peer: Peer, call: PeerCall, composition: string): Promise<Map<string, Resource>> {
  const pulled = new Map<string, Resource>();
  try {
    const bundle = await peer.read(call, `${composition}/$document`);
    for (const entry of (bundle.entry as { resource?: Resource }[] | undefined) ?? []) if (entry.resource) pulled.set(keyOf(entry.resource), entry.resource);
  } catch (error) {
    const status = remoteAnswerOf(error)?.status;
    if (status === undefined || !NO_DOCUMENT_OPERATION.includes(status)) throw error;
  }
  if (!pulled.has(composition)) pulled.set(composition, await peer.read(call, composition));
  return pulled;
}

/** Received data that does not validate is not stored: the message is dead-lettered with the issues, for a person to look at. */
function refuseInvalid(context: TransferContext, resources: Resource[]): void {
  const errors: OperationOutcomeIssue[] = [];
  for (const resource of resources) {
    const profile = requiredProfile(resource);
    const enforce = profile && context.validators.stu3.knowsProfile(profile) ? { profiles: [profile] } : undefined;
    const result = context.validators.stu3.validate(resource, enforce);
    if (hasErrors(result)) errors.push(...result.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal'));
  }
  if (errors.length > 0) throw new PermanentFailure(`pulled data does not validate: ${errors.map((i) => i.details?.text ?? i.code).join('; ')}`);
}

function requiredProfile(resource: Resource): string | undefined {
  if (resource.resourceType === 'Task') return PROFILES.task;
  if (resource.resourceType !== 'Composition') return undefined;
  const kind = documentKind(resource);
  if (kind === 'advanceNotice') return PROFILES.advanceNotice;
  const claimed = resource.meta?.profile ?? [];
  return kind && (PROFILES.nursingHandoff.find((profile) => claimed.includes(profile)) ?? PROFILES.nursingHandoffAdults);
}

function localCopy(record: InboundTransfer, resource: Resource): Resource {
  const { meta, ...rest } = rewriteReferences(resource, (reference) => localKey(record.sender, reference));
  const profile = meta?.profile;
  const copy = { ...rest, id: localId(record.sender, keyOf(resource)), ...(profile ? { meta: { profile } } : {}) };
  return resource.resourceType === 'Task' ? withRoutingOf(copy, resource) : copy;
}

/** The local copy names the sender's Task, for the EHR and for people comparing notes by phone. */
function taskIdentifier(context: TransferContext, record: InboundTransfer): { system: string; value: string } {
  const base = context.registry.trusted(record.sender)?.endpoints.fhir ?? record.sender;
  return { system: URI_SYSTEM, value: `${base.replace(/\/$/, '')}/Task/${record.remoteTask}` };
}

/** The sender withdrew access: the transfer is over. If this side did not end it, the sender cancelled it. */
async function endLocally(context: TransferContext, tenant: string, record: InboundTransfer): Promise<void> {
  await inTransaction(context, async (tx) => {
    const local = await readTask(tx.store.resources, tenant, record.task);
    if (!local || isTerminal(statusOf(local.stu3))) return;
    const saved = await saveTask(tx, tenant, { ...local.stu3, status: 'cancelled', lastModified: nowInstant(tx) }, local);
    await announceStatus(tx, { tenant, side: 'receiver', task: saved.stu3, previousStatus: statusOf(local.stu3) });
  });
}

export interface LocalAnswer {
  tenant: string;
  /** The release of `proposed`. */
  version: FhirVersion;
  proposed: Resource;
  ifMatch?: string;
  /** The person the EHR's token names: remembered for the transfer's calls to the sender. */
  person?: Person;
}

/** True when the Task is the local copy of a transfer offered to this tenant (the REST layer routes its writes here). */
export async function isInboundTask(context: TransferContext, tenant: string, taskId: string): Promise<boolean> {
  return (await readInbound(context.store, tenant, taskId)) !== undefined;
}

/** The receiving EHR answers by updating its local copy; the answer is queued for the sender. */
export async function answer(context: TransferContext, change: LocalAnswer): Promise<Resource> {
  try {
    return await inTransaction(context, (tx) => applyAnswer(tx, change));
  } catch (error) {
    throw error instanceof VersionConflict ? toCaller(error, change.ifMatch) : error;
  }
}

async function applyAnswer(context: TransferContext, change: LocalAnswer): Promise<Resource> {
  const { tenant, version, proposed } = change;
  const id = proposed.id as string;
  const record = await inbound(context, tenant, id);
  const current = await readTask(context.store.resources, tenant, id);
  if (!current) throw new OperationOutcomeError(notFound(`Task/${id} is not known`));
  if (change.ifMatch !== undefined && current[version].meta?.versionId !== change.ifMatch) {
    throw new OperationOutcomeError(preconditionFailed(`Task/${id} is at version ${current[version].meta?.versionId}, not ${change.ifMatch}`));
  }
  const refused = checkTaskUpdate('receiver', current[version], proposed);
  if (refused) throw new OperationOutcomeError(refused);
  if (change.person) {
    await rememberPerson(context, tenant, record, change.person);
    if (isAwaitingPerson(current.stu3)) await queuePull(context, tenant, record);
  }
  const given = answerIn(proposed);
  if (sameAnswer(given, answerIn(current.stu3))) return current[version];
  const saved = await saveTask(context, tenant, { ...withAnswer(current.stu3, given), lastModified: nowInstant(context) }, current);
  await announceStatus(context, { tenant, side: 'receiver', task: saved.stu3, previousStatus: statusOf(current.stu3) });
  await context.store.outbox.enqueue({
    tenant,
    kind: OUTBOX_KINDS.answer,
    destination: record.sender,
    payload: { task: id, ...given } satisfies QueuedAnswer,
    orderingKey: orderingKey(id),
  });
  return saved[version];
}

/**
 * The person the EHR names for the transfer from now on. Naming one is what a local Task awaiting a person waits
 * for: the callers then queue the pull again, to carry them.
 */
async function rememberPerson(context: TransferContext, tenant: string, record: InboundTransfer, person: Person): Promise<void> {
  if (JSON.stringify(person) !== JSON.stringify(record.person)) await saveInbound(context.store, tenant, { ...record, person });
}

async function queuePull(context: TransferContext, tenant: string, { sender, task }: Pick<InboundTransfer, 'sender' | 'task'>): Promise<void> {
  await context.store.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.pull, destination: sender, payload: { task }, orderingKey: orderingKey(task) });
}

/**
 * `POST Task/{id}/$pull` of the receiving EHR: the person its token names is remembered for the transfer and the pull
 * is queued, on their behalf (what a sender's person policy asks before it opens the nursing handoff). Answers the
 * local Task as it is now; the pulled document and the Task without awaiting-person follow when the pull is done.
 */
export async function pullOnBehalf(context: TransferContext, request: { tenant: string; version: FhirVersion; task: string; person?: Person }): Promise<Resource> {
  const { tenant, version, task, person } = request;
  requireRole(context, tenant, 'receiver');
  if (!person) throw new OperationOutcomeError(unprocessable('$pull asks the sender on behalf of a person: the token must name one (usi or dezi_id_token in the client assertion)'));
  return inTransaction(context, async (tx) => {
    const record = await readInbound(tx.store, tenant, task);
    const local = record && (await readTask(tx.store.resources, tenant, task));
    if (!record || !local) throw new OperationOutcomeError(notFound(`Task/${task} is no transfer offered to '${tenant}'`));
    await rememberPerson(tx, tenant, record, person);
    await queuePull(tx, tenant, record);
    return local[version];
  });
}

/** The queued answer (outbox `transfer.answer`): PUT onto the sender's Task as it is now, judged there by its state machine. */
export async function deliverAnswer(context: TransferContext, peer: Peer, tenant: string, payload: QueuedAnswer): Promise<void> {
  const record = await inbound(context, tenant, payload.task);
  const call = transferCall(context, tenant, record);
  let remote: Resource;
  try {
    remote = await peer.read(call, `Task/${record.remoteTask}`);
  } catch (error) {
    if (error instanceof AccessWithdrawn) throw new PermanentFailure(`the sender ended the transfer before the answer '${payload.status}' arrived`);
    throw error;
  }
  const { task: _task, ...given } = payload;
  if (sameAnswer(answerIn(remote), given)) return;
  await peer.update(call, withAnswer(remote, given), remote.meta?.versionId);
}

import { QUERY_DIRECTORY_SCOPE } from '../directory/query-directory.js';
import { randomUUID } from 'node:crypto';
import type { NotificationShape, TrustedOrganization } from '../config/config.js';
import {
  conflict,
  forbidden,
  notFound,
  OperationOutcomeError,
  preconditionFailed,
  unprocessable,
  type OperationOutcomeIssue,
} from '../fhir/outcome.js';
import { convertResource } from '../fhir/convert/index.js';
import { isReference, type FhirVersion, type Resource } from '../fhir/version.js';
import { PermanentFailure } from '../outbox/dispatcher.js';
import { VersionConflict } from '../store/optimistic.js';
import { readOptional } from '../store/optional.js';
import { AGB_SYSTEM, ORGANIZATION_ID_SYSTEM, URA_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import { isObject, stringAt } from '../vocabulary/json.js';
import { hasCode, NOTIFICATION_PAYLOAD_TYPE, PROFILES, type Coding, type DocumentKind } from './codes.js';
import {
  announceStatus,
  inTransaction,
  nowInstant,
  orderingKey,
  organizationReference,
  OUTBOX_KINDS,
  requireRole,
  type TransferContext,
} from './context.js';
import { recordConsents } from './consents.js';
import { readDocument, type DocumentSource, type TransferDocument } from './document.js';
import { notificationTask } from './notification-task.js';
import type { Peer } from './peer.js';
import { readOutbound, saveOutbound, type OutboundTransfer } from './records.js';
import { keyOf, literalReference, parseReference } from './references.js';
import { readTask, saveTask, scopeOf, type BothReleases } from './storage.js';
import { toCaller } from './storage.js';
import { answerIn, newTask, routingReference, sameAnswer, withAnswer, withHandoff } from './task.js';
import {
  accessibleDocument,
  allowedTransitions,
  checkTaskCreate,
  checkTaskUpdate,
  documentReference,
  isTerminal,
  statusOf,
  type TaskStatus,
  type TransferRole,
} from './task-status.js';

/**
 * The hospital's side: offers a transfer to candidate receivers, follows their answers, hands the nursing data
 * over to the one the EHR confirms and cancels the others. Every change is one transaction: the Tasks (in both
 * releases), the Consents, the bookkeeping and the notifications to send commit together or not at all.
 */
export interface OfferRequest {
  tenant: string;
  /** The release the EHR speaks (of the document and of the Tasks it gets back). */
  version: FhirVersion;
  source: DocumentSource;
  /** Trusted organisation ids, one Task each. */
  receivers: string[];
  /** The care type asked for: the Tasks carry it as performerType. */
  careType?: Coding;
}

export interface TransferResult<T> {
  result: T;
  /** Warnings for the EHR (e.g. a pre-2022 document code that was replaced). */
  issues: OperationOutcomeIssue[];
}

export async function offer(context: TransferContext, request: OfferRequest): Promise<TransferResult<Resource[]>> {
  const { tenant, version } = request;
  requireRole(context, tenant, 'sender');
  const receivers = request.receivers.map((id) => notifiableReceiver(context, id));
  const document = await readDocument(request.source, 'advanceNotice', documentContext(context, tenant, version));
  const patient = patientOf(document.composition);
  const sender = context.registry.hosted(tenant)!.organization;
  const taskIds = receivers.map(() => randomUUID());
  const group = `urn:uuid:${randomUUID()}`;
  const now = nowInstant(context);
  const tasks = await inTransaction(context, async (tx) => {
    await storeDocument(tx, tenant, document);
    const created: Resource[] = [];
    for (const [index, receiver] of receivers.entries()) {
      const task = newTask({ id: taskIds[index], group, patient, advanceNotice: keyOf(document.composition), now, sender, receiver, careType: request.careType });
      created.push((await openTransfer(tx, tenant, { task, receiver, document, offer: taskIds }))[version]);
    }
    return created;
  });
  return { result: tasks, issues: document.issues };
}

/** A new Task of a transfer and what it opens: the receiver it is offered to, the document it shares, its offer. */
interface Opening {
  task: Resource & { id: string };
  receiver: TrustedOrganization;
  document: TransferDocument;
  /** Every Task of the same offer, this one included. */
  offer: string[];
}

/** In the transaction of the start: the Task is stored, its Consents recorded, its bookkeeping kept, the receiver notified. */
async function openTransfer(context: TransferContext, tenant: string, { task, receiver, document, offer }: Opening): Promise<BothReleases> {
  const saved = await saveTask(context, tenant, task);
  await recordConsents(context, { tenant, taskId: task.id, receiver, document, open: document.kind, opening: true, ended: false });
  await saveOutbound(context.store, tenant, { task: task.id, receiver: receiver.id, offer });
  await announceStatus(context, { tenant, side: 'sender', task: saved.stu3 });
  await enqueueNotification(context, tenant, task.id, receiver.id);
  return saved;
}

export interface TaskCreation {
  tenant: string;
  /** The release of `task`. */
  version: FhirVersion;
  /** The workflow Task as the EHR POSTed it, or PUT it under an id not yet used (FHIR update as create). */
  task: Resource;
  /** The id the EHR chose (update as create); otherwise the server assigns one. */
  id?: string;
}

/**
 * The standard EHR contract (Nictiz TO §3.2.2): the sending EHR creates the workflow Task itself, `owner` naming the
 * receiving organisation. It starts requested with the advance notice, or in-progress with the handoff (the partial
 * workflow), and from there is one transfer like those `$offer` starts: Consents, bookkeeping and notification in
 * the same transaction. The Task keeps what the EHR wrote (routing extensions included); the server assigns its id,
 * and `owner` becomes the receiver's identifier, which is how the receiving side recognises its Tasks.
 */
export async function createOutboundTask(context: TransferContext, request: TaskCreation): Promise<TransferResult<Resource>> {
  const { tenant, version } = request;
  requireRole(context, tenant, 'sender');
  const proposed = version === 'stu3' ? request.task : convertResource(request.task, { from: 'r4', to: 'stu3' });
  const refused = checkTaskCreate(proposed);
  if (refused) throw new OperationOutcomeError(refused);
  const receiver = notifiableReceiver(context, await receiverOf(context, tenant, version, proposed.owner));
  const kind = accessibleDocument(statusOf(proposed)) as DocumentKind;
  const document = await readDocument({ composition: documentReference(proposed, kind) as string }, kind, documentContext(context, tenant, version));
  if (patientOf(document.composition) !== literalReference(proposed.for)) {
    throw new OperationOutcomeError(unprocessable(`The Task is for ${literalReference(proposed.for)}, its ${kind} about ${patientOf(document.composition)}`, 'Task.for'));
  }
  const task = workflowTask(context, tenant, proposed, receiver, request.id);
  const saved = await inTransaction(context, async (tx) => {
    await storeDocument(tx, tenant, document);
    return openTransfer(tx, tenant, { task, receiver, document, offer: [task.id] });
  });
  return { result: saved[version], issues: document.issues };
}

/** The EHR's Task as stored: a new id, the eOverdracht profile, the receiver as owner, the sender as requester by default. */
function workflowTask(context: TransferContext, tenant: string, proposed: Resource, receiver: TrustedOrganization, id: string = randomUUID()): Resource & { id: string } {
  const { id: _id, meta: _meta, ...written } = proposed;
  const now = nowInstant(context);
  return {
    ...written,
    id,
    meta: { profile: [PROFILES.task] },
    groupIdentifier: written.groupIdentifier ?? { system: URI_SYSTEM, value: `urn:uuid:${randomUUID()}` },
    authoredOn: written.authoredOn ?? now,
    lastModified: now,
    requester: written.requester ?? { agent: organizationReference(context.registry.hosted(tenant)!.organization) },
    owner: organizationReference(receiver),
  };
}

/** The Organization that provides a HealthcareService of the care-services directory (the query directory's copies). */
async function providerOfService(context: TransferContext, id: string): Promise<Resource | undefined> {
  const service = await readOptional(context.store.resources, QUERY_DIRECTORY_SCOPE, 'HealthcareService', id);
  const provider = parseReference(literalReference(service?.providedBy));
  return provider?.type === 'Organization' ? readOptional(context.store.resources, QUERY_DIRECTORY_SCOPE, 'Organization', provider.id) : undefined;
}

/**
 * The trusted organisation the Task's owner names: by identifier (URA, AGB-Z or gateway organisation id), by a literal
 * reference to an Organization stored on this base that carries such an identifier, or by one to a HealthcareService
 * of the care-services directory, through the Organization that provides it.
 */
async function receiverOf(context: TransferContext, tenant: string, version: FhirVersion, owner: unknown): Promise<string> {
  const key = parseReference(literalReference(owner));
  const organization =
    key?.type === 'Organization'
      ? await readOptional(context.store.resources, scopeOf(tenant, version), 'Organization', key.id)
      : key?.type === 'HealthcareService'
        ? await providerOfService(context, key.id)
        : undefined;
  const held = organization?.identifier;
  const identifiers: unknown[] = isReference(owner) && owner.identifier ? [owner.identifier] : Array.isArray(held) ? held : [];
  const found = identifiers.map((identifier) => trustedByIdentifier(context, identifier)).find((id) => id !== undefined);
  if (!found) throw new OperationOutcomeError(unprocessable('Task.owner must name a trusted receiving organisation by its URA identifier', 'Task.owner'));
  return found;
}

/**
 * The id of the trusted organisation with this identifier (URA, AGB-Z, or gateway organisation id), if any: configured
 * (`trusted[]`), else found in the care-services directory.
 */
export function trustedByIdentifier(context: TransferContext, identifier: unknown): string | undefined {
  if (!isObject(identifier) || typeof identifier.value !== 'string') return undefined;
  if (identifier.system === URA_SYSTEM) return context.registry.trustedByUra(identifier.value)?.id;
  if (identifier.system === AGB_SYSTEM) return context.registry.trustedByAgb(identifier.value)?.id;
  if (identifier.system === ORGANIZATION_ID_SYSTEM) return context.registry.trusted(identifier.value)?.id;
  return undefined;
}

export interface HandoffRequest {
  tenant: string;
  version: FhirVersion;
  taskId: string;
  source: DocumentSource;
}

/** The EHR confirms the receiver that accepted (or hands over at once): the Task goes in-progress with the nursing handoff. */
export async function handoff(context: TransferContext, request: HandoffRequest): Promise<TransferResult<Resource>> {
  const { tenant, version, taskId } = request;
  requireRole(context, tenant, 'sender');
  if (!(await isOutboundTask(context, tenant, taskId))) throw new OperationOutcomeError(notFound(`Task/${taskId} is not an eOverdracht transfer offered here`));
  const document = await readDocument(request.source, 'nursingHandoff', documentContext(context, tenant, version));
  const reference = keyOf(document.composition);
  const proposed = (current: Resource) => ({ ...withHandoff(current, reference), status: 'in-progress' });
  return changeOutboundTask(context, { tenant, version, taskId, proposed, by: { role: 'sender' }, handoff: document });
}

export interface OutboundTaskChange {
  tenant: string;
  /** The release of `proposed`. */
  version: FhirVersion;
  taskId: string;
  /** The Task as the side wants it; `$handoff` derives it from the Task as it is when the change is decided. */
  proposed: Resource | ((current: Resource) => Resource);
  /** The tenant's own EHR (the sender), or the gateway of the organisation the Task was offered to. */
  by: { role: 'sender' } | { role: 'receiver'; organization: string };
  ifMatch?: string;
  /** The handoff, when already read ($handoff); otherwise read from the store when the Task goes in-progress. */
  handoff?: TransferDocument;
}

/** True when the Task is one this gateway offered (the REST layer routes its writes here). */
export async function isOutboundTask(context: TransferContext, tenant: string, taskId: string): Promise<boolean> {
  return (await readOutbound(context.store, tenant, taskId)) !== undefined;
}

/**
 * A change of an offered Task, by the sending EHR or by the receiver, judged by the state machine for that side.
 * Every Task it writes is written only if unchanged since it was read (VersionConflict, 409): of two changes at
 * once, on one gateway or on two instances sharing a database, the second fails instead of undoing the first.
 */
export async function changeOutboundTask(context: TransferContext, change: OutboundTaskChange): Promise<TransferResult<Resource>> {
  try {
    return await inTransaction(context, (tx) => decideAndApply(tx, change));
  } catch (error) {
    if (!(error instanceof VersionConflict)) throw error;
    // Lost to a concurrent change: when that was another candidate's handoff, say so rather than "changed meanwhile".
    await refuseIfHandedOff(context, change.tenant, change.taskId);
    throw toCaller(error, change.ifMatch);
  }
}

async function decideAndApply(context: TransferContext, change: OutboundTaskChange): Promise<TransferResult<Resource>> {
  const { tenant, version, taskId: id, by } = change;
  const record = await readOutbound(context.store, tenant, id);
  const current = await readTask(context.store.resources, tenant, id);
  if (!record || !current) throw new OperationOutcomeError(notFound(`Task/${id} is not an eOverdracht transfer offered here`));
  if (by.role === 'receiver' && by.organization !== record.receiver) {
    throw new OperationOutcomeError(forbidden(`Task/${id} was not offered to '${by.organization}'`));
  }
  if (change.ifMatch !== undefined && current[version].meta?.versionId !== change.ifMatch) {
    throw new OperationOutcomeError(preconditionFailed(`Task/${id} is at version ${current[version].meta?.versionId}, not ${change.ifMatch}`));
  }
  const proposed = typeof change.proposed === 'function' ? change.proposed(current[version]) : change.proposed;
  const candidates = proposed.status === 'in-progress' ? await otherCandidates(context, tenant, record) : [];
  refuseHandedOff(candidates);
  const refused = checkTaskUpdate(by.role, current[version], proposed);
  if (refused) throw new OperationOutcomeError(refused);
  const next = nextTask(current.stu3, proposed, by.role, nowInstant(context));
  if (!changesAnything(current.stu3, next)) return { result: current[version], issues: [] };
  const handoffDocument = handsOver(current.stu3, next) ? (change.handoff ?? (await storedHandoff(context, tenant, version, next))) : undefined;
  const own: Transition = { record, current, next, handoff: handoffDocument };
  const cancellations = candidates.filter(isCancellable).map((candidate) => cancellation(context, candidate));
  let saved = current;
  for (const transition of inTaskOrder([own, ...cancellations])) {
    const written = await apply(context, tenant, transition);
    if (transition === own) saved = written;
  }
  return { result: saved[version], issues: handoffDocument?.issues ?? [] };
}

/** One Task of an offer changing: its bookkeeping and both releases as read, what it becomes, the handoff it gets. */
interface Transition {
  record: OutboundTransfer;
  current: BothReleases;
  next: Resource;
  handoff?: TransferDocument;
}

type Candidate = Pick<Transition, 'record' | 'current'>;

/** The offer's other Tasks, as they are now. */
async function otherCandidates(context: TransferContext, tenant: string, record: OutboundTransfer): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (const id of record.offer.filter((other) => other !== record.task)) {
    const other = await readOutbound(context.store, tenant, id);
    const current = await readTask(context.store.resources, tenant, id);
    if (other && current) candidates.push({ record: other, current });
  }
  return candidates;
}

/** A handoff goes to one candidate only: once another has it (in-progress, or completed since), the offer is taken. */
function refuseHandedOff(candidates: Candidate[]): void {
  const taken = candidates.find(({ current }) => ['in-progress', 'completed'].includes(current.stu3.status as string));
  if (taken) {
    const text = `The transfer was already handed off: Task/${taken.record.task} of the same offer is ${taken.current.stu3.status}`;
    throw new OperationOutcomeError(conflict(text, 'Task.status'));
  }
}

async function refuseIfHandedOff(context: TransferContext, tenant: string, taskId: string): Promise<void> {
  const record = await readOutbound(context.store, tenant, taskId);
  if (record) refuseHandedOff(await otherCandidates(context, tenant, record));
}

const isCancellable = ({ current }: Candidate) => allowedTransitions('sender', statusOf(current.stu3)).includes('cancelled');

function cancellation(context: TransferContext, candidate: Candidate): Transition {
  return { ...candidate, next: { ...candidate.current.stu3, status: 'cancelled', lastModified: nowInstant(context) } };
}

/**
 * In the order of their Task ids, the same in every transaction: two handoffs of one offer (each writing every
 * candidate) then lock the Tasks in the same order, and the later one waits for the earlier and finds a version
 * moved. In any other order each could hold a Task the other waits for, a deadlock on PostgreSQL.
 */
function inTaskOrder(transitions: Transition[]): Transition[] {
  return [...transitions].sort((a, b) => (a.record.task < b.record.task ? -1 : a.record.task > b.record.task ? 1 : 0));
}

/** Writes the Task (first, so its row lock comes before anything else of it), then what follows from the change. */
async function apply(context: TransferContext, tenant: string, transition: Transition): Promise<BothReleases> {
  const { current, next, handoff } = transition;
  const saved = await saveTask(context, tenant, next, current);
  if (handoff) await handOver(context, tenant, next, handoff);
  await settle(context, tenant, transition.record, saved.stu3, statusOf(current.stu3), handoff);
  return saved;
}

function notifiableReceiver(context: TransferContext, id: string): TrustedOrganization {
  const receiver = context.registry.trusted(id);
  if (!receiver) throw new OperationOutcomeError(unprocessable(`Receiver '${id}' is not a trusted organisation`, 'receiver'));
  if (!receiver.endpoints.notification) {
    throw new OperationOutcomeError(unprocessable(`Receiver '${id}' has no notification endpoint configured`, 'receiver'));
  }
  return receiver;
}

function documentContext(context: TransferContext, tenant: string, version: FhirVersion) {
  return { tenant, version, resources: context.store.resources, validator: context.validators.stu3 };
}

function patientOf(composition: Resource): string {
  const reference = literalReference(composition.subject);
  if (!reference?.startsWith('Patient/')) {
    throw new OperationOutcomeError(unprocessable('The Composition must name its Patient in subject (Patient/[id])', 'Composition.subject'));
  }
  return reference;
}

async function storeDocument(context: TransferContext, tenant: string, document: TransferDocument): Promise<void> {
  for (const { version, resource } of document.writes) await context.store.resources.update(scopeOf(tenant, version), resource);
}

/** The stored Task with what the side may change taken from its proposal: status, and the alternative date or the handoff. */
function nextTask(current: Resource, proposed: Resource, role: TransferRole, now: string): Resource {
  const changed =
    role === 'receiver'
      ? withAnswer(current, answerIn(proposed))
      : { ...withHandoff(current, documentReference(proposed, 'nursingHandoff')), status: proposed.status };
  return { ...changed, lastModified: now };
}

function changesAnything(current: Resource, next: Resource): boolean {
  return !sameAnswer(answerIn(current), answerIn(next)) || documentReference(current, 'nursingHandoff') !== documentReference(next, 'nursingHandoff');
}

/**
 * The receiver's document becomes the handoff when the Task goes in-progress, and again when an in-progress Task
 * gets another handoff (a repeated `$handoff` whose Bundle gave new ids): access follows the Task's handoff input.
 */
function handsOver(current: Resource, next: Resource): boolean {
  const newHandoff = documentReference(current, 'nursingHandoff') !== documentReference(next, 'nursingHandoff');
  return next.status === 'in-progress' && (current.status !== 'in-progress' || newHandoff);
}

async function storedHandoff(context: TransferContext, tenant: string, version: FhirVersion, next: Resource): Promise<TransferDocument> {
  const composition = documentReference(next, 'nursingHandoff') as string;
  return readDocument({ composition }, 'nursingHandoff', documentContext(context, tenant, version));
}

/** Stores the handoff (the Consents open it in `settle`). */
async function handOver(context: TransferContext, tenant: string, task: Resource, document: TransferDocument): Promise<void> {
  const patient = literalReference(task.for);
  if (patientOf(document.composition) !== patient) {
    throw new OperationOutcomeError(unprocessable(`The nursing handoff is about ${patientOf(document.composition)}, the Task about ${patient}`, 'Composition.subject'));
  }
  await storeDocument(context, tenant, document);
}

/**
 * After every change: the Consents follow the status (the handoff added on in-progress, the documents closed and the
 * Task left readable at the end), the status is announced, the receiver is notified.
 */
async function settle(
  context: TransferContext,
  tenant: string,
  record: OutboundTransfer,
  task: Resource,
  previousStatus: TaskStatus | undefined,
  handoff?: TransferDocument,
): Promise<void> {
  const ended = isTerminal(statusOf(task));
  const receiver = context.registry.trusted(record.receiver) ?? { id: record.receiver, name: record.receiver };
  await recordConsents(context, {
    tenant,
    taskId: record.task,
    receiver,
    document: handoff,
    open: accessibleDocument(statusOf(task)),
    previouslyOpen: accessibleDocument(previousStatus),
    ended,
  });
  const transfer = ended ? await revokeAccess(context, tenant, record) : record;
  await saveOutbound(context.store, tenant, transfer);
  await announceStatus(context, { tenant, side: 'sender', task, previousStatus });
  await enqueueNotification(context, tenant, transfer.task, transfer.receiver);
}

/** Credentials a transfer opened before its access was kept in Consents (records of older versions) end with it. */
async function revokeAccess(context: TransferContext, tenant: string, record: OutboundTransfer): Promise<OutboundTransfer> {
  if (!record.taskCredentialId && !record.documentCredentialId) return record;
  const { taskCredentialId, taskCredentialJwt: _task, documentCredentialId, documentCredentialJwt: _document, ...rest } = record;
  for (const id of [taskCredentialId, documentCredentialId]) if (id) await context.credentials.revoke(tenant, id);
  return rest;
}

async function enqueueNotification(context: TransferContext, tenant: string, taskId: string, receiver: string): Promise<void> {
  await context.store.outbox.enqueue({ tenant, kind: OUTBOX_KINDS.notify, destination: receiver, payload: { task: taskId }, orderingKey: orderingKey(taskId) });
}

/**
 * How a receiver is notified when its configuration does not say: the Nuts eOverdracht Bolt v1, which every
 * configuration before `notificationShape` meant and which the Nictiz eOverdracht 4.0 qualification scripts test;
 * the Twiin TA Notified Pull is a draft of a network still in proof of concept (docs/transfer.md, Configuration).
 */
const DEFAULT_NOTIFICATION_SHAPE: NotificationShape = 'bolt';

/**
 * The queued notification (outbox `transfer.notify`), in the shape the receiver speaks. Neither carries personal
 * data or credentials: the receiver pulls, and the sender authorizes that by the Consents it recorded.
 */
export async function sendNotification(context: TransferContext, peer: Peer, tenant: string, taskId: string): Promise<void> {
  const record = await readOutbound(context.store, tenant, taskId);
  if (!record) throw new PermanentFailure(`no outbound transfer ${taskId} on record`);
  const call = { tenant, peer: record.receiver };
  const shape = context.registry.trusted(record.receiver)?.notificationShape ?? DEFAULT_NOTIFICATION_SHAPE;
  const routed = await routedNotificationEndpoint(context, tenant, taskId);
  if (shape === 'bolt') return peer.notifyBolt(call, taskId, routed);
  await peer.notifyTwiin(call, await twiinNotification(context, tenant, record), routed);
}

/**
 * The notification endpoint of the HealthcareService the Task is routed to (its `task-stu3-healthcareservice`
 * extension), when the directory here holds that service with an active Endpoint: the one of payloadType
 * Twiin-TA-notification, else the first. Undefined otherwise: the receiver's configured notification endpoint.
 */
async function routedNotificationEndpoint(context: TransferContext, tenant: string, taskId: string): Promise<string | undefined> {
  const task = await readTask(context.store.resources, tenant, taskId);
  const service = task && parseReference(routingReference(task.stu3, 'healthcareService'));
  if (!service || service.type !== 'HealthcareService') return undefined;
  const references = (await readDirectory(context, tenant, 'HealthcareService', service.id))?.endpoint;
  const endpoints: { address: string; notifies: boolean }[] = [];
  for (const reference of Array.isArray(references) ? references : []) {
    const key = parseReference(literalReference(reference));
    const endpoint = key?.type === 'Endpoint' ? await readDirectory(context, tenant, 'Endpoint', key.id) : undefined;
    if (!endpoint || typeof endpoint.address !== 'string' || (endpoint.status ?? 'active') !== 'active') continue;
    const payloadTypes: unknown[] = Array.isArray(endpoint.payloadType) ? endpoint.payloadType : [];
    endpoints.push({ address: endpoint.address, notifies: payloadTypes.some((type) => hasCode(type, NOTIFICATION_PAYLOAD_TYPE)) });
  }
  return (endpoints.find((endpoint) => endpoint.notifies) ?? endpoints[0])?.address;
}

/** A directory resource (HealthcareService, Endpoint) of the tenant: R4, as the directory is kept, else STU3. */
async function readDirectory(context: TransferContext, tenant: string, type: string, id: string): Promise<Resource | undefined> {
  return (
    (await readOptional(context.store.resources, scopeOf(tenant, 'r4'), type, id)) ?? (await readOptional(context.store.resources, scopeOf(tenant, 'stu3'), type, id))
  );
}

async function twiinNotification(context: TransferContext, tenant: string, record: OutboundTransfer): Promise<Resource> {
  const senderUra = context.registry.hosted(tenant)?.organization.ura;
  const receiverUra = context.registry.trusted(record.receiver)?.ura;
  if (!senderUra || !receiverUra) {
    throw new PermanentFailure(`a Twiin notification names both organisations by URA; '${senderUra ? record.receiver : tenant}' has none configured`);
  }
  const task = await readTask(context.store.resources, tenant, record.task);
  const group = stringAt(task?.stu3.groupIdentifier, 'value') ?? record.task;
  return notificationTask({ workflowTask: record.task, group, senderUra, receiverUra, now: context.clock() });
}

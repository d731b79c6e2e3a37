import { randomUUID } from 'node:crypto';
import { badRequest, forbidden, OperationOutcomeError, unprocessable } from '../fhir/outcome.js';
import { isReference, isResource, type Resource } from '../fhir/version.js';
import { URA_SYSTEM, URI_SYSTEM } from '../vocabulary/canonical.js';
import { codings, isObject, sameCoding } from '../vocabulary/json.js';
import { taskParameters } from './task-status.js';

/**
 * The notification Task of the Twiin TA Notified Pull (STU3; network-protocols.md §1.2, the Knooppunt's
 * eOverdracht sequence diagram, step 3): it announces a workflow Task (`basedOn`) between two organisations named
 * by URA and carries nothing about the patient, so it can be sent before anyone may know who the patient is.
 */
export const PULL_NOTIFICATION = { system: 'http://fhir.nl/fhir/NamingSystem/TaskCode', code: 'pull-notification' } as const;
const GET_WORKFLOW_TASK = { system: 'http://fhir.nl/fhir/NamingSystem/TaskParameter', code: 'get-workflow-task' } as const;
const BSN_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/bsn';
/** How long a notification stays valid (`restriction.period.end`): the Knooppunt's demo sends seven days. */
const VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;
/** A relative reference to one Task: `Task/{id}`, no leading slash (network-protocols.md §1.2, basedOn). */
const WORKFLOW_TASK = /^Task\/([A-Za-z0-9\-.]{1,64})$/;

const uraReference = (ura: string) => ({ identifier: { system: URA_SYSTEM, value: ura } });

export interface NotificationTaskFields {
  /** The id of the workflow Task at the sender. */
  workflowTask: string;
  /** The workflow Task's groupIdentifier value (the offer), echoed so the receiver can group notifications. */
  group: string;
  senderUra: string;
  receiverUra: string;
  now: number;
}

export function notificationTask(fields: NotificationTaskFields): Resource {
  const sender = uraReference(fields.senderUra);
  return {
    resourceType: 'Task',
    identifier: [{ system: URI_SYSTEM, value: `urn:uuid:${randomUUID()}` }],
    groupIdentifier: { system: URI_SYSTEM, value: fields.group },
    basedOn: [{ reference: `Task/${fields.workflowTask}` }],
    status: 'requested',
    intent: 'proposal',
    code: { coding: [{ ...PULL_NOTIFICATION }] },
    restriction: { period: { end: new Date(fields.now + VALIDITY_MS).toISOString() } },
    authoredOn: new Date(fields.now).toISOString(),
    // STU3 requires requester.agent; the sending organisation is the agent as well as whom it acts for.
    requester: { agent: sender, onBehalfOf: sender },
    owner: uraReference(fields.receiverUra),
    input: [{ type: { coding: [{ ...GET_WORKFLOW_TASK }] }, valueBoolean: true }],
  } satisfies fhir3.Task;
}

export interface NotificationParties {
  /** The organisation that notifies, as its token proved it. */
  notifier: { id: string; ura?: string };
  /** The organisation notified (the token's tenant). */
  notified: { id: string; ura?: string };
}

/**
 * A received notification Task and the id of the workflow Task it announces; a 4xx OperationOutcome when it is not
 * a notification from `notifier` to `notified`, names no workflow Task, has expired, or carries patient data.
 */
export function announcedTask(body: unknown, parties: NotificationParties, now: number): { notification: Resource; workflowTask: string } {
  if (!isResource(body) || body.resourceType !== 'Task') throw new OperationOutcomeError(badRequest('A notification must be a Task resource'));
  return announced(withoutSubject(body), parties, now);
}

/**
 * The Knooppunt puts the patient's BSN in `for` (network-protocols.md §1.2 and §7.3; the Bolt and the Twiin TA say a
 * notification carries none). The receiver drops it rather than refuse that sender's notifications: it learns who
 * the patient is only from the workflow Task it pulls under the sender's Consent. Anywhere else, patient data is refused.
 */
function withoutSubject({ for: _subject, ...task }: Resource): Resource {
  return task;
}

function announced(body: Resource, parties: NotificationParties, now: number): { notification: Resource; workflowTask: string } {
  refusePatientData(body);
  check(body.status === 'requested', "A notification Task has status 'requested'", 'Task.status');
  check(body.intent === 'proposal', "A notification Task has intent 'proposal'", 'Task.intent');
  check(codings(body.code).some((coding) => sameCoding(coding, PULL_NOTIFICATION)), `A notification Task has code ${PULL_NOTIFICATION.system}|${PULL_NOTIFICATION.code}`, 'Task.code');
  const requester = isObject(body.requester) ? body.requester.onBehalfOf : undefined;
  if (!namesUra(requester, parties.notifier.ura)) {
    throw new OperationOutcomeError(forbidden(`requester.onBehalfOf must name the notifying organisation '${parties.notifier.id}' by its URA`));
  }
  check(namesUra(body.owner, parties.notified.ura), `owner must name the notified organisation '${parties.notified.id}' by its URA`, 'Task.owner');
  const wanted = taskParameters(body, 'input').some((input) => codings(input.type).some((coding) => sameCoding(coding, GET_WORKFLOW_TASK)) && input.valueBoolean === true);
  check(wanted, `A notification Task has input ${GET_WORKFLOW_TASK.code} = true`, 'Task.input');
  check(!expired(body, now), 'The notification Task has expired (restriction.period.end)', 'Task.restriction.period.end');
  return { notification: body, workflowTask: workflowTaskOf(body) };
}

function check(condition: boolean, text: string, expression: string): void {
  if (!condition) throw new OperationOutcomeError(unprocessable(text, expression));
}

function namesUra(reference: unknown, ura: string | undefined): boolean {
  const identifier = isReference(reference) ? reference.identifier : undefined;
  return ura !== undefined && identifier?.system === URA_SYSTEM && identifier.value === ura;
}

function workflowTaskOf(task: Resource): string {
  const basedOn: unknown[] = Array.isArray(task.basedOn) ? task.basedOn : [];
  const reference = basedOn.length === 1 && isReference(basedOn[0]) ? basedOn[0].reference : undefined;
  const id = reference === undefined ? undefined : WORKFLOW_TASK.exec(reference)?.[1];
  if (!id) throw new OperationOutcomeError(unprocessable('A notification Task names its workflow Task in basedOn, once, as Task/[id]', 'Task.basedOn'));
  return id;
}

function expired(task: Resource, now: number): boolean {
  const end = isObject(task.restriction) && isObject(task.restriction.period) ? task.restriction.period.end : undefined;
  return typeof end === 'string' && Date.parse(end) < now;
}

/**
 * Nothing in a notification may identify the patient (Bolt §4.1.3, Twiin): no BSN anywhere, no reference to a Patient
 * or RelatedPerson, no contained resources (where a name would be); `for` is dropped before (withoutSubject).
 */
function refusePatientData(task: Resource): void {
  const found =
    (task.contained !== undefined && 'Task.contained') ||
    (mentions(task, (text) => text === BSN_SYSTEM) && 'a BSN') ||
    (mentions(task, (text) => /^(Patient|RelatedPerson)\//.test(text)) && 'a reference to a Patient or RelatedPerson');
  if (found) throw new OperationOutcomeError(unprocessable(`A notification carries no patient data; this one has ${found}`));
}

function mentions(value: unknown, matches: (text: string) => boolean): boolean {
  if (typeof value === 'string') return matches(value);
  if (Array.isArray(value)) return value.some((item) => mentions(item, matches));
  return isObject(value) && Object.values(value).some((item) => mentions(item, matches));
}

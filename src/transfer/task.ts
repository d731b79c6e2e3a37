import type { Resource } from '../fhir/version.js';
import { SNOMED, URI_SYSTEM } from '../vocabulary/canonical.js';
import { isObject, stringAt } from '../vocabulary/json.js';
import { DOCUMENT_CODES, PROFILES, ROUTING_EXTENSIONS, TASK_CODE, type Coding, type DocumentKind } from './codes.js';
import { organizationReference } from './context.js';
import { ALTERNATIVE_DATE_CODE, alternativeDate, ofType, statusReason, taskParameters } from './task-status.js';

/** Building eOverdracht Tasks (STU3; the parts used here have the same shape in R4). */
function documentInput(kind: DocumentKind, reference: string): fhir3.TaskInput {
  return { type: { coding: [DOCUMENT_CODES[kind]] }, valueReference: { reference } };
}

function alternativeDateOutput(date: string): fhir3.TaskOutput {
  return { type: { coding: [{ system: SNOMED, code: ALTERNATIVE_DATE_CODE, display: 'Alternative date' }] }, valueDateTime: date };
}

export interface NewTask {
  id: string;
  /** Shared by the Tasks of one offer (Task.groupIdentifier). */
  group: string;
  patient: string;
  advanceNotice: string;
  now: string;
  sender: { id: string; name: string; ura?: string };
  receiver: { id: string; name: string; ura?: string };
  /** The kind of care asked for (Task.performerType). */
  careType?: Coding;
}

/** A new eOverdracht Task: references only (the Patient, the advance notice, the organisations), nothing personal. */
export function newTask(fields: NewTask): Resource & { id: string } {
  return {
    resourceType: 'Task',
    id: fields.id,
    meta: { profile: [PROFILES.task] },
    groupIdentifier: { system: URI_SYSTEM, value: fields.group },
    status: 'requested',
    intent: 'order',
    code: { coding: [TASK_CODE] },
    for: { reference: fields.patient },
    authoredOn: fields.now,
    lastModified: fields.now,
    requester: { agent: organizationReference(fields.sender) },
    owner: organizationReference(fields.receiver),
    ...(fields.careType ? { performerType: [{ coding: [fields.careType] }] } : {}),
    input: [documentInput('advanceNotice', fields.advanceNotice)],
  } satisfies fhir3.Task;
}

/** The Task with input:nursingHandoff pointing at `reference` (replacing an earlier one), or without it. */
export function withHandoff(task: Resource, reference: string | undefined): Resource {
  const inputs = taskParameters(task, 'input').filter((input) => !ofType(DOCUMENT_CODES.nursingHandoff.code)(input));
  return { ...task, input: reference ? [...inputs, documentInput('nursingHandoff', reference)] : inputs };
}

/** The receiver's answer: a status, for on-hold the alternative date it proposes, and the reason it gives. */
export interface Answer {
  status: string;
  alternativeDate?: string;
  statusReason?: Record<string, unknown>;
}

/** The Task with the receiver's answer (an earlier alternative date or reason replaced, or removed when not given). */
export function withAnswer(task: Resource, answer: Answer): Resource {
  const { status, alternativeDate, statusReason } = answer;
  const others = taskParameters(task, 'output').filter((output) => !ofType(ALTERNATIVE_DATE_CODE)(output));
  const output = alternativeDate ? [...others, alternativeDateOutput(alternativeDate)] : others;
  const { output: _replaced, statusReason: _reason, ...rest } = task;
  return { ...rest, status, ...(statusReason ? { statusReason } : {}), ...(output.length > 0 ? { output } : {}) };
}

/** The answer a receiver's proposed Task carries. */
export function answerIn(task: Resource): Answer {
  const date = alternativeDate(task);
  const reason = statusReason(task);
  return { status: task.status as string, ...(date ? { alternativeDate: date } : {}), ...(reason ? { statusReason: reason } : {}) };
}

/** True when two answers say the same (status, date and reason). */
export function sameAnswer(a: Answer, b: Answer): boolean {
  return a.status === b.status && a.alternativeDate === b.alternativeDate && JSON.stringify(a.statusReason) === JSON.stringify(b.statusReason);
}

const ROUTING_URLS: string[] = Object.values(ROUTING_EXTENSIONS);
const isRouting = (extension: unknown): extension is Record<string, unknown> =>
  isObject(extension) && typeof extension.url === 'string' && ROUTING_URLS.includes(extension.url);

/** The Task's routing extensions (HealthcareService, Location), as written. */
export function routingExtensions(task: Resource): Record<string, unknown>[] {
  return Array.isArray(task.extension) ? task.extension.filter(isRouting) : [];
}

/** The reference in the Task's routing extension of this kind (e.g. `HealthcareService/1`), if any. */
export function routingReference(task: Resource, kind: keyof typeof ROUTING_EXTENSIONS): string | undefined {
  const extension = routingExtensions(task).find((candidate) => candidate.url === ROUTING_EXTENSIONS[kind]);
  return stringAt(extension?.valueReference, 'reference');
}

/**
 * The copy with the routing extensions of the original: they name the receiver's own HealthcareService and Location,
 * so a copy whose other references were made local keeps them as the sender wrote them.
 */
export function withRoutingOf(copy: Resource, original: Resource): Resource {
  const routing = routingExtensions(original);
  if (routing.length === 0) return copy;
  const others = Array.isArray(copy.extension) ? copy.extension.filter((extension) => !isRouting(extension)) : [];
  return { ...copy, extension: [...others, ...routing] };
}

import type { Resource } from '../fhir/version.js';
import { DOCUMENT_CODES, PROFILES, TASK_CODE, type Coding, type DocumentKind } from './codes.js';
import { SNOMED } from '../vocabulary/canonical.js';
import { organizationReference } from './context.js';
import { ALTERNATIVE_DATE_CODE, ofType, taskParameters } from './task-status.js';

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
    groupIdentifier: { system: 'urn:ietf:rfc:3986', value: fields.group },
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

/** The Task with the receiver's answer: a status and, for on-hold, the alternative date it proposes. */
export function withAnswer(task: Resource, status: string, alternativeDate: string | undefined): Resource {
  const others = taskParameters(task, 'output').filter((output) => !ofType(ALTERNATIVE_DATE_CODE)(output));
  const output = alternativeDate ? [...others, alternativeDateOutput(alternativeDate)] : others;
  const { output: _replaced, ...rest } = task;
  return output.length > 0 ? { ...rest, status, output } : { ...rest, status };
}

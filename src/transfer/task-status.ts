import { isObject } from '../vocabulary/json.js';
import { conflict, unprocessable, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { DOCUMENT_CODES, hasCode, type DocumentKind } from './codes.js';

/**
 * The eOverdracht Task state machine (DESIGN §3), enforced on both sides of the exchange.
 *
 *   requested ─▶ received ─▶ accepted ─▶ in-progress ─▶ completed
 *        │          │    ├─▶ rejected
 *        │          │    └─▶ on-hold (receiver proposes output:alternativeDate) ─▶ requested (sender re-offers)
 *        └──────────┴── any state before completion ─▶ cancelled
 */
const TASK_STATUSES = [
  'requested',
  'received',
  'accepted',
  'rejected',
  'on-hold',
  'in-progress',
  'completed',
  'cancelled',
] as const satisfies readonly fhir3.Task['status'][];

export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The Task's status if it is one of the state machine's; a Task from a request body may hold anything there. */
export function statusOf(task: Resource): TaskStatus | undefined {
  return TASK_STATUSES.find((status) => status === task.status);
}

export type TransferRole = 'sender' | 'receiver';

export const ALTERNATIVE_DATE_CODE = '146851000146105';

const RECEIVER_MOVES: Partial<Record<TaskStatus, TaskStatus[]>> = {
  requested: ['received', 'accepted', 'rejected', 'on-hold'],
  received: ['accepted', 'rejected', 'on-hold'],
  'in-progress': ['completed'],
};

const SENDER_MOVES: Partial<Record<TaskStatus, TaskStatus[]>> = {
  requested: ['cancelled'],
  received: ['cancelled'],
  accepted: ['in-progress', 'cancelled'],
  'on-hold': ['requested', 'cancelled'],
  'in-progress': ['cancelled'],
};

const TERMINAL: TaskStatus[] = ['rejected', 'cancelled', 'completed'];

export function allowedTransitions(role: TransferRole, from: TaskStatus | undefined): TaskStatus[] {
  return (from && (role === 'receiver' ? RECEIVER_MOVES : SENDER_MOVES)[from]) || [];
}

export function isTerminal(status: TaskStatus | undefined): boolean {
  return status !== undefined && TERMINAL.includes(status);
}

/** Which Composition a receiver may read in each state: the advance notice, the handoff, or nothing at all. */
export function accessibleDocument(status: TaskStatus | undefined): 'advanceNotice' | 'nursingHandoff' | undefined {
  if (status === 'in-progress') return 'nursingHandoff';
  if (isTerminal(status)) return undefined;
  return 'advanceNotice';
}

/** One of Task.input or Task.output: an object there; its elements are read through guards (codes.ts) as well. */
type TaskParameter = fhir3.TaskInput | fhir3.TaskOutput;
const isTaskParameter = (value: unknown): value is TaskParameter => isObject(value);
/** Is the value a Task parameter of this type (by code)? */
export const ofType = (code: string) => (value: unknown) => isTaskParameter(value) && hasCode(value.type, code);

/** Task.input or Task.output, the elements that are parameters at all (a request body's Task is not yet validated). */
export function taskParameters(task: Resource, element: 'input'): fhir3.TaskInput[];
export function taskParameters(task: Resource, element: 'output'): fhir3.TaskOutput[];
export function taskParameters(task: Resource, element: 'input' | 'output'): TaskParameter[] {
  const parameters = task[element];
  return Array.isArray(parameters) ? parameters.filter(isTaskParameter) : [];
}

/** The Task without the elements a side may change besides status (meta is the server's, never compared). */
function withoutEditableFields(role: TransferRole, task: Resource): Record<string, unknown> {
  const { meta: _meta, status: _status, ...rest } = task;
  const [element, code] = role === 'receiver' ? ['output', ALTERNATIVE_DATE_CODE] : ['input', DOCUMENT_CODES.nursingHandoff.code];
  const entries = rest[element];
  if (!Array.isArray(entries)) return rest;
  const kept = entries.filter((entry) => !ofType(code)(entry));
  delete rest[element];
  return kept.length > 0 ? { ...rest, [element]: kept } : rest;
}

const EDITABLE: Record<TransferRole, string> = {
  receiver: 'Task.status and the alternativeDate output',
  sender: 'Task.status and the nursingHandoff input',
};

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Judges a Task update by one side of the transfer (an unchanged status is an idempotent repeat, not a transition).
 * Returns undefined when allowed, else an OperationOutcome:
 * `conflict` (409) for a transition not allowed from the current state, naming the allowed ones;
 * `unprocessable` (422) when a side changes more than it may: the receiver status and the alternative date, the
 * sender status and the nursing handoff it adds (required when it sets the Task in-progress).
 */
export function checkTaskUpdate(role: TransferRole, current: Resource, proposed: Resource): OperationOutcome | undefined {
  const to = statusOf(proposed);
  if (current.status !== proposed.status) {
    const allowed = allowedTransitions(role, statusOf(current));
    if (!to || !allowed.includes(to)) {
      const options = allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'no further changes are allowed';
      return conflict(`The ${role} cannot change Task.status from '${String(current.status)}' to '${String(proposed.status)}' (${options})`, 'Task.status');
    }
  }
  if (canonicalJson(withoutEditableFields(role, current)) !== canonicalJson(withoutEditableFields(role, proposed))) {
    return unprocessable(`The ${role} may change only ${EDITABLE[role]}`, 'Task');
  }
  if (to === 'on-hold' && role === 'receiver' && !hasAlternativeDate(proposed)) {
    return unprocessable('Putting a transfer on hold requires output:alternativeDate with the proposed date', 'Task.output');
  }
  if (to === 'in-progress' && role === 'sender' && !documentReference(proposed, 'nursingHandoff')) {
    return unprocessable('Setting a transfer in-progress requires input:nursingHandoff referencing the NursingHandoff Composition', 'Task.input');
  }
  return undefined;
}

export function hasAlternativeDate(task: Resource): boolean {
  return alternativeDate(task) !== undefined;
}

/** The date the receiver proposed (output:alternativeDate), if any. */
export function alternativeDate(task: Resource): string | undefined {
  return taskParameters(task, 'output').find((output) => ofType(ALTERNATIVE_DATE_CODE)(output) && output.valueDateTime)?.valueDateTime;
}

/** The reference of the Task's input:advanceNotice or input:nursingHandoff (e.g. `Composition/123`), if any. */
export function documentReference(task: Resource, kind: DocumentKind): string | undefined {
  return taskParameters(task, 'input').find(ofType(DOCUMENT_CODES[kind].code))?.valueReference?.reference;
}

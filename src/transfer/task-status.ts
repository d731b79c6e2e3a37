import { isObject } from '../vocabulary/json.js';
import { conflict, unprocessable, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { DOCUMENT_CODES, hasCode, type DocumentKind } from './codes.js';

/**
 * The eOverdracht Task state machine, enforced on both sides of the exchange: every move is a row of MOVES naming
 * the specification section it comes from (docs/transfer.md lists the table).
 *
 *   requested ─▶ received ─▶ accepted ─▶ in-progress ─▶ completed
 *        │          │    ├─▶ rejected (with a reason)
 *        │          │    └─▶ on-hold (receiver proposes output:alternativeDate) ─▶ requested (sender re-offers)
 *        ├──────────┴──────────────────▶ in-progress (partial workflow: no negotiation)
 *        └── the sender before completion, the receiver once it accepted or proposed ─▶ cancelled
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

/** Where a rule comes from (`context/specs/` and the Nictiz profiles under `fixtures/eoverdracht-stu3/profiles/`). */
export const SPECIFICATION = {
  statusDefinition: 'Nictiz eOverdracht-Task, Task.status definition',
  partialWorkflow: 'Nictiz TO eOverdracht 4.0 §3.4.1 Partial workflow',
  /** §3.4.1 speaks of a Task created in-progress; issue #14 reads it for a Task not yet answered as well. */
  partialWorkflowMove: 'Nictiz TO eOverdracht 4.0 §3.4.1 Partial workflow, for a Task not yet answered (issue #14)',
  handoffOnInProgress: 'Bolt eOverdracht §4.1.1',
  completion: 'Bolt eOverdracht §5.3.6 step 41',
  reOffer: 'DESIGN §3 (the placer answers on-hold by offering again)',
} as const;

export interface Move {
  from: TaskStatus;
  to: TaskStatus;
  source: string;
}

const moves = (from: TaskStatus[], to: TaskStatus, source: string): Move[] => from.map((status) => ({ from: status, to, source }));

/**
 * Every move each side may make. The profile's definitions say who sets a status: the placer (sender) requested,
 * in-progress and cancelled; the filler (receiver) received, accepted, rejected, on-hold, completed and cancelled.
 * The receiver cancels only what it agreed to or proposed (accepted, on-hold, in-progress): before that its "no" is
 * rejected, which carries the reason.
 */
export const MOVES: Record<TransferRole, Move[]> = {
  sender: [
    ...moves(['accepted'], 'in-progress', SPECIFICATION.handoffOnInProgress),
    ...moves(['requested', 'received'], 'in-progress', SPECIFICATION.partialWorkflowMove),
    ...moves(['on-hold'], 'requested', SPECIFICATION.reOffer),
    ...moves(['requested', 'received', 'accepted', 'on-hold', 'in-progress'], 'cancelled', SPECIFICATION.statusDefinition),
  ],
  receiver: [
    ...moves(['requested'], 'received', SPECIFICATION.statusDefinition),
    ...moves(['requested', 'received'], 'accepted', SPECIFICATION.statusDefinition),
    ...moves(['requested', 'received'], 'rejected', SPECIFICATION.statusDefinition),
    ...moves(['requested', 'received'], 'on-hold', SPECIFICATION.statusDefinition),
    ...moves(['in-progress'], 'completed', SPECIFICATION.completion),
    ...moves(['accepted', 'on-hold', 'in-progress'], 'cancelled', SPECIFICATION.statusDefinition),
  ],
};

/** How a transfer may start (the sender creates its Task): with the advance notice, or straight with the handoff. */
export const STARTS: { status: TaskStatus; document: DocumentKind; source: string }[] = [
  { status: 'requested', document: 'advanceNotice', source: SPECIFICATION.statusDefinition },
  { status: 'in-progress', document: 'nursingHandoff', source: SPECIFICATION.partialWorkflow },
];

const TERMINAL: TaskStatus[] = ['rejected', 'cancelled', 'completed'];

export function allowedTransitions(role: TransferRole, from: TaskStatus | undefined): TaskStatus[] {
  return MOVES[role].filter((move) => move.from === from).map((move) => move.to);
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

/**
 * The Task without the elements a side may change besides status (meta is the server's, never compared; so is
 * lastModified, which the gateway sets with every change, and which a re-pull moves on a receiver's copy between the
 * EHR's read and its answer; nor is the narrative, which an update may leave out because the new status makes it stale,
 * as Nictiz's test platform does): the receiver also the reason of its answer (statusReason: the profile's
 * Task.statusReason.text, "Toelichting antwoord aanmelding"; Bolt §2.2 asks for a reason with a refusal) and its
 * alternative date, the sender the handoff input.
 */
function withoutEditableFields(role: TransferRole, task: Resource): Record<string, unknown> {
  const { meta: _meta, lastModified: _lastModified, status: _status, text: _narrative, ...rest } = task;
  if (role === 'receiver') delete rest.statusReason;
  const [element, code] = role === 'receiver' ? ['output', ALTERNATIVE_DATE_CODE] : ['input', DOCUMENT_CODES.nursingHandoff.code];
  const entries = rest[element];
  if (!Array.isArray(entries)) return rest;
  const kept = entries.filter((entry) => !ofType(code)(entry));
  delete rest[element];
  return kept.length > 0 ? { ...rest, [element]: kept } : rest;
}

const EDITABLE: Record<TransferRole, string> = {
  receiver: 'Task.status, Task.statusReason and the alternativeDate output',
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

/**
 * Judges the Task a sending EHR creates: it starts requested with input:advanceNotice, or in-progress with
 * input:nursingHandoff (STARTS). Returns undefined when allowed, else a 422 OperationOutcome saying how to start.
 */
export function checkTaskCreate(proposed: Resource): OperationOutcome | undefined {
  const start = STARTS.find(({ status }) => status === proposed.status);
  if (!start) {
    const options = STARTS.map(({ status, document }) => `${status} with input:${document}`).join(', or ');
    return unprocessable(`A transfer starts ${options}, not '${String(proposed.status)}'`, 'Task.status');
  }
  if (!documentReference(proposed, start.document)) {
    return unprocessable(`A transfer that starts ${start.status} needs input:${start.document} referencing its Composition`, 'Task.input');
  }
  return undefined;
}

/** The reason the receiver gave with its answer (Task.statusReason), if any. */
export function statusReason(task: Resource): Record<string, unknown> | undefined {
  return isObject(task.statusReason) ? task.statusReason : undefined;
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

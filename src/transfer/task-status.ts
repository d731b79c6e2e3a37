import { conflict, unprocessable, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { DOCUMENT_CODES, type DocumentKind } from './codes.js';

/**
 * The eOverdracht Task state machine (DESIGN §3), enforced on both sides of the exchange.
 *
 *   requested ─▶ received ─▶ accepted ─▶ in-progress ─▶ completed
 *        │          │    ├─▶ rejected
 *        │          │    └─▶ on-hold (receiver proposes output:alternativeDate) ─▶ requested (sender re-offers)
 *        └──────────┴── any state before completion ─▶ cancelled
 */
export type TaskStatus = 'requested' | 'received' | 'accepted' | 'rejected' | 'on-hold' | 'in-progress' | 'completed' | 'cancelled';

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

export function allowedTransitions(role: TransferRole, from: TaskStatus): TaskStatus[] {
  return (role === 'receiver' ? RECEIVER_MOVES : SENDER_MOVES)[from] ?? [];
}

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL.includes(status);
}

/** Which Composition a receiver may read in each state: the advance notice, the handoff, or nothing at all. */
export function accessibleDocument(status: TaskStatus): 'advanceNotice' | 'nursingHandoff' | undefined {
  if (status === 'in-progress') return 'nursingHandoff';
  if (isTerminal(status)) return undefined;
  return 'advanceNotice';
}

type Entry = { type?: { coding?: { code?: string }[] } };
const typed = (code: string) => (entry: Entry) => entry.type?.coding?.some((coding) => coding.code === code) ?? false;

/** The Task without the elements a side may change besides status (meta is the server's, never compared). */
function withoutEditableFields(role: TransferRole, task: Resource): Record<string, unknown> {
  const { meta: _meta, status: _status, ...rest } = task;
  const [element, code] = role === 'receiver' ? ['output', ALTERNATIVE_DATE_CODE] : ['input', DOCUMENT_CODES.nursingHandoff.code];
  const kept = ((rest[element] as Entry[] | undefined) ?? []).filter((entry) => !typed(code)(entry));
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
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
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
  const from = current.status as TaskStatus;
  const to = proposed.status as TaskStatus;
  if (from !== to) {
    const allowed = allowedTransitions(role, from);
    if (!allowed.includes(to)) {
      const options = allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'no further changes are allowed';
      return conflict(`The ${role} cannot change Task.status from '${from}' to '${to}' (${options})`, 'Task.status');
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
  const outputs = (task.output as (Entry & { valueDateTime?: string })[] | undefined) ?? [];
  return outputs.find((entry) => typed(ALTERNATIVE_DATE_CODE)(entry) && entry.valueDateTime)?.valueDateTime;
}

/** The reference of the Task's input:advanceNotice or input:nursingHandoff (e.g. `Composition/123`), if any. */
export function documentReference(task: Resource, kind: DocumentKind): string | undefined {
  const inputs = (task.input as (Entry & { valueReference?: { reference?: string } })[] | undefined) ?? [];
  return inputs.find((entry) => typed(DOCUMENT_CODES[kind].code)(entry))?.valueReference?.reference;
}

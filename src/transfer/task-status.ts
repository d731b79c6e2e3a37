import { conflict, unprocessable, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';

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

/** Elements a receiver may change besides status: the alternative date it proposes when putting the Task on hold. */
function withoutReceiverFields(task: Resource): Record<string, unknown> {
  const { meta: _meta, status: _status, output, ...rest } = task;
  const kept = ((output as { type?: { coding?: { code?: string }[] } }[] | undefined) ?? []).filter(
    (entry) => !entry.type?.coding?.some((coding) => coding.code === ALTERNATIVE_DATE_CODE),
  );
  return kept.length > 0 ? { ...rest, output: kept } : rest;
}

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
 * `unprocessable` (422) when a receiver changes anything but status and the alternative date.
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
  if (role === 'receiver' && canonicalJson(withoutReceiverFields(current)) !== canonicalJson(withoutReceiverFields(proposed))) {
    return unprocessable('The receiver may change only Task.status and the alternativeDate output', 'Task');
  }
  if (to === 'on-hold' && role === 'receiver' && !hasAlternativeDate(proposed)) {
    return unprocessable('Putting a transfer on hold requires output:alternativeDate with the proposed date', 'Task.output');
  }
  return undefined;
}

export function hasAlternativeDate(task: Resource): boolean {
  const outputs = (task.output as { type?: { coding?: { code?: string }[] }; valueDateTime?: string }[] | undefined) ?? [];
  return outputs.some((entry) => entry.type?.coding?.some((c) => c.code === ALTERNATIVE_DATE_CODE) && !!entry.valueDateTime);
}

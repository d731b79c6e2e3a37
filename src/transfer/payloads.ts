import { isObject } from '../vocabulary/json.js';
import { PermanentFailure } from '../outbox/dispatcher.js';
import type { Answer } from './task.js';

/**
 * The payloads of the transfer outbox messages (OUTBOX_KINDS), read back from the outbox: this gateway wrote them,
 * but a payload of another shape (an older release, a hand-edited row) is dead-lettered here, not used.
 */
export interface QueuedAnswer extends Answer {
  task: string;
}

/** The local Task id a notify, pull or answer message is about. */
export function taskOf(payload: unknown): string {
  if (isObject(payload) && typeof payload.task === 'string') return payload.task;
  throw new PermanentFailure('the message names no Task');
}

export function answerOf(payload: unknown): QueuedAnswer {
  const task = taskOf(payload);
  const status = isObject(payload) ? payload.status : undefined;
  const alternativeDate = isObject(payload) ? payload.alternativeDate : undefined;
  const statusReason = isObject(payload) ? payload.statusReason : undefined;
  if (typeof status !== 'string' || !(alternativeDate === undefined || typeof alternativeDate === 'string')) {
    throw new PermanentFailure(`the answer to Task/${task} has no status, or an alternativeDate that is no string`);
  }
  if (!(statusReason === undefined || isObject(statusReason))) throw new PermanentFailure(`the answer to Task/${task} has a statusReason that is no object`);
  return { task, status, ...(alternativeDate === undefined ? {} : { alternativeDate }), ...(statusReason === undefined ? {} : { statusReason }) };
}

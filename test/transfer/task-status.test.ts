import { describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import {
  accessibleDocument,
  ALTERNATIVE_DATE_CODE,
  checkTaskCreate,
  checkTaskUpdate,
  MOVES,
  SPECIFICATION,
  type TaskStatus,
  type TransferRole,
} from '../../src/transfer/task-status.js';

const task = (status: TaskStatus, extra: Record<string, unknown> = {}): Resource => ({
  resourceType: 'Task',
  id: 't1',
  meta: { versionId: '1' },
  status,
  intent: 'order',
  code: { coding: [{ system: 'http://snomed.info/sct', code: '308292007' }] },
  for: { reference: 'Patient/p1' },
  ...extra,
});

const alternativeDate = (date: string) => ({
  output: [{ type: { coding: [{ system: 'http://snomed.info/sct', code: ALTERNATIVE_DATE_CODE }] }, valueDateTime: date }],
});

const HANDOFF_INPUT = { input: [{ type: { coding: [{ system: 'http://snomed.info/sct', code: '11171000146100' }] }, valueReference: { reference: 'Composition/h1' } }] };
const ADVANCE_NOTICE_INPUT = { input: [{ type: { coding: [{ system: 'http://snomed.info/sct', code: '721915006' }] }, valueReference: { reference: 'Composition/a1' } }] };

/** What a side must add to make the move (the handoff with in-progress, the date with on-hold). */
const needed = (role: TransferRole, to: TaskStatus) =>
  role === 'sender' && to === 'in-progress' ? HANDOFF_INPUT : role === 'receiver' && to === 'on-hold' ? alternativeDate('2026-12-01T10:00:00+01:00') : {};

describe('eOverdracht Task state machine', () => {
  const rows = (['sender', 'receiver'] as const).flatMap((role) => MOVES[role].map((move) => [role, move.from, move.to, move.source] as const));

  it.each(rows)('lets the %s move %s → %s (%s)', (role, from, to) => {
    expect(checkTaskUpdate(role, task(from), task(to, needed(role, to)))).toBeUndefined();
  });

  it('names a specification section for every move, and gives each side only its own statuses', () => {
    const sources: string[] = Object.values(SPECIFICATION);
    expect(rows.every(([, , , source]) => sources.includes(source))).toBe(true);
    expect(new Set(MOVES.sender.map((move) => move.to))).toEqual(new Set(['in-progress', 'requested', 'cancelled']));
    expect(new Set(MOVES.receiver.map((move) => move.to))).toEqual(new Set(['received', 'accepted', 'rejected', 'on-hold', 'completed', 'cancelled']));
  });

  it.each<[TransferRole, TaskStatus, TaskStatus, string]>([
    ['receiver', 'requested', 'in-progress', 'allowed: received, accepted, rejected, on-hold'],
    ['receiver', 'accepted', 'completed', 'allowed: cancelled'],
    ['receiver', 'requested', 'completed', 'allowed: received, accepted, rejected, on-hold'],
    ['receiver', 'requested', 'cancelled', 'allowed: received, accepted, rejected, on-hold'],
    ['receiver', 'rejected', 'accepted', 'no further changes'],
    ['receiver', 'on-hold', 'accepted', 'allowed: cancelled'],
    ['sender', 'requested', 'accepted', 'allowed: in-progress, cancelled'],
    ['sender', 'on-hold', 'in-progress', 'allowed: requested, cancelled'],
    ['sender', 'in-progress', 'completed', 'allowed: cancelled'],
    ['sender', 'completed', 'cancelled', 'no further changes'],
    ['sender', 'cancelled', 'requested', 'no further changes'],
  ])('refuses the %s %s → %s with 409 naming the allowed moves', (role, from, to, allowed) => {
    const result = checkTaskUpdate(role, task(from), task(to, needed(role, to)));
    expect(result?.resourceType).toBe('OperationOutcome');
    expect(result?.id).toBe('conflict');
    expect(result?.issue[0].expression).toEqual(['Task.status']);
    expect(result?.issue[0].details?.text).toContain(allowed);
  });

  it('lets the receiver give a reason with its answer (statusReason), and not the sender', () => {
    const reason = { statusReason: { text: 'Geen capaciteit' } };
    expect(checkTaskUpdate('receiver', task('received'), task('rejected', reason))).toBeUndefined();
    const bySender = checkTaskUpdate('sender', task('requested'), task('cancelled', reason));
    expect([bySender?.id, bySender?.issue[0].expression]).toEqual(['unprocessable', ['Task']]);
  });

  it('starts a transfer requested with the advance notice, or in-progress with the handoff (partial workflow)', () => {
    expect(checkTaskCreate(task('requested', ADVANCE_NOTICE_INPUT))).toBeUndefined();
    expect(checkTaskCreate(task('in-progress', HANDOFF_INPUT))).toBeUndefined();
    const accepted = checkTaskCreate(task('accepted', ADVANCE_NOTICE_INPUT));
    expect([accepted?.id, accepted?.issue[0].expression, accepted?.issue[0].details?.text]).toEqual([
      'unprocessable',
      ['Task.status'],
      "A transfer starts requested with input:advanceNotice, or in-progress with input:nursingHandoff, not 'accepted'",
    ]);
    const withoutHandoff = checkTaskCreate(task('in-progress', ADVANCE_NOTICE_INPUT));
    expect([withoutHandoff?.id, withoutHandoff?.issue[0].expression]).toEqual(['unprocessable', ['Task.input']]);
  });

  it('lets the sender start the handoff only with input:nursingHandoff, and change nothing else', () => {
    const handoff = { input: [{ type: { coding: [{ system: 'http://snomed.info/sct', code: '11171000146100' }] }, valueReference: { reference: 'Composition/h1' } }] };
    expect(checkTaskUpdate('sender', task('accepted'), task('in-progress', handoff))).toBeUndefined();
    const withoutHandoff = checkTaskUpdate('sender', task('accepted'), task('in-progress'));
    expect([withoutHandoff?.id, withoutHandoff?.issue[0].expression]).toEqual(['unprocessable', ['Task.input']]);
    expect(checkTaskUpdate('sender', task('requested'), task('cancelled', { for: { reference: 'Patient/p2' } }))?.id).toBe('unprocessable');
  });

  it('lets the receiver change nothing but status and the alternative date', () => {
    expect(checkTaskUpdate('receiver', task('requested'), task('accepted', { owner: { reference: 'Organization/other' } }))?.id).toBe(
      'unprocessable',
    );
    expect(checkTaskUpdate('receiver', task('received'), task('on-hold', alternativeDate('2026-12-01T10:00:00+01:00')))).toBeUndefined();
  });

  it("judges neither side on Task.lastModified, which the gateway sets itself with every change", () => {
    const stale = { lastModified: '2026-12-01T10:00:00.000Z' };
    const now = { lastModified: '2026-12-01T10:00:01.000Z' };
    expect(checkTaskUpdate('receiver', task('accepted', now), task('cancelled', stale))).toBeUndefined();
    expect(checkTaskUpdate('sender', task('accepted', now), task('cancelled', stale))).toBeUndefined();
  });

  it('requires an alternative date to put a transfer on hold', () => {
    const result = checkTaskUpdate('receiver', task('received'), task('on-hold'));
    expect(result?.id).toBe('unprocessable');
    expect(result?.issue[0].expression).toEqual(['Task.output']);
  });

  it('treats a repeated status as an idempotent update', () => {
    expect(checkTaskUpdate('receiver', task('accepted'), task('accepted'))).toBeUndefined();
  });

  it('judges a proposal that is unchecked JSON with an OperationOutcome, never a TypeError', () => {
    // A REST body is judged before it is validated: a status outside the state machine, parameters of any shape.
    expect(checkTaskUpdate('receiver', task('requested'), { ...task('requested'), status: 42 })?.id).toBe('conflict');
    expect(checkTaskUpdate('receiver', task('received'), task('on-hold', { output: 'soon' }))?.id).toBe('unprocessable');
    expect(checkTaskUpdate('receiver', task('received'), task('on-hold', { output: [null, { type: { coding: 'x' } }] }))?.id).toBe('unprocessable');
  });

  it('grants access to the advance notice, then only the handoff, then nothing', () => {
    expect(accessibleDocument('requested')).toBe('advanceNotice');
    expect(accessibleDocument('on-hold')).toBe('advanceNotice');
    expect(accessibleDocument('in-progress')).toBe('nursingHandoff');
    expect(['rejected', 'cancelled', 'completed'].map((s) => accessibleDocument(s as TaskStatus))).toEqual([undefined, undefined, undefined]);
  });
});

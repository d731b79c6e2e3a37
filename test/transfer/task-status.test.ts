import { describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { accessibleDocument, ALTERNATIVE_DATE_CODE, checkTaskUpdate, type TaskStatus } from '../../src/transfer/task-status.js';

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

describe('eOverdracht Task state machine', () => {
  it.each<[TaskStatus, TaskStatus]>([
    ['requested', 'received'],
    ['requested', 'accepted'],
    ['received', 'accepted'],
    ['received', 'rejected'],
    ['in-progress', 'completed'],
  ])('lets the receiver move %s → %s', (from, to) => {
    expect(checkTaskUpdate('receiver', task(from), task(to))).toBeUndefined();
  });

  it.each<[TaskStatus, TaskStatus]>([
    ['requested', 'in-progress'],
    ['accepted', 'completed'],
    ['requested', 'completed'],
    ['requested', 'cancelled'],
    ['rejected', 'accepted'],
    ['on-hold', 'accepted'],
  ])('refuses the receiver %s → %s with 409 naming the allowed moves', (from, to) => {
    const result = checkTaskUpdate('receiver', task(from), task(to));
    expect(result?.id).toBe('conflict');
    expect(result?.issue[0].expression).toEqual(['Task.status']);
    expect(result?.issue[0].details?.text).toMatch(/allowed|no further changes/);
  });

  it.each<[TaskStatus, TaskStatus]>([
    ['requested', 'cancelled'],
    ['in-progress', 'cancelled'],
    ['on-hold', 'requested'],
  ])('lets the sender move %s → %s', (from, to) => {
    expect(checkTaskUpdate('sender', task(from), task(to))).toBeUndefined();
  });

  it.each<[TaskStatus, TaskStatus]>([
    ['requested', 'accepted'],
    ['requested', 'in-progress'],
    ['completed', 'cancelled'],
    ['cancelled', 'requested'],
  ])('refuses the sender %s → %s', (from, to) => {
    expect(checkTaskUpdate('sender', task(from), task(to))?.id).toBe('conflict');
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

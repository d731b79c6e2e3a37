import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Availability } from '../../src/capacity/model.js';
import { applyTransferEvent, effectiveAvailability, settleLedger, type Reservation } from '../../src/capacity/reservations.js';
import type { TaskStatus } from '../../src/transfer/task-status.js';

const census: Availability = {
  measuredAt: '2025-03-14T08:00:00.000Z',
  groups: [
    { careType: 'elv-hoog', available: 2, total: 10 },
    { careType: 'grz', available: { absent: 'unknown' } },
  ],
};
const at = (minute: number) => new Date(Date.parse(census.measuredAt) + minute * 60_000).toISOString();
const event = (task: string, status: TaskStatus, minute: number, careType = 'elv-hoog') => ({ task, careType, status, at: at(minute) });
const available = (availability: Availability, careType = 'elv-hoog') => availability.groups.find((group) => group.careType === careType)?.available;

function replay(events: ReturnType<typeof event>[]): Reservation[] {
  return events.reduce<Reservation[]>(applyTransferEvent, []);
}

describe('transfer <-> capacity', () => {
  it('accepted takes a place at once; rejected or cancelled gives it back', () => {
    const accepted = replay([event('t1', 'accepted', 1)]);
    expect(available(effectiveAvailability(census, accepted))).toBe(1);
    expect(available(effectiveAvailability(census, applyTransferEvent(accepted, event('t1', 'cancelled', 2))))).toBe(2);
    expect(available(effectiveAvailability(census, applyTransferEvent(accepted, event('t1', 'rejected', 2))))).toBe(2);
  });

  it('completed keeps the place taken until a census measured after the arrival counts it', () => {
    const completed = replay([event('t1', 'accepted', 1), event('t1', 'in-progress', 5), event('t1', 'completed', 30)]);
    expect(completed).toEqual([{ task: 't1', careType: 'elv-hoog', state: 'occupied', since: at(30) }]);
    expect(available(effectiveAvailability(census, completed))).toBe(1);
    const laterCensus = { ...census, measuredAt: at(31), groups: [{ careType: 'elv-hoog', available: 1 }] };
    expect(available(effectiveAvailability(laterCensus, completed))).toBe(1);
    expect(settleLedger(completed, laterCensus.measuredAt)).toEqual([]);
  });

  it('a reservation is subtracted from every census until released, whatever its time', () => {
    const reserved = replay([event('t1', 'accepted', 1)]);
    expect(available(effectiveAvailability({ ...census, measuredAt: at(60) }, reserved))).toBe(1);
  });

  it('repeats are idempotent, cancelling after completion changes nothing, unknown stays unknown', () => {
    const twice = replay([event('t1', 'accepted', 1), event('t1', 'accepted', 2), event('t1', 'received', 3)]);
    expect(twice).toHaveLength(1);
    const done = replay([event('t1', 'accepted', 1), event('t1', 'completed', 2), event('t1', 'cancelled', 3)]);
    expect(done).toEqual([expect.objectContaining({ state: 'occupied' })]);
    expect(available(effectiveAvailability(census, replay([event('t2', 'accepted', 1, 'grz')])), 'grz')).toEqual({ absent: 'unknown' });
  });

  it('never goes below zero and touches only the care type of the transfer', () => {
    const many = replay([1, 2, 3, 4].map((n) => event(`t${n}`, 'accepted', n)));
    const result = effectiveAvailability(census, many);
    expect(available(result)).toBe(0);
    expect(result.groups[0].total).toBe(10);
  });

  it('property: free places = census − open reservations − occupations after the census (floored at 0)', () => {
    const statuses: TaskStatus[] = ['requested', 'received', 'accepted', 'rejected', 'on-hold', 'in-progress', 'completed', 'cancelled'];
    const step = fc.record({ task: fc.constantFrom('a', 'b', 'c', 'd', 'e'), status: fc.constantFrom(...statuses), minute: fc.integer({ min: -30, max: 90 }) });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), fc.integer({ min: 0, max: 6 }), (steps, free) => {
        const ledger = replay(steps.map((item) => event(item.task, item.status, item.minute)));
        // an independent model: the last decisive status per task, in order of events
        const state = new Map<string, { status: TaskStatus; minute: number }>();
        for (const item of steps) {
          const before = state.get(item.task)?.status;
          const decisive = ['accepted', 'in-progress', 'completed', 'rejected', 'cancelled'].includes(item.status);
          if (!decisive || before === 'completed') continue;
          if ((item.status === 'accepted' || item.status === 'in-progress') && before && before !== 'rejected' && before !== 'cancelled') continue;
          if ((item.status === 'rejected' || item.status === 'cancelled') && !before) continue;
          state.set(item.task, { status: item.status, minute: item.minute });
        }
        const held = [...state.values()].filter(
          (item) => item.status === 'accepted' || item.status === 'in-progress' || (item.status === 'completed' && item.minute > 0),
        ).length;
        const result = effectiveAvailability({ ...census, groups: [{ careType: 'elv-hoog', available: free }] }, ledger);
        expect(available(result)).toBe(Math.max(0, free - held));
      }),
    );
  });
});

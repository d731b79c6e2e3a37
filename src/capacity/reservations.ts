import type { Reservation } from '../store/repository.js';
import type { TaskStatus } from '../transfer/task-status.js';
import { isKnown, type Availability } from './model.js';

/**
 * Transfer <-> capacity, as pure functions over a ledger of places promised through eOverdracht.
 *
 * The provider EHR reports its census: the places physically free at a moment. It does not know about promises,
 * so the gateway keeps them:
 * - accepted (or in-progress) → a reservation: the place is subtracted from the census at once;
 * - rejected / cancelled while reserved → released: the reservation is dropped and the place is free again;
 * - completed → occupied: the client has arrived and the place stays taken. A census measured after the arrival
 *   counts the client itself, so an occupied place is subtracted only from censuses measured before it was
 *   occupied; `settleLedger` drops it once a later census arrives.
 */
export type { Reservation };

export interface TransferEvent {
  task: string;
  careType: string;
  status: TaskStatus;
  at: string;
}

export function applyTransferEvent(ledger: readonly Reservation[], event: TransferEvent): Reservation[] {
  const existing = ledger.find((reservation) => reservation.task === event.task);
  const others = ledger.filter((reservation) => reservation !== existing);
  const place = (state: Reservation['state']): Reservation => ({ task: event.task, careType: event.careType, state, since: event.at });
  switch (event.status) {
    case 'accepted':
    case 'in-progress':
      return existing ? [...ledger] : [...ledger, place('reserved')];
    case 'rejected':
    case 'cancelled':
      return existing?.state === 'reserved' ? others : [...ledger];
    case 'completed':
      return existing?.state === 'occupied' ? [...ledger] : [...others, place('occupied')];
    default:
      return [...ledger];
  }
}

/** Drops occupied places that a census measured at `measuredAt` already counts. */
export function settleLedger(ledger: readonly Reservation[], measuredAt: string): Reservation[] {
  const census = Date.parse(measuredAt);
  return ledger.filter((reservation) => reservation.state === 'reserved' || Date.parse(reservation.since) > census);
}

/** The census minus the places it cannot know are taken; never below zero, unknown stays unknown. */
export function effectiveAvailability(census: Availability, ledger: readonly Reservation[]): Availability {
  const held = settleLedger(ledger, census.measuredAt);
  return {
    measuredAt: census.measuredAt,
    groups: census.groups.map((group) => {
      if (!isKnown(group.available)) return group;
      const taken = held.filter((reservation) => reservation.careType === group.careType).length;
      return { ...group, available: Math.max(0, group.available - taken) };
    }),
  };
}

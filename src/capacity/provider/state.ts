import type { Resource } from '../../fhir/version.js';
import type { ResourceRepository, Scope, Store } from '../../store/repository.js';
import { CANONICAL_BASE } from '../canonical.js';
import { objects, stringAt } from '../json.js';
import { optimisticTransaction, writeOver } from '../../store/optimistic.js';
import type { Reservation } from '../reservations.js';
import { readOptional } from '../../store/optional.js';

/**
 * A provider tenant's capacity state, kept in its own R4 scope as one internal Basic resource (it never leaves):
 * which stored MeasureReport is the current census, and the ledger of places promised through eOverdracht.
 */
export interface CapacityState {
  /** Id of the MeasureReport holding the current census (as the EHR sent it, or counted from its beds). */
  census?: string;
  ledger: Reservation[];
}

const STATE_ID = 'capacity-state';

/** The state's record: bookkeeping of the gateway, never written over REST. */
export const isCapacityState = (resource: Resource): boolean => resource.resourceType === 'Basic' && resource.id === STATE_ID;
const CENSUS_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/capacity-census`;
const RESERVATION_EXTENSION = `${CANONICAL_BASE}/StructureDefinition/capacity-reservation`;

function toBasic(state: CapacityState): Resource {
  return {
    resourceType: 'Basic',
    id: STATE_ID,
    code: { text: 'Capaciteit: huidige telling en reserveringen (intern)' },
    extension: [
      ...(state.census === undefined ? [] : [{ url: CENSUS_EXTENSION, valueReference: { reference: `MeasureReport/${state.census}` } }]),
      ...state.ledger.map((reservation) => ({
        url: RESERVATION_EXTENSION,
        extension: [
          { url: 'task', valueString: reservation.task },
          { url: 'careType', valueCode: reservation.careType },
          { url: 'state', valueCode: reservation.state },
          { url: 'since', valueInstant: reservation.since },
        ],
      })),
    ],
  };
}

function fromBasic(basic: Resource): CapacityState {
  const extensions = objects(basic.extension);
  const census = stringAt(extensions.find((extension) => extension.url === CENSUS_EXTENSION)?.valueReference, 'reference');
  const ledger = extensions
    .filter((extension) => extension.url === RESERVATION_EXTENSION)
    .map((extension) => {
      const part = (name: string) => objects(extension.extension).find((item) => item.url === name) ?? {};
      return {
        task: String(part('task').valueString),
        careType: String(part('careType').valueCode),
        state: part('state').valueCode as Reservation['state'],
        since: String(part('since').valueInstant),
      };
    });
  return { ...(census === undefined ? {} : { census: census.replace(/^MeasureReport\//, '') }), ledger };
}

async function readState(resources: ResourceRepository, scope: Scope): Promise<{ state: CapacityState; versionId?: string }> {
  const basic = await readOptional(resources, scope, 'Basic', STATE_ID);
  return basic ? { state: fromBasic(basic), versionId: basic.meta?.versionId } : { state: { ledger: [] } };
}

export async function loadState(resources: ResourceRepository, scope: Scope): Promise<CapacityState> {
  return (await readState(resources, scope)).state;
}

/**
 * Changes the state atomically: `change` runs inside a transaction on the current state and may write other
 * resources through the transaction's store; a concurrent writer makes it run again on the newer state.
 */
export async function changeState<T>(
  store: Store,
  scope: Scope,
  change: (state: CapacityState, tx: Store) => Promise<{ state: CapacityState; result: T }>,
): Promise<T> {
  return optimisticTransaction(store, async (tx) => {
    const { state, versionId } = await readState(tx.resources, scope);
    const next = await change(state, tx);
    if (JSON.stringify(next.state) !== JSON.stringify(state)) {
      await writeOver(tx, scope, toBasic(next.state), versionId);
    }
    return next.result;
  });
}

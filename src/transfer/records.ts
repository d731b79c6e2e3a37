import type { Person } from '../fhir/principal.js';
import type { UnitOfWork } from '../store/repository.js';

/**
 * The gateway's bookkeeping of each transfer Task, kept beside the Task (same id) in the store's transfer records:
 * which organisation is on the other side (and, in records of versions before the Consents, the credentials that
 * opened the Task and its document, revoked when the transfer ends). A record read and saved again is saved only if
 * unchanged since (`version`, else VersionConflict). It is no FHIR resource: the tenant's EHR follows the transfer
 * through its Task.
 */
export interface OutboundTransfer {
  /** The version this was read at (none for a new transfer). */
  version?: number;
  /** The Task at this (sending) gateway. */
  task: string;
  receiver: string;
  /** Every Task of the same offer, this one included: the candidates cancelled when one gets the handoff. */
  offer: string[];
  taskCredentialId?: string;
  taskCredentialJwt?: string;
  documentCredentialId?: string;
  documentCredentialJwt?: string;
}

export interface InboundTransfer {
  version?: number;
  /** The local copy of the sender's Task at this (receiving) gateway. */
  task: string;
  sender: string;
  remoteTask: string;
  /** The person the receiving EHR named when it last answered: the pulls and answers that follow carry them. */
  person?: Person;
}

type Records = Pick<UnitOfWork, 'transfers'>;

export async function saveOutbound(store: Records, tenant: string, { version, receiver, ...transfer }: OutboundTransfer): Promise<void> {
  await store.transfers.save(tenant, { ...transfer, side: 'outbound', peer: receiver }, version);
}

export async function readOutbound(store: Records, tenant: string, task: string): Promise<OutboundTransfer | undefined> {
  const found = await store.transfers.find(tenant, task);
  if (found?.value.side !== 'outbound') return undefined;
  const { side: _side, peer, remoteTask: _remoteTask, offer, ...credentials } = found.value;
  return { version: found.version, ...credentials, task, receiver: peer, offer: offer ?? [task] };
}

export async function saveInbound(store: Records, tenant: string, transfer: InboundTransfer): Promise<void> {
  const { version, task, sender, remoteTask, person } = transfer;
  await store.transfers.save(tenant, { task, side: 'inbound', peer: sender, remoteTask, ...(person ? { person } : {}) }, version);
}

export async function readInbound(store: Records, tenant: string, task: string): Promise<InboundTransfer | undefined> {
  const found = await store.transfers.find(tenant, task);
  if (found?.value.side !== 'inbound') return undefined;
  const { peer: sender, remoteTask = '', person } = found.value;
  return { version: found.version, task, sender, remoteTask, ...(person ? { person } : {}) };
}

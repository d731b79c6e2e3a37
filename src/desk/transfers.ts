import { parseSearchRequest } from '../fhir/search/parse.js';
import type { UnitOfWork } from '../store/repository.js';
import { readOutbound } from '../transfer/records.js';
import { statusOf, type TaskStatus } from '../transfer/task-status.js';

/** One offer of a transfer to one provider, as the hospital's overview shows it: no patient data. */
export interface TransferLine {
  task: string;
  /** The organisation it was offered to (the trust registry's name). */
  offeredTo: string;
  status: TaskStatus | 'unknown';
  /** Whether this provider took the patient (accepted, in progress or completed). */
  accepted: boolean;
  /** The last change of the Task. */
  changedAt?: string;
}

const SHOWN = 100;
const TAKEN: readonly string[] = ['accepted', 'in-progress', 'completed'];

/**
 * The hospital tenant's latest outbound transfers: the Tasks it offered (the transfer records say to whom), their
 * status and when it last changed. The overview names no patient and shows no clinical content.
 */
export async function outboundTransfers(store: UnitOfWork, tenant: string, nameOf: (organization: string) => string): Promise<TransferLine[]> {
  const request = parseSearchRequest('stu3', 'Task', { _sort: '-_lastUpdated', _count: String(SHOWN) });
  const page = await store.resources.search({ tenant, version: 'stu3' }, request);
  const lines: TransferLine[] = [];
  for (const task of page.resources) {
    const record = typeof task.id === 'string' ? await readOutbound(store, tenant, task.id) : undefined;
    if (!record) continue;
    const status = statusOf(task) ?? 'unknown';
    const changedAt = typeof task.lastModified === 'string' ? task.lastModified : task.meta?.lastUpdated;
    lines.push({ task: record.task, offeredTo: nameOf(record.receiver), status, accepted: TAKEN.includes(status), ...(changedAt ? { changedAt } : {}) });
  }
  return lines;
}

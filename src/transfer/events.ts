import type { Resource } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import type { TaskStatus, TransferRole } from './task-status.js';

/** A Task status change, as other capabilities (capacity: an accepted transfer takes a place) follow transfers. */
export interface TaskStatusChange {
  /** The hosted organisation whose Task changed. */
  tenant: string;
  /** `sender`: the Task at the hospital's gateway; `receiver`: the copy at the care provider's gateway. */
  side: TransferRole;
  /** The Task as stored (STU3). */
  task: Resource;
  /** Undefined when the Task was just created (offered, or first pulled by the receiver). */
  previousStatus?: TaskStatus;
}

/**
 * Called inside the transaction of every Task status change, on both sides: whatever it writes through `tx`, that
 * transaction's unit of work, commits or rolls back with the change; throwing refuses the change.
 */
export type TaskStatusListener = (change: TaskStatusChange, tx: UnitOfWork) => Promise<void>;

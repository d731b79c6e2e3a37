import type { Resource } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import type { TaskStatus, TransferRole } from './task-status.js';

/**
 * The hook other capabilities (capacity: an accepted transfer takes a place) use to follow transfers. It is called
 * inside the transaction of every Task status change, on both sides: whatever it writes through `store` commits or
 * rolls back with the change; throwing refuses the change.
 */
export interface TaskStatusChange {
  /** The hosted organisation whose Task changed. */
  tenant: string;
  /** `sender`: the Task at the hospital's gateway; `receiver`: the copy at the care provider's gateway. */
  side: TransferRole;
  /** The Task as stored (STU3). */
  task: Resource;
  /** Undefined when the Task was just created (offered, or first pulled by the receiver). */
  previousStatus?: TaskStatus;
  store: UnitOfWork;
}

export type TaskStatusListener = (change: TaskStatusChange) => Promise<void>;

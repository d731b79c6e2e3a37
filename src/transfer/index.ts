import type { Auth } from '../auth/index.js';
import type { Capability } from '../rest/capability-contract.js';
import type { ResourceValidator } from '../rest/types.js';
import type { FhirVersion } from '../fhir/version.js';
import type { Store } from '../store/repository.js';
import { OUTBOX_KINDS, type TransferContext } from './context.js';
import type { TaskStatusListener } from './events.js';
import { notificationEndpoint } from './notification.js';
import { transferRoutes } from './operations.js';
import { answerOf, taskOf } from './payloads.js';
import { createPeer } from './peer.js';
import { deliverAnswer, pull, receiveNotification, receiveNotificationTask } from './receiver.js';
import { sendNotification } from './sender.js';
import { taskWrites } from './task-writes.js';
import { PURPOSE } from './purposes.js';
import { loadPersonPolicy } from './person-policy.js';

/**
 * eOverdracht (DESIGN §2-§3): the hospital's sender and the care provider's receiver over Nuts notified pull, as a
 * capability: `$offer`/`$handoff`, the Task write rules, the notification endpoint and the outbox handlers that
 * notify, pull and answer (the change feed wakes the outbox dispatcher once a change that queued messages commits).
 */
export interface TransferDependencies {
  store: Store;
  auth: Pick<Auth, 'credentials' | 'client' | 'registry'>;
  validators: Record<FhirVersion, ResourceValidator>;
  /** Called in the transaction of every Task status change, on both sides (capacity follows accepted transfers). */
  onTaskStatusChange?: TaskStatusListener;
  clock?: () => number;
}

export function createTransfer(deps: TransferDependencies): Capability {
  const context: TransferContext = {
    store: deps.store,
    registry: deps.auth.registry,
    credentials: deps.auth.credentials,
    personPolicy: loadPersonPolicy(PURPOSE.pull),
    validators: deps.validators,
    onTaskStatusChange: deps.onTaskStatusChange,
    clock: deps.clock ?? Date.now,
  };
  const peer = createPeer(deps.auth.client, deps.auth.registry);
  return {
    name: 'eOverdracht transfer',
    fhirRoutes: () => transferRoutes(context),
    writeInterceptors: { Task: taskWrites(context) },
    endpoints: [
      notificationEndpoint({
        receive: (notification) => receiveNotification(context, notification),
        receiveTask: (tenant, sender, task) => receiveNotificationTask(context, tenant, sender, task),
      }),
    ],
    outboxHandlers: {
      [OUTBOX_KINDS.notify]: (message) => sendNotification(context, peer, message.tenant, taskOf(message.payload)),
      [OUTBOX_KINDS.pull]: (message) => pull(context, peer, message.tenant, taskOf(message.payload)),
      [OUTBOX_KINDS.answer]: (message) => deliverAnswer(context, peer, message.tenant, answerOf(message.payload)),
    },
  };
}

export type { TaskStatusChange, TaskStatusListener } from './events.js';
export { NOTIFICATION_BASE } from './notification.js';

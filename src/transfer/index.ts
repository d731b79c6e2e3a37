import type { Auth } from '../auth/index.js';
import type { TrustedOrganization } from '../config/config.js';
import type { ResourceValidator } from '../fhir/rest/types.js';
import type { FhirVersion } from '../fhir/version.js';
import type { HttpExtension } from '../http/app.js';
import type { MemoryGate } from '../http/bodies.js';
import type { Logger } from '../logging.js';
import type { OutboxHandler } from '../outbox/dispatcher.js';
import type { Store } from '../store/repository.js';
import { OUTBOX_KINDS, type TransferContext } from './context.js';
import type { TaskStatusListener } from './events.js';
import { notificationRouter } from './notification.js';
import { transferRoutes } from './operations.js';
import { createPeer } from './peer.js';
import { deliverAnswer, pull, receiveNotification } from './receiver.js';
import { sendNotification } from './sender.js';
import { taskWrites } from './task-writes.js';

/**
 * eOverdracht (DESIGN §2-§3): the hospital's sender and the care provider's receiver over Nuts notified pull.
 * `createTransfer` wires it from the gateway's parts; the gateway mounts `http` and registers `outboxHandlers`
 * with its outbox dispatcher (which the change feed wakes once a change that queued messages commits).
 */
export interface TransferDependencies {
  store: Store;
  auth: Pick<Auth, 'authenticator' | 'credentials' | 'client' | 'registry'>;
  trusted: TrustedOrganization[];
  validators: Record<FhirVersion, ResourceValidator>;
  limits: { jsonDepth: number };
  /** The gateway's memory gate of request bodies in flight (the notification endpoint reads one). */
  bodies: MemoryGate;
  logger: Logger;
  /** Called in the transaction of every Task status change, on both sides (capacity follows accepted transfers). */
  onTaskStatusChange?: TaskStatusListener;
  clock?: () => number;
}

export interface Transfer {
  http: HttpExtension;
  outboxHandlers: Record<string, OutboxHandler>;
}

export function createTransfer(deps: TransferDependencies): Transfer {
  const context: TransferContext = {
    store: deps.store,
    registry: deps.auth.registry,
    trusted: deps.trusted,
    credentials: deps.auth.credentials,
    validators: deps.validators,
    onTaskStatusChange: deps.onTaskStatusChange,
    clock: deps.clock ?? Date.now,
  };
  const peer = createPeer(deps.auth.client, deps.auth.registry);
  const payloadTask = (payload: unknown) => (payload as { task: string }).task;
  return {
    http: {
      fhirRoutes: () => transferRoutes(context),
      writeInterceptors: { Task: taskWrites(context) },
      router: notificationRouter({
        authenticator: deps.auth.authenticator,
        jsonDepth: deps.limits.jsonDepth,
        bodies: deps.bodies,
        logger: deps.logger,
        receive: (notification) => receiveNotification(context, notification),
      }),
    },
    outboxHandlers: {
      [OUTBOX_KINDS.notify]: (message) => sendNotification(context, peer, message.tenant, payloadTask(message.payload)),
      [OUTBOX_KINDS.pull]: (message) => pull(context, peer, message.tenant, payloadTask(message.payload)),
      [OUTBOX_KINDS.answer]: (message) =>
        deliverAnswer(context, peer, message.tenant, message.payload as { task: string; status: string; alternativeDate?: string }),
    },
  };
}

export type { TaskStatusChange, TaskStatusListener } from './events.js';
export { NOTIFICATION_BASE } from './notification.js';

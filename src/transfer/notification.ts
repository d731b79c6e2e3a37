import type { Endpoint } from '../rest/capability-contract.js';
import { accepted, badRequest, created, OperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { FhirHandler } from '../rest/types.js';
import type { Notification } from './receiver.js';

/**
 * The receiver's notification endpoint of notified pull, in both published shapes, with a token of purpose
 * `eOverdracht-receiver`:
 * - Nuts eOverdracht Bolt v1 (§4.1.3): an empty `POST /eoverdracht/notification/Task/{id}` naming the sender's Task,
 *   answered 202 once the pull is queued; a body is refused. Senders configure `<publicBaseUrl>/eoverdracht/notification/Task`.
 * - Twiin TA Notified Pull: a notification Task `POST /eoverdracht/notification/Task`, answered 201 with the Task as
 *   taken in once the pull of the Task it is based on is queued. Senders configure `<publicBaseUrl>/eoverdracht/notification`.
 */
export const NOTIFICATION_BASE = '/eoverdracht/notification';

const BODY_LIMIT = { name: 'the notification body limit', bytes: 64 * 1024 };

export interface NotificationEndpointDeps {
  /** A Bolt notification: the sender's Task named by the path. */
  receive(notification: Notification): Promise<void>;
  /** A Twiin notification Task from `sender` to `tenant`; answers it as taken in. */
  receiveTask(tenant: string, sender: string, task: unknown): Promise<Resource>;
}

export function notificationEndpoint(deps: NotificationEndpointDeps): Endpoint {
  const bolt: FhirHandler = async (request, context) => {
    const taskId = request.params.id;
    if (request.body !== undefined) throw new OperationOutcomeError(badRequest('A notification is an empty POST (Nuts eOverdracht Bolt §4.1.3): this one has a body'));
    const { principal } = context;
    await deps.receive({ tenant: principal.tenant, sender: principal.requester, remoteTask: taskId });
    return [accepted(`Notification of Task/${taskId} received; the Task will be retrieved`)];
  };
  const twiin: FhirHandler = async (request, context) => {
    const { principal } = context;
    return [created, await deps.receiveTask(principal.tenant, principal.requester, request.body)];
  };
  return {
    path: NOTIFICATION_BASE,
    api: 'notification',
    version: 'stu3',
    // A notification carries no personal data (DESIGN §2; a Twiin one with any is refused); the Task it announces is audited where it is read.
    routes: [
      { method: 'POST', path: 'Task/:id', access: 'create', interactions: [], bodyLimit: BODY_LIMIT, audit: false, handler: bolt },
      { method: 'POST', path: 'Task', access: 'create', interactions: [], bodyLimit: BODY_LIMIT, audit: false, handler: twiin },
    ],
  };
}

import { isObject } from '../vocabulary/json.js';
import type { Endpoint } from '../rest/capability-contract.js';
import { accepted, badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { FhirHandler } from '../rest/types.js';
import { isResource } from '../fhir/version.js';
import { NOTIFICATION_PARAMETERS } from './credentials.js';
import type { Notification } from './receiver.js';

/**
 * The receiver's notification endpoint of notified pull: `POST /eoverdracht/notification/Task/{id}` with a token of
 * purpose `eOverdracht-receiver`. Configure it at the sender as this organisation's `endpoints.notification`:
 * `<publicBaseUrl>/eoverdracht/notification/Task` (the sender appends the Task id). It answers 202 as soon as the
 * pull is queued; the body may hand over the credentials for the pull, nothing else.
 */
export const NOTIFICATION_BASE = '/eoverdracht/notification';

const BODY_LIMIT = { name: 'the notification body limit', bytes: 64 * 1024 };

export interface NotificationEndpointDeps {
  receive(notification: Notification): Promise<void>;
}

export function notificationEndpoint(deps: NotificationEndpointDeps): Endpoint {
  const notified: FhirHandler = async (request, context) => {
    const taskId = request.params.id;
    const { principal } = context;
    await deps.receive({ tenant: principal.tenant, sender: principal.requester, remoteTask: taskId, ...handedCredentials(request.body) });
    return [accepted(`Notification of Task/${taskId} received; the Task will be retrieved`)];
  };
  return {
    path: NOTIFICATION_BASE,
    api: 'notification',
    version: 'stu3',
    // A notification carries no personal data (DESIGN §2); the Task it announces is audited where it is read.
    routes: [{ method: 'POST', path: 'Task/:id', access: 'create', interactions: [], bodyLimit: BODY_LIMIT, audit: false, handler: notified }],
  };
}

/** A Parameters.parameter of a request body, not yet validated: its value is checked where it is read. */
const isParameter = (value: unknown): value is fhir3.ParametersParameter => isObject(value);

/** The optional body: a Parameters resource with the credentials (JWTs) the pull needs. */
function handedCredentials(body: unknown): { taskCredential?: string; documentCredential?: string } {
  if (body === undefined) return {};
  if (!isResource(body) || body.resourceType !== 'Parameters') throw new OperationOutcomeError(badRequest('A notification body must be a Parameters resource'));
  const parameter: unknown[] = Array.isArray(body.parameter) ? body.parameter : [];
  const value = (name: string) => {
    const found: unknown = parameter.filter(isParameter).find((p) => p.name === name)?.valueString;
    if (found !== undefined && typeof found !== 'string') throw new OperationOutcomeError(badRequest(`Parameter '${name}' must be a valueString`));
    return found;
  };
  return { taskCredential: value(NOTIFICATION_PARAMETERS.taskCredential), documentCredential: value(NOTIFICATION_PARAMETERS.documentCredential) };
}

import express, { type NextFunction, type Request, type Response } from 'express';
import type { Authenticator, Principal } from '../fhir/principal.js';
import { wwwAuthenticate } from '../auth/authenticator.js';
import { parseJson } from '../fhir/json.js';
import { accepted, badRequest, OperationOutcomeError, serverError, type OperationOutcome } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { bodyErrorOutcome, leaveBodyUnread, reserveBody, type MemoryGate } from '../http/bodies.js';
import { httpStatus } from '../rest/status.js';
import type { Logger } from '../logging/logger.js';
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
const TASK_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export interface NotificationEndpointDeps {
  authenticator: Authenticator;
  receive(notification: Notification): Promise<void>;
  logger: Logger;
  jsonDepth: number;
  /** The gateway's memory gate of request bodies in flight. */
  bodies: MemoryGate;
}

export function notificationRouter(deps: NotificationEndpointDeps): express.Router {
  const router = express.Router();
  const readBody = [reserveBody(deps.bodies, BODY_LIMIT.bytes), express.raw({ type: () => true, limit: BODY_LIMIT.bytes })];
  router.post(`${NOTIFICATION_BASE}/Task/:id`, authenticated(deps), ...readBody, async (req: Request, res: Response) => {
    try {
      send(res, await notified(req, res.locals.principal as Principal, deps));
    } catch (error) {
      if (error instanceof OperationOutcomeError) return send(res, error.outcome);
      deps.logger.error({ requestId: res.locals.requestId, err: error }, 'notification failed');
      send(res, serverError(`Internal error; quote request id ${res.locals.requestId}`));
    }
  });
  router.use(`${NOTIFICATION_BASE}`, (error: unknown, req: Request, res: Response, next: NextFunction) => {
    const refusal = bodyErrorOutcome(error, req, res, BODY_LIMIT);
    if (refusal) send(res, refusal);
    else next(error);
  });
  return router;
}

/** The token is checked before the body is read: an unknown caller is answered without it. */
function authenticated(deps: NotificationEndpointDeps) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const principal = await deps.authenticator.authenticate(req.headers.authorization);
    if ('resourceType' in principal) {
      leaveBodyUnread(req, res, BODY_LIMIT.bytes);
      send(res, principal);
      return;
    }
    res.locals.principal = principal;
    next();
  };
}

async function notified(req: Request, principal: Principal, deps: NotificationEndpointDeps): Promise<OperationOutcome> {
  const taskId = String(req.params.id);
  if (!TASK_ID.test(taskId)) throw new OperationOutcomeError(badRequest(`'${taskId}' is not a valid Task id`));
  const denied = deps.authenticator.authorize(principal, { version: 'stu3', operation: 'create', path: `/Task/${taskId}`, resourceType: 'Task', endpoint: 'notification' });
  if (denied) throw new OperationOutcomeError(denied);
  await deps.receive({ tenant: principal.tenant, sender: principal.requester, remoteTask: taskId, ...handedCredentials(req.body, deps.jsonDepth) });
  return accepted(`Notification of Task/${taskId} received; the Task will be retrieved`);
}

/** The optional body: a Parameters resource with the credentials (JWTs) the pull needs. */
function handedCredentials(body: unknown, maxDepth: number): { taskCredential?: string; documentCredential?: string } {
  if (!Buffer.isBuffer(body) || body.length === 0) return {};
  const parameters = parseJson(body.toString('utf8'), { maxDepth }) as Resource;
  if (parameters?.resourceType !== 'Parameters') throw new OperationOutcomeError(badRequest('A notification body must be a Parameters resource'));
  const value = (name: string) => {
    const found = ((parameters.parameter as { name?: string; valueString?: unknown }[] | undefined) ?? []).find((p) => p?.name === name)?.valueString;
    if (found !== undefined && typeof found !== 'string') throw new OperationOutcomeError(badRequest(`Parameter '${name}' must be a valueString`));
    return found;
  };
  return { taskCredential: value(NOTIFICATION_PARAMETERS.taskCredential), documentCredential: value(NOTIFICATION_PARAMETERS.documentCredential) };
}

function send(res: Response, result: OperationOutcome): void {
  if (result.id === 'unauthorized') res.setHeader('WWW-Authenticate', wwwAuthenticate(result));
  res.status(httpStatus(result)).type('application/fhir+json').send(JSON.stringify(result));
}

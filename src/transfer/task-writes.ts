import { conflict, forbidden, OperationOutcomeError, unprocessable } from '../fhir/outcome.js';
import type { Principal } from '../fhir/principal.js';
import type { Resource } from '../fhir/version.js';
import { resourceBody, writeOutcome } from '../rest/resource-body.js';
import type { FhirResponse, WriteInterceptor } from '../rest/types.js';
import { ifMatchVersion } from '../rest/update.js';
import { hasCode, TASK_CODE } from './codes.js';
import type { TransferContext } from './context.js';
import { withUnitOfWork } from './context.js';
import { readOptional } from '../store/optional.js';
import { answer, isInboundTask } from './receiver.js';
import { scopeOf } from './storage.js';
import { changeOutboundTask, createOutboundTask, isOutboundTask } from './sender.js';

/**
 * REST writes of Tasks. A Task this gateway offered (sender side) or received (the receiver's local copy) changes
 * only through the transfer state machine, for the side the caller is on: at the sender, the tenant's EHR is the
 * sender and a remote organisation (with its token) the receiver; at the receiver, the tenant's EHR answers.
 * A transfer starts when a sending tenant's EHR creates a workflow Task (`POST Task`, the Nictiz TA's own
 * interaction, or `PUT Task/{id}` under an id not yet used, FHIR's update as create, as Nictiz's test scripts do) or
 * calls `$offer`, and is cancelled, never deleted; any other Task (another code, another tenant, or
 * stored with a plain update, e.g. an example) is plain FHIR data and passes through untouched.
 */
export function taskWrites(context: TransferContext): WriteInterceptor {
  return async (request, rest, next) => {
    const unit = withUnitOfWork(context, rest.store);
    const tenant = rest.principal.tenant;
    const id = request.params.id;
    const created = request.method === 'POST' ? resourceBody(request) : undefined;
    if (created && startsTransfer(context, rest.principal, created)) {
      const { result, issues } = await createOutboundTask(unit, { tenant, version: rest.services.version, task: created });
      return [writeOutcome('created', issues, 'Created'), result];
    }
    const side = id === undefined ? undefined : await sideOf(unit, tenant, id);
    if (!side && request.method === 'PUT' && id !== undefined) {
      const put = resourceBody(request);
      if (startsTransfer(context, rest.principal, put) && !(await readOptional(unit.store.resources, scopeOf(tenant, rest.services.version), 'Task', id))) {
        if (put.id !== id) throw new OperationOutcomeError(unprocessable(`The body's id '${put.id}' differs from the id '${id}' in the URL`, 'Task.id'));
        const { result, issues } = await createOutboundTask(unit, { tenant, version: rest.services.version, task: put, id });
        return [writeOutcome('created', issues, 'Created'), result];
      }
    }
    if (!side) return next(request, rest);
    if (request.method === 'DELETE') {
      throw new OperationOutcomeError(conflict(`Task/${id} is an eOverdracht transfer: cancel it (status cancelled) instead of deleting it`));
    }
    const proposed = resourceBody(request);
    if (proposed.id !== id) throw new OperationOutcomeError(unprocessable(`The body's id '${proposed.id}' differs from the id '${id}' in the URL`, 'Task.id'));
    const change = { tenant, version: rest.services.version, proposed, ifMatch: ifMatchVersion(request.headers['if-match']) };
    return side === 'sender' ? changeAsSender(unit, change, rest.principal) : changeAsReceiver(unit, change, rest.principal);
  };
}

/** A workflow Task (code 308292007) the sending tenant's own EHR creates: the start of a transfer (Nictiz TO §3.2.2). */
function startsTransfer(context: TransferContext, caller: Caller & { tenant: string }, task: Resource): boolean {
  const sends = context.registry.hosted(caller.tenant)?.organization.roles.includes('sender') ?? false;
  return sends && caller.kind === 'ehr' && hasCode(task.code, TASK_CODE.code);
}

async function sideOf(context: TransferContext, tenant: string, id: string): Promise<'sender' | 'receiver' | undefined> {
  if (await isOutboundTask(context, tenant, id)) return 'sender';
  if (await isInboundTask(context, tenant, id)) return 'receiver';
  return undefined;
}

type Change = Parameters<typeof answer>[1];
type Caller = Pick<Principal, 'kind' | 'requester' | 'person'>;

async function changeAsSender(context: TransferContext, change: Change, caller: Caller): Promise<FhirResponse> {
  const by = caller.kind === 'ehr' ? ({ role: 'sender' } as const) : ({ role: 'receiver', organization: caller.requester } as const);
  const { result, issues } = await changeOutboundTask(context, { ...change, taskId: change.proposed.id as string, by });
  return [writeOutcome('ok', issues, 'Updated'), result];
}

async function changeAsReceiver(context: TransferContext, change: Change, caller: Caller): Promise<FhirResponse> {
  if (caller.kind !== 'ehr') throw new OperationOutcomeError(forbidden('Only the receiving EHR answers through its local copy of the Task'));
  return [writeOutcome('ok', [], 'Updated'), await answer(context, { ...change, ...(caller.person ? { person: caller.person } : {}) })];
}

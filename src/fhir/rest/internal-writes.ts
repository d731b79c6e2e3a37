import { readOptional } from '../../store/optional.js';
import { forbidden, OperationOutcomeError } from '../outcome.js';
import type { Resource } from '../version.js';
import type { WriteInterceptor } from './types.js';

/**
 * Keeps records a capability keeps for itself (bookkeeping it writes through the store, never through REST) out of
 * reach of REST writes, whoever asks: creating one, or updating or deleting one that is stored, is refused with 403;
 * reading them is left as it is. `isInternal` tells them by their content, `what` names them in the refusal.
 */
export function refuseInternalWrites(isInternal: (resource: Resource) => boolean, what: string): WriteInterceptor {
  return async (request, context, next) => {
    const { type, id } = request.params;
    const stored = id === undefined ? undefined : await readOptional(context.store.resources, context.scope, type, id);
    const proposed = request.method === 'DELETE' ? undefined : (request.body as Resource | undefined);
    if ([stored, proposed].some((resource) => resource?.resourceType === type && isInternal(resource))) {
      const target = id === undefined ? `This ${type}` : `${type}/${id}`;
      throw new OperationOutcomeError(forbidden(`${target} is ${what}: the gateway keeps it, it cannot be written over the REST API`));
    }
    return next(request, context);
  };
}

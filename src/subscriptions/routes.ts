import type { RouteDefinition } from '../rest/router.js';
import type { FhirHandler } from '../rest/types.js';
import { EVENTS_OPERATION, RESEND_OPERATION, STATUS_OPERATION, SubscriptionOperations, type OperationServices } from './operations.js';
import { SubscriptionRest, type RestServices } from './rest.js';

/**
 * The Subscription routes of the R4 base. Literal `Subscription` paths win over the generic `:type` routes, so every
 * Subscription interaction (batch and transaction entries too) goes through the owner rule and the server's status.
 */
export function subscriptionRoutes(services: RestServices & OperationServices): RouteDefinition[] {
  const rest = new SubscriptionRest(services);
  const operations = new SubscriptionOperations(services);
  const route = (method: RouteDefinition['method'], path: string, access: RouteDefinition['access'], interactions: string[], handler: FhirHandler): RouteDefinition => ({
    method,
    path,
    access,
    interactions,
    handler,
  });
  const operation = (method: RouteDefinition['method'], path: string, definition: RouteDefinition['operation'], handler: FhirHandler): RouteDefinition => ({
    ...route(method, path, 'operation', [], handler),
    operation: definition,
  });
  return [
    route('POST', 'Subscription', 'create', ['create'], (request, context) => rest.create(request, context)),
    route('GET', 'Subscription', 'search', ['search-type'], (request, context) => rest.search(request, context)),
    route('POST', 'Subscription/_search', 'search', ['search-type'], (request, context) => rest.search(request, context)),
    route('GET', 'Subscription/:id', 'read', ['read'], (request, context) => rest.read(request, context)),
    route('PUT', 'Subscription/:id', 'update', ['update'], (request, context) => rest.update(request, context)),
    route('DELETE', 'Subscription/:id', 'delete', ['delete'], (request, context) => rest.delete(request, context)),
    ...(['GET', 'POST'] as const).flatMap((method) => [
      operation(method, 'Subscription/$status', STATUS_OPERATION, (request, context) => operations.statusOfMany(request, context)),
      operation(method, 'Subscription/:id/$status', STATUS_OPERATION, (request, context) => operations.statusOfOne(request, context)),
      operation(method, 'Subscription/:id/$events', EVENTS_OPERATION, (request, context) => operations.events(request, context)),
    ]),
    operation('POST', 'Subscription/:id/$resend', RESEND_OPERATION, (request, context) => operations.resend(request, context)),
  ];
}

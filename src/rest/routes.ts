import { bundleInteraction, processBundle } from './batch.js';
import { createResource } from './create.js';
import { compositionDocument, DOCUMENT } from './document.js';
import { deleteResource } from './delete.js';
import { readHistory } from './history.js';
import { readResource } from './read.js';
import { FhirRouter, type RouteDefinition } from './router.js';
import { searchType } from './search.js';
import type { FhirHandler } from './types.js';
import { updateResource } from './update.js';
import { VALIDATE, validateOperation } from './validate.js';
import { readVersion } from './vread.js';

/** A write handler that gives the type's write interceptor (RestServices.writeInterceptors) the first say. */
const intercepted =
  (handler: FhirHandler): FhirHandler =>
  (request, context) => {
    const interceptor = context.services.writeInterceptors?.[request.params.type];
    return interceptor ? interceptor(request, context, handler) : handler(request, context);
  };

/** The FHIR REST interactions of one base; the CapabilityStatement is generated from this table. */
export const FHIR_ROUTES: RouteDefinition[] = [
  { method: 'POST', path: '', access: bundleInteraction, interactions: ['batch', 'transaction'], handler: processBundle },
  { method: 'POST', path: '$validate', access: 'operation', interactions: [], operation: VALIDATE, handler: validateOperation },
  { method: 'GET', path: ':type', access: 'search', interactions: ['search-type'], handler: searchType },
  { method: 'POST', path: ':type/_search', access: 'search', interactions: ['search-type'], handler: searchType },
  { method: 'POST', path: ':type', access: 'create', interactions: ['create'], handler: intercepted(createResource) },
  { method: 'POST', path: ':type/$validate', access: 'operation', interactions: [], operation: VALIDATE, handler: validateOperation },
  { method: 'GET', path: ':type/_history', access: 'history', interactions: ['history-type'], handler: readHistory },
  { method: 'GET', path: ':type/:id', access: 'read', interactions: ['read'], handler: readResource },
  { method: 'PUT', path: ':type/:id', access: 'update', interactions: ['update'], handler: intercepted(updateResource) },
  { method: 'DELETE', path: ':type/:id', access: 'delete', interactions: ['delete'], handler: intercepted(deleteResource) },
  { method: 'GET', path: ':type/:id/_history', access: 'history', interactions: ['history-instance'], handler: readHistory },
  { method: 'GET', path: ':type/:id/_history/:vid', access: 'vread', interactions: ['vread'], handler: readVersion },
  { method: 'GET', path: 'Composition/:id/$document', access: 'operation', interactions: [], operation: DOCUMENT, audit: true, handler: compositionDocument },
  { method: 'POST', path: 'Composition/:id/$document', access: 'operation', interactions: [], operation: DOCUMENT, audit: true, handler: compositionDocument },
];

/** The REST interactions plus the routes capabilities add (their operations, e.g. eOverdracht `$offer`). */
export function createFhirRouter(extraRoutes: RouteDefinition[] = []): FhirRouter {
  return new FhirRouter([...FHIR_ROUTES, ...extraRoutes]);
}

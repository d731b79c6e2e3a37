import { operationDefinition } from '../rest/operations/definitions.js';
import { readOperationInput } from '../rest/operations/parameters.js';
import { forbidden } from '../fhir/outcome.js';
import type { RouteDefinition } from '../rest/router.js';
import type { FhirHandler } from '../rest/types.js';
import type { CoordinationPoint } from './coordination/service.js';
import type { ProviderCapacity } from './provider/service.js';
import { PUBLICATION_PURPOSE } from './provider/publisher.js';

const MATCH_CAPACITY = operationDefinition('MeasureReport-match-capacity');
const CENSUS = operationDefinition('Location-census');

export interface CapacityRouteServices {
  provider: ProviderCapacity;
  coordination: CoordinationPoint;
  /** Whether a hosted organisation has the coordination-point role here. */
  isCoordinationPoint(tenant: string): boolean;
  clock: () => number;
}

/**
 * The capacity routes of the R4 base. `POST MeasureReport` is the intake of the tenant's own EHR, and, at a
 * coordination point, the publication of a provider's gateway (purpose capacity-publication); nobody else posts
 * MeasureReports. The router authorizes every route before its handler runs.
 */
export function capacityRoutes(services: CapacityRouteServices): RouteDefinition[] {
  const now = () => new Date(services.clock());

  const postMeasureReport: FhirHandler = async (request, context) => {
    const { principal, scope, store } = context;
    if (principal.kind === 'ehr') return services.provider.submitReport(store, scope, request.body, now());
    if (principal.purposeOfUse === PUBLICATION_PURPOSE && services.isCoordinationPoint(scope.tenant)) {
      return services.coordination.receive(store, scope, principal, request.body, now());
    }
    return [forbidden('Only the organisation\'s own EHR, or a provider publishing to a coordination point, may post a MeasureReport')];
  };

  const census: FhirHandler = async (request, context) => {
    if (context.principal.kind !== 'ehr') return [forbidden("Only the organisation's own EHR may send its bed census")];
    const { resource: bundle } = readOperationInput(CENSUS, request).one('census')!;
    return services.provider.submitCensus(context.store, context.scope, bundle, now());
  };

  const match: FhirHandler = async (request, context) => {
    if (!services.isCoordinationPoint(context.scope.tenant)) return [forbidden(`'${context.scope.tenant}' is not a coordination point here`)];
    return services.coordination.match(context.store, context.scope, readOperationInput(MATCH_CAPACITY, request).asText(), now());
  };

  return [
    { method: 'POST', path: 'MeasureReport', access: 'create', interactions: ['create'], handler: postMeasureReport },
    { method: 'POST', path: 'Location/$census', access: 'operation', interactions: [], operation: CENSUS, handler: census },
    { method: 'GET', path: 'MeasureReport/$match-capacity', access: 'operation', interactions: [], operation: MATCH_CAPACITY, handler: match },
    { method: 'POST', path: 'MeasureReport/$match-capacity', access: 'operation', interactions: [], operation: MATCH_CAPACITY, handler: match },
  ];
}

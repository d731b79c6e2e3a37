import { operationDefinition } from '../rest/operations/definitions.js';
import { readOperationInput } from '../rest/operations/parameters.js';
import { allOk, forbidden, OperationOutcomeError, serverError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { RemoteFailure } from '../fhir/client/remote.js';
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
  /** `$match-capacity` asked of the configured coordination point on a hosted organisation's behalf (query string). */
  askCoordinationPoint?: (tenant: string, query: string) => Promise<Resource>;
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
    const parameters = readOperationInput(MATCH_CAPACITY, request).asText();
    if (services.isCoordinationPoint(context.scope.tenant)) return services.coordination.match(context.store, context.scope, parameters, now());
    if (context.principal.kind === 'ehr' && services.askCoordinationPoint) {
      return [allOk, await services.askCoordinationPoint(context.scope.tenant, matchQuery(parameters)).catch(coordinationPointRefusal)];
    }
    return [forbidden(`'${context.scope.tenant}' is not a coordination point here, and knows none to ask`)];
  };

  return [
    { method: 'POST', path: 'MeasureReport', access: 'create', interactions: ['create'], handler: postMeasureReport },
    { method: 'POST', path: 'Location/$census', access: 'operation', interactions: [], operation: CENSUS, handler: census },
    { method: 'GET', path: 'MeasureReport/$match-capacity', access: 'operation', interactions: [], operation: MATCH_CAPACITY, handler: match },
    { method: 'POST', path: 'MeasureReport/$match-capacity', access: 'operation', interactions: [], operation: MATCH_CAPACITY, handler: match },
  ];
}

function matchQuery(parameters: Record<string, string[] | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, values] of Object.entries(parameters)) for (const value of values ?? []) query.append(name, value);
  return query.toString();
}

/** What the coordination point refused, passed on as its own outcome (as is not finding it); anything else as a failure to reach it. */
function coordinationPointRefusal(error: unknown): never {
  if (error instanceof OperationOutcomeError) throw error;
  if (error instanceof RemoteFailure && error.outcome) throw new OperationOutcomeError(error.outcome);
  throw new OperationOutcomeError(serverError(`The coordination point did not answer: ${(error as Error).message}`));
}

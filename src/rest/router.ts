import type { OperationDefinition } from 'fhir/r4.js';
import type { AccessRequest, Operation } from '../fhir/principal.js';
import type { Bundle } from '../fhir/bundle.js';
import { badRequest, notAllowed, notFound, OperationOutcomeError, type OperationOutcome } from '../fhir/outcome.js';
import { isSupportedType } from '../fhir/resource-types.js';
import { isResource, type Resource } from '../fhir/version.js';
import { asList, isObject } from '../vocabulary/json.js';
import { queryString } from './query.js';
import { searchQuery } from './search.js';
import { servedResponse } from './served.js';
import type { AccessEvent, FhirHandler, FhirRequest, FhirResponse, HttpMethod, RestContext } from './types.js';

/**
 * Who may call a route: the Operation asked of the authenticator for the request itself, or how to tell it from the
 * request (a Bundle posted to the base asks for a batch or a transaction; each of its entries is then asked again).
 */
export type Access = Operation | ((request: FhirRequest) => Operation);

export interface RouteDefinition {
  method: HttpMethod;
  /** Below the FHIR base; `:name` segments are parameters: `:type/:id/_history/:vid`. */
  path: string;
  access: Access;
  /** FHIR restful interaction codes implemented here, as a CapabilityStatement names them. */
  interactions: string[];
  /** For `$operations`: the OperationDefinition it implements (conformance/, rest/operations/definitions.ts). */
  operation?: OperationDefinition;
  /** What the route reads of an authenticated caller's body, named in its 413 (default `limits.bodyBytes`). */
  bodyLimit?: BodyLimit;
  /**
   * Whether its accesses go to the audit trail (http/audit.ts). By default a REST interaction's do (those on patient
   * data are recorded) and an operation's do not: `true` for an operation that touches patient data, `false` for a
   * route that touches none (the notification carries none).
   */
  audit?: boolean;
  handler: FhirHandler;
}

export interface BodyLimit {
  /** How a refusal names the limit, e.g. `limits.bodyBytes`. */
  name: string;
  bytes: number;
}

interface Segment {
  value: string;
  param: boolean;
}

interface Route extends RouteDefinition {
  segments: Segment[];
}

export interface RouteMatch {
  route: RouteDefinition;
  params: Record<string, string>;
}

const splitPath = (path: string) => path.split('/').filter((segment) => segment.length > 0);

export class FhirRouter {
  private readonly table: Route[];

  constructor(routes: RouteDefinition[]) {
    this.table = routes.map((route) => ({
      ...route,
      segments: splitPath(route.path).map((value) =>
        value.startsWith(':') ? { value: value.slice(1), param: true } : { value, param: false },
      ),
    }));
  }

  get routes(): readonly RouteDefinition[] {
    return this.table;
  }

  /** The most specific route: literal segments beat parameters (`Patient/_history` is history, not a read). */
  find(method: HttpMethod, pathname: string): RouteMatch | undefined {
    const path = splitPath(pathname);
    let best: Route | undefined;
    let bestScore = -1;
    for (const route of this.table) {
      if (route.method !== method) continue;
      const score = matchScore(route.segments, path);
      if (score > bestScore) {
        best = route;
        bestScore = score;
      }
    }
    return best && { route: best, params: paramsOf(best.segments, path) };
  }

  /** Why nothing matched: 405 when the path exists for other methods, else 404. */
  unroutable(method: string, pathname: string): OperationOutcome {
    const path = splitPath(pathname);
    const allowed = [...new Set(this.table.filter((route) => matchScore(route.segments, path) >= 0).map((route) => route.method))];
    if (allowed.length > 0) return notAllowed(`${method} is not allowed on '${pathname}'; allowed: ${allowed.join(', ')}`);
    return notFound(`No FHIR interaction at '${pathname}'`);
  }

  /** Routes, checks the type and the caller's access, runs the handler; outcomes thrown by handlers are returned. */
  async handle(request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    const match = this.find(request.method, request.pathname);
    if (!match) return [this.unroutable(request.method, request.pathname)];
    return this.dispatch(match, request, context);
  }

  /** `handle` for a request already routed (the HTTP layer routes first, to label metrics and logs). */
  async dispatch({ route, params }: RouteMatch, request: FhirRequest, context: RestContext): Promise<FhirResponse> {
    if (params.type !== undefined && !isSupportedType(params.type)) {
      return [notFound(`Resource type '${params.type}' is not supported on this server`)];
    }
    const malformed = malformedParameter(params);
    if (malformed) return [malformed];
    const access: AccessRequest = {
      version: context.services.version,
      operation: typeof route.access === 'function' ? route.access(request) : route.access,
      path: accessPath(request.pathname),
      resourceType: params.type,
      ...(context.services.endpoint && { endpoint: context.services.endpoint }),
    };
    const denied = await context.services.authenticator.authorize(context.principal, access);
    const response = denied ? ([denied] as FhirResponse) : await served(runHandler(route.handler, { ...request, params }, context), access, context);
    if (route.audit ?? route.operation === undefined) context.accesses.push(accessEvent(access, request, response, route.operation));
    return response;
  }
}

/** The answer as the caller may see it; a Bundle's entries each went through `dispatch` and were served there already. */
async function served(answer: Promise<FhirResponse>, access: AccessRequest, context: RestContext): Promise<FhirResponse> {
  const response = await answer;
  return access.operation === 'batch' || access.operation === 'transaction' ? response : await servedResponse(response, context);
}

function accessEvent(request: AccessRequest, fhirRequest: FhirRequest, [outcome, resource]: FhirResponse, operation?: OperationDefinition): AccessEvent {
  const event: AccessEvent = { request, outcome, resources: resource ? returnedResources(resource) : [] };
  if (request.operation === 'search') event.query = queryString(searchQuery(fhirRequest));
  if (operation?.url) event.operation = { url: operation.url, code: operation.code };
  return event;
}

/** Bundles that carry many resources, each an access of its own. */
const MANY_RESOURCES = new Set(['searchset', 'history', 'document']);

/** A searchset, history or document answers with many resources, an operation's Parameters with its resource parameters. */
function returnedResources(resource: Resource): Resource[] {
  if (resource.resourceType === 'Parameters') {
    return asList(resource.parameter).flatMap((parameter) => (isObject(parameter) && isResource(parameter.resource) ? returnedResources(parameter.resource) : []));
  }
  const bundle = resource as Bundle;
  if (bundle.resourceType !== 'Bundle' || !MANY_RESOURCES.has(bundle.type)) return [resource];
  return (bundle.entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : []));
}

async function runHandler(handler: FhirHandler, request: FhirRequest, context: RestContext): Promise<FhirResponse> {
  try {
    return await handler(request, context);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return [error.outcome];
    throw error;
  }
}

/** FHIR ids (and version ids) are 1-64 characters of letters, digits, '-' and '.'. */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

function malformedParameter(params: Record<string, string>) {
  for (const name of ['id', 'vid']) {
    const value = params[name];
    if (value !== undefined && !FHIR_ID.test(value)) return badRequest(`'${value}' is not a valid FHIR ${name === 'id' ? 'id' : 'version id'}`);
  }
  return undefined;
}

/** The path the authorizer judges: relative to the base, with `_search` folded into the type (it is a search). */
function accessPath(pathname: string): string {
  return '/' + splitPath(pathname).filter((segment) => segment !== '_search').join('/');
}

function matchScore(segments: Segment[], path: string[]): number {
  if (segments.length !== path.length) return -1;
  let score = 0;
  for (let i = 0; i < path.length; i++) {
    if (segments[i].param) continue;
    if (segments[i].value !== path[i]) return -1;
    score++;
  }
  return score;
}

function paramsOf(segments: Segment[], path: string[]): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  segments.forEach((segment, i) => {
    if (segment.param) params[segment.value] = decodeSegment(path[i]);
  });
  return params;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

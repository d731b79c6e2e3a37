import type { AccessRequest, Authenticator, Principal } from '../fhir/principal.js';
import type { OperationOutcome, OperationOutcomeIssue } from '../fhir/outcome.js';
import type { SearchRequest } from '../fhir/search/types.js';
import type { Scope, UnitOfWork } from '../store/repository.js';
import type { Validator } from '../validation/index.js';
import type { ResponseBudget } from '../fhir/response-budget.js';
import type { SearchLimits } from '../fhir/search/parse.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { FhirRouter } from './router.js';

/**
 * The FHIR REST layer without HTTP: a request goes in, `[outcome, resource?]` comes out (the Medplum fhir-router
 * style). `http/` turns the outcome into a status and the resource into a body; batch entries reuse the same path.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export type QueryValues = Record<string, string | string[]>;

export interface FhirRequest {
  method: HttpMethod;
  /** Path below the FHIR base, without leading slash: `Patient/123/_history/2`. */
  pathname: string;
  /** Filled by the router from the route pattern (`type`, `id`, `vid`). */
  params: Record<string, string>;
  query: QueryValues;
  /** A parsed resource (JSON or XML), form parameters for `_search`, or undefined. */
  body?: unknown;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
}

export type FhirResponse = [OperationOutcome] | [OperationOutcome, Resource];

/** What the REST layer needs of the validator of its release (`validation/`). */
export type ResourceValidator = Pick<Validator, 'validate' | 'knowsProfile'>;

export interface SearchOptions {
  /** `Prefer: handling=lenient`: unknown parameters become warnings instead of a 400. */
  lenient?: boolean;
  /** Bounds on what a client's search may ask (internal searches have none). */
  limits?: SearchLimits;
}

/** `limits.*` of the configuration that the REST layer enforces. */
export interface RestLimits extends SearchLimits {
  bundleEntries: number;
  responseBytes: number;
}

/** Turns a query into a SearchRequest or throws a bad-request outcome naming the parameter (`fhir/search`). */
export type SearchParser = (
  version: FhirVersion,
  resourceType: string,
  query: QueryValues,
  options?: SearchOptions,
) => SearchRequest & { warnings?: OperationOutcomeIssue[] };

/** One routed access to data, allowed or refused; the HTTP layer hands them to the auditor once the request is done. */
export interface AccessEvent {
  request: AccessRequest;
  /** The query string of a search. */
  query?: string;
  outcome: OperationOutcome;
  /** The resources returned or written (search, history and document: every entry's resource; Parameters: its resources). */
  resources: Resource[];
  /** The operation it was, by its OperationDefinition (`$document`: http://hl7.org/fhir/OperationDefinition/Composition-document). */
  operation?: { url: string; code: string };
}

/**
 * What a capability lets some callers see of what is served to them (e.g. the egress allowlist for other
 * organisations at a coordination point): applied on the way out to every resource a routed request answers with.
 */
export interface ServedProjection {
  /** Whether this caller sees the projection instead of the stored resources. */
  concerns(principal: Principal): boolean;
  /** The resource as such a caller may see it, or undefined to withhold it; types the capability does not govern pass. */
  project(resource: Resource): Resource | undefined;
}

/** Built once per FHIR base (and per endpoint of a capability) when the app starts. */
export interface RestServices {
  version: FhirVersion;
  /** The API outside the FHIR bases these routes serve (e.g. `notification`), for the authenticator; absent: FHIR. */
  endpoint?: AccessRequest['endpoint'];
  validator: ResourceValidator;
  parseSearch: SearchParser;
  /** Asked for every routed request, batch and transaction entries included. */
  authenticator: Authenticator;
  /** Batch and transaction Bundles dispatch their entries through it. */
  router: FhirRouter;
  /** Domain rules for writes of a resource type (e.g. eOverdracht Tasks pass the transfer state machine), by type. */
  writeInterceptors?: Readonly<Record<string, WriteInterceptor>>;
  /** What callers see of the answers (`served.ts`). */
  projections?: readonly ServedProjection[];
  limits: RestLimits;
}

/** Per request: who asks, against which tenant and store (a transaction swaps in its own store). */
export interface RestContext {
  services: RestServices;
  /** Absolute URL of the FHIR base, e.g. `https://gw.example/fhir/stu3`. */
  baseUrl: string;
  principal: Principal;
  scope: Scope;
  store: UnitOfWork;
  /** Filled by the router as requests succeed; a rolled-back transaction takes its entries' accesses out again. */
  accesses: AccessEvent[];
  /** What the request may still gather into its answer (`limits.responseBytes`), batch entries together. */
  budget: ResponseBudget;
}

export type FhirHandler = (request: FhirRequest, context: RestContext) => Promise<FhirResponse>;

/**
 * Runs in place of the plain create/update/delete of one resource type, after routing and authorization: it either
 * answers itself (doing the write its own way) or hands the request on to `next`, the plain handler.
 */
export type WriteInterceptor = (request: FhirRequest, context: RestContext, next: FhirHandler) => Promise<FhirResponse>;

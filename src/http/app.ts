import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Authenticator } from '../fhir/principal.js';
import { createRateLimiter } from '../auth/rateLimit.js';
import { declaredByKey, type Capability, type Endpoint } from '../rest/capability-contract.js';
import type { GatewayConfig, Limits } from '../config/config.js';
import { capabilityStatement, type SearchParameterSummary } from '../rest/capability.js';
import { badRequest, notFound, serverError, type OperationOutcome } from '../fhir/outcome.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import { createFhirRouter } from '../rest/routes.js';
import { FhirRouter } from '../rest/router.js';
import type { RestLimits, RestServices, SearchParser } from '../rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/repository.js';
import type { Validator } from '../validation/index.js';
import type { MemoryGate } from './bodies.js';
import { fhirApi, type FhirApiAuditor } from './fhir-api.js';
import { OAUTH_PATHS, oauthRouter, type AuthorizationServer } from './oauth.js';
import { CONTENT_TYPES, serialize } from './format.js';
import { createHttpMetrics, routeLabel, storeMetrics } from './metrics.js';
import { pagesRouter } from './pages.js';
import { requestId } from './request-id.js';
import { httpStatus } from '../rest/status.js';

/** Everything the app is made of, passed in (main.ts wires the real ones; tests may pass their own). */
export interface AppDependencies {
  /** URL under which clients reach this gateway; FHIR bases are `<publicBaseUrl>/fhir` and `/fhir/stu3`. */
  publicBaseUrl: string;
  limits: Pick<Limits, 'bodyBytes' | 'unauthenticatedBodyBytes' | 'jsonDepth'>;
  /** The memory gate of request bodies in flight, of every route that reads one (the OAuth endpoints too). */
  bodies: MemoryGate;
  rateLimits: Pick<GatewayConfig['rateLimits'], 'unauthenticated'>;
  /** Proxies whose X-Forwarded-For names the client (express `trust proxy`); the client address keys rate limits and audit. */
  trustProxy?: GatewayConfig['trustProxy'];
  store: Store;
  validators: Record<FhirVersion, Pick<Validator, 'validate' | 'knowsProfile' | 'profiles'>>;
  parseSearch: SearchParser;
  /** What one FHIR request may ask and gather: Bundle entries, response bytes, search complexity. */
  restLimits: RestLimits;
  searchParameters(version: FhirVersion, resourceType: string): SearchParameterSummary[];
  authenticator: Authenticator;
  audit: FhirApiAuditor;
  /** Served at the root after the FHIR bases: token and introspection endpoints, discovery metadata, DID documents. */
  authorizationServer?: AuthorizationServer;
  /** What the gateway does (eOverdracht transfer, ...): their FHIR routes, endpoints and write rules are served here. */
  capabilities?: Capability[];
  logger: Logger;
}

const FHIR_BASES: { version: FhirVersion; path: string }[] = [
  { version: 'stu3', path: '/fhir/stu3' },
  { version: 'r4', path: '/fhir' },
];

const SOFTWARE = {
  name: 'vervolgzorg-gateway',
  version: (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
};

export function createApp(deps: AppDependencies): express.Express {
  const app = express();
  const metrics = createHttpMetrics();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', deps.trustProxy);
  app.use(requestId, metrics.middleware, accessLog(deps.logger), helmet(), singleAuthorization);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await deps.store.ping().catch(() => false);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'store unavailable' });
  });
  for (const metric of (deps.capabilities ?? []).flatMap((capability) => capability.metrics ?? [])) metrics.registry.registerMetric(metric);
  const readStoreGauges = storeMetrics(metrics.registry, deps.store);
  app.get('/metrics', async (_req, res) => {
    // The HTTP figures are worth serving when the database is not answering (that is when they are looked at).
    await readStoreGauges().catch((error: unknown) => deps.logger.warn({ err: error }, 'store gauges unavailable for /metrics'));
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // The FHIR bases first (they carry most traffic; STU3 before R4, whose prefix `/fhir` also matches `/fhir/stu3/...`).
  // They answer everything under /fhir; capabilities' endpoints outside the bases go through the same pipeline.
  const unauthenticated = { ...deps.rateLimits.unauthenticated, ...createRateLimiter(deps.rateLimits.unauthenticated) };
  for (const base of FHIR_BASES) app.use(base.path, fhirApi({ ...fhirApiOptions(deps, base), unauthenticated }));
  for (const endpoint of (deps.capabilities ?? []).flatMap((capability) => capability.endpoints ?? [])) {
    app.use(endpoint.path, fhirApi({ ...endpointApiOptions(deps, endpoint), unauthenticated }));
  }
  if (deps.authorizationServer) {
    app.use(oauthRouter({ ...deps.authorizationServer, bodyBytes: deps.limits.unauthenticatedBodyBytes, bodies: deps.bodies }));
  }

  const pages = (deps.capabilities ?? []).flatMap((capability) => capability.pages ?? []);
  if (pages.length > 0) app.use(pagesRouter(pages, deps.logger));

  app.use((req: Request, res: Response) => sendJsonOutcome(res, notFound(`Nothing at ${req.method} ${req.path}`)));
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ requestId: res.locals.requestId, err: error }, 'unexpected error');
    sendJsonOutcome(res, serverError(`Internal error; quote request id ${res.locals.requestId}`));
  });
  return app;
}

function fhirApiOptions(deps: AppDependencies, base: { version: FhirVersion; path: string }) {
  const baseUrl = publicUrl(deps, base.path);
  const capabilities = deps.capabilities ?? [];
  const router = createFhirRouter(capabilities.flatMap((capability) => capability.fhirRoutes?.(base.version) ?? []));
  const services: RestServices = {
    ...restServices(deps, base.version, router),
    // One capability decides the writes of a resource type.
    writeInterceptors: declaredByKey(capabilities, (capability) => capability.writeInterceptors, 'the writes of'),
    projections: capabilities.flatMap((capability) => capability.servedProjection ?? []),
  };
  let statement: Resource | undefined;
  const describe = () =>
    capabilityStatement({
      version: base.version,
      baseUrl,
      software: SOFTWARE,
      routes: router.routes,
      resourceTypes: RESOURCE_TYPES,
      searchParameters: (type) => deps.searchParameters(base.version, type),
      profiles: deps.validators[base.version].profiles(),
      tokenEndpoint: publicUrl(deps, '/oauth2/token'),
      date: new Date().toISOString(),
    });
  return { ...sharedApiOptions(deps, services, baseUrl, base.path), capabilityStatement: () => (statement ??= describe()) };
}

/** A capability's endpoint outside the FHIR bases: its own routes only, no REST interactions, no metadata. */
function endpointApiOptions(deps: AppDependencies, endpoint: Endpoint) {
  const services: RestServices = {
    ...restServices(deps, endpoint.version, new FhirRouter(endpoint.routes)),
    endpoint: endpoint.api,
    projections: (deps.capabilities ?? []).flatMap((capability) => capability.servedProjection ?? []),
  };
  return { ...sharedApiOptions(deps, services, publicUrl(deps, endpoint.path), endpoint.path), anonymous: endpoint.anonymous };
}

function restServices(deps: AppDependencies, version: FhirVersion, router: FhirRouter): RestServices {
  return { version, validator: deps.validators[version], parseSearch: deps.parseSearch, limits: deps.restLimits, authenticator: deps.authenticator, router };
}

const publicUrl = (deps: AppDependencies, path: string) => deps.publicBaseUrl.replace(/\/$/, '') + path;

function sharedApiOptions(deps: AppDependencies, services: RestServices, baseUrl: string, mountPath: string) {
  return { services, baseUrl, mountPath, store: deps.store, limits: deps.limits, bodies: deps.bodies, audit: deps.audit, logger: deps.logger };
}

/**
 * Two Authorization headers make the caller ambiguous (Node keeps one of them, a proxy in front may have judged the
 * other): refused on every route, in the token endpoint's RFC 6749 shape there and as an OperationOutcome elsewhere.
 */
function singleAuthorization(req: Request, res: Response, next: NextFunction): void {
  const count = req.rawHeaders.filter((name, index) => index % 2 === 0 && name.toLowerCase() === 'authorization').length;
  if (count <= 1) {
    next();
    return;
  }
  const text = `The request has ${count} Authorization headers; send one`;
  if (OAUTH_PATHS.includes(req.path)) res.status(400).set('Cache-Control', 'no-store').json({ error: 'invalid_request', error_description: text });
  else sendJsonOutcome(res, badRequest(text));
}

/** One line per request: route pattern (never the raw URL: queries can hold a BSN), status, duration, request id. */
function accessLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!logger.isLevelEnabled('info')) {
      next();
      return;
    }
    const started = performance.now();
    res.once('finish', () => {
      logger.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          route: routeLabel(req, res),
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 1000) / 1000,
        },
        'request',
      );
    });
    next();
  };
}

function sendJsonOutcome(res: Response, outcome: OperationOutcome): void {
  res.status(httpStatus(outcome)).type(CONTENT_TYPES.json).send(serialize(outcome, 'json', 'r4', false));
}

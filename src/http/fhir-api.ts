import { setImmediate as nextTurn } from 'node:timers/promises';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { wwwAuthenticate } from '../auth/authenticator.js';
import { DPOP_HEADER } from '../auth/dpop/index.js';
import type { Principal } from '../fhir/principal.js';
import type { createRateLimiter } from '../auth/rateLimit.js';
import type { Limits, TokenBucket } from '../config/config.js';
import { allOk, badRequest, OperationOutcomeError, serverError, tooManyRequests, unsupportedMediaType, type OperationOutcome } from '../fhir/outcome.js';
import { BUSY_RETRY_AFTER_SECONDS, ResponseBudget } from '../fhir/response-budget.js';
import type { BodyLimit, RouteMatch } from '../rest/router.js';
import type { AccessEvent, FhirRequest, FhirResponse, HttpMethod, QueryValues, RestContext, RestServices } from '../rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/repository.js';
import { bodyErrorOutcome, leaveBodyUnread, reserveBody, type MemoryGate } from './bodies.js';
import { parseBody, responseFormat, CONTENT_TYPES, serialize } from './format.js';
import { sendFhir, type ResponseOptions } from './respond.js';

/** Hands the accesses of one request to the auditor (AuditEvents for patient data), before the answer goes out. */
export type FhirApiAuditor = (record: { requestId: string; principal: Principal; version: FhirVersion; accesses: AccessEvent[] }) => Promise<void>;

export interface FhirApiOptions {
  services: RestServices;
  /** Absolute URL of this base, as clients see it. */
  baseUrl: string;
  /** Where the router is mounted (`/fhir`, `/fhir/stu3`, a capability's endpoint), for metric labels. */
  mountPath: string;
  store: Store;
  limits: Pick<Limits, 'bodyBytes' | 'unauthenticatedBodyBytes' | 'jsonDepth'>;
  /** The memory gate of all requests in flight: bodies (shared with every other route that reads one) and answers. */
  bodies: MemoryGate;
  /** Requests failing authentication, per client address (`rateLimits.unauthenticated`, one bucket for bases and endpoints). */
  unauthenticated: TokenBucket & RateLimiter;
  /** A FHIR base answers `GET metadata` with it; a capability's endpoint outside the bases has none. */
  capabilityStatement?: () => Resource;
  /** A public endpoint: every caller is this principal, no token asked (Endpoint.anonymous). */
  anonymous?: Principal;
  audit: FhirApiAuditor;
  logger: Logger;
}

/** What `identify` found out from the headers, for `handle` once the body is read. */
interface Identified {
  match: RouteMatch;
  principal: Principal;
}

type RateLimiter = ReturnType<typeof createRateLimiter>;
type Step = (req: Request, res: Response, options: FhirApiOptions, next: NextFunction) => Promise<void>;

const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'DELETE']);
/** Interactions whose answer `Prefer: return=` shapes (a batch or transaction always answers with its Bundle). */
const WRITES = new Set(['create', 'update']);
/** HTTP-level parameters, consumed here and never shown to the FHIR handlers. */
const HTTP_PARAMETERS = new Set(['_format', 'pretty', '_pretty']);

/**
 * One FHIR base (or a capability's endpoint outside the bases) as an express router: negotiate the format, route and
 * authenticate from the headers, then read the body (up to the route's limit, within the memory gate), parse,
 * dispatch to the REST layer, audit, answer. A caller that is not authenticated is answered before its body is read.
 * Every failure on the way is an OperationOutcome in the negotiated format; unexpected exceptions become a 500
 * without internals, logged with the request id.
 */
export function fhirApi(options: FhirApiOptions): express.Router {
  const api = express.Router();
  api.use(negotiate(options));
  api.use(answering(options, identify));
  api.use(readBody(options));
  api.use(answering(options, handle));
  api.use((error: unknown, req: Request, res: Response, _next: NextFunction) => bodyError(error, req, res, options));
  return api;
}

/** A step whose OperationOutcomeError is answered as such, and any other failure as a logged 500. */
function answering(options: FhirApiOptions, step: Step) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await step(req, res, options, next);
    } catch (error) {
      if (error instanceof OperationOutcomeError) {
        sendFhir(res, [error.outcome], res.locals.fhir as ResponseOptions);
        return;
      }
      unexpected(error, res, options, res.locals.fhir as ResponseOptions);
    }
  };
}

function negotiate(options: FhirApiOptions) {
  return (req: Request, res: Response, next: NextFunction) => {
    const format = responseFormat(firstValue(req.query._format), req.headers.accept);
    if (typeof format !== 'string') {
      res.status(406).type(CONTENT_TYPES.json).send(serialize(format, 'json', options.services.version, false));
      return;
    }
    const pretty = ['true', ''].includes(firstValue(req.query._pretty) ?? firstValue(req.query.pretty) ?? 'false');
    res.locals.fhir = { format, version: options.services.version, pretty, baseUrl: options.baseUrl } satisfies ResponseOptions;
    next();
  };
}

/** Routes and authenticates from the headers alone; goes on to read the body only for an authenticated caller. */
async function identify(req: Request, res: Response, options: FhirApiOptions, next: NextFunction): Promise<void> {
  const { services } = options;
  const responseOptions = res.locals.fhir as ResponseOptions;
  const pathname = fhirPath(req);
  if (req.method === 'GET' && pathname === 'metadata' && options.capabilityStatement) {
    res.locals.route = `${options.mountPath}/metadata`;
    sendFhir(res, [allOk, options.capabilityStatement()], responseOptions);
    return;
  }
  const match = METHODS.has(req.method) ? services.router.find(req.method as HttpMethod, pathname) : undefined;
  if (!match) {
    sendFhir(res, [services.router.unroutable(req.method, pathname)], responseOptions);
    return;
  }
  res.locals.route = `${options.mountPath}/${match.route.path}`;
  const principal =
    options.anonymous ??
    (await services.authenticator.authenticate(req.headers.authorization, {
      method: req.method,
      url: `${options.baseUrl}/${pathname}`,
      dpop: req.headers[DPOP_HEADER],
    }));
  if ('resourceType' in principal) {
    refuseUnauthenticated(req, res, principal, options);
    return;
  }
  res.locals.identified = { match, principal } satisfies Identified;
  next();
}

/** 401 with its challenge, or 429 once the client address has failed more often than `rateLimits.unauthenticated`. */
function refuseUnauthenticated(req: Request, res: Response, challenge: OperationOutcome, options: FhirApiOptions): void {
  const { unauthenticated } = options;
  leaveBodyUnread(req, res, options.limits.unauthenticatedBodyBytes);
  const decision = unauthenticated.take(req.ip ?? 'unknown');
  if (!decision.allowed) {
    res.set('Retry-After', String(decision.retryAfterSeconds));
    const text = `Too many requests without a valid token from this address: over rateLimits.unauthenticated (${unauthenticated.capacity} at once, ${unauthenticated.refillPerSecond}/s)`;
    sendFhir(res, [tooManyRequests(text)], res.locals.fhir as ResponseOptions);
    return;
  }
  res.setHeader('WWW-Authenticate', wwwAuthenticate(challenge));
  sendFhir(res, [challenge], res.locals.fhir as ResponseOptions);
}

async function handle(req: Request, res: Response, options: FhirApiOptions): Promise<void> {
  const { services } = options;
  const { match, principal } = res.locals.identified as Identified;
  const request: FhirRequest = {
    method: req.method as HttpMethod,
    pathname: fhirPath(req),
    params: {},
    query: fhirQuery(req.query),
    body: requestBody(req, match, options),
    headers: req.headers as Record<string, string | undefined>,
  };
  const large = isLarge(req);
  if (large) await nextTurn();
  const context: RestContext = {
    services,
    baseUrl: options.baseUrl,
    principal,
    scope: { tenant: principal.tenant, version: services.version },
    store: options.store,
    accesses: [],
    budget: new ResponseBudget(services.limits.responseBytes, options.bodies),
  };
  res.once('close', () => context.budget.release());
  try {
    const response: FhirResponse = await services.router.dispatch(match, request, context);
    if (context.accesses.length > 0) {
      await options.audit({ requestId: res.locals.requestId, principal, version: services.version, accesses: context.accesses });
    }
    if (response[0].id === 'too-many-requests') res.set('Retry-After', String(BUSY_RETRY_AFTER_SECONDS));
    const isWrite = match.route.interactions.some((interaction) => WRITES.has(interaction));
    if (large) await nextTurn();
    sendFhir(res, response, { ...(res.locals.fhir as ResponseOptions), prefer: isWrite ? request.headers.prefer : undefined });
  } finally {
    // A client that went away while its answer was gathered: what was gathered after 'close' goes back now.
    if (res.closed) context.budget.release();
  }
}

/**
 * Above this body size, a request gives other requests (a liveness probe, a small read) a turn of the event loop
 * after parsing its body and before serialising its answer: each of those steps holds the loop for tens of
 * milliseconds on a body of several MB, and the store's synchronous SQLite driver would otherwise run the whole
 * request as one turn.
 */
const LARGE_BODY_BYTES = 1024 * 1024;
const isLarge = (req: Request) => Buffer.isBuffer(req.body) && req.body.length > LARGE_BODY_BYTES;

/** The routed request's body limit: its route's own, else `limits.bodyBytes`. */
function bodyLimit(res: Response, options: FhirApiOptions): BodyLimit {
  const identified = res.locals.identified as Identified | undefined;
  return identified?.match.route.bodyLimit ?? { name: 'limits.bodyBytes', bytes: options.limits.bodyBytes };
}

/** Reserves the body in the memory gate and reads it, both up to the routed limit (one parser per distinct limit). */
function readBody(options: FhirApiOptions): RequestHandler {
  const parsers = new Map<number, [RequestHandler, RequestHandler]>();
  const parserFor = (bytes: number) => {
    let parser = parsers.get(bytes);
    if (!parser) parsers.set(bytes, (parser = [reserveBody(options.bodies, bytes), express.raw({ type: () => true, limit: bytes })]));
    return parser;
  };
  return (req, res, next) => {
    const [reserve, parse] = parserFor(bodyLimit(res, options).bytes);
    void reserve(req, res, (error?: unknown) => (error ? next(error) : parse(req, res, next)));
  };
}

const fhirPath = (req: Request) => req.path.replace(/^\/+/, '');

/** `_search` takes form parameters; every other interaction takes a FHIR resource (or nothing). */
function requestBody(req: Request, match: RouteMatch, options: FhirApiOptions): unknown {
  const body = parseBody(Buffer.isBuffer(req.body) ? req.body : undefined, req.headers['content-type'], options.services.version, {
    maxDepth: options.limits.jsonDepth,
  });
  const isSearch = match.route.path.endsWith('_search');
  if (body.kind === 'none') return undefined;
  if (body.kind === 'form') {
    if (isSearch) return body.values;
    throw new OperationOutcomeError(unsupportedMediaType('Form parameters are only accepted by _search; send a FHIR resource'));
  }
  if (isSearch) throw new OperationOutcomeError(unsupportedMediaType('_search takes application/x-www-form-urlencoded parameters'));
  return body.resource;
}

function fhirQuery(query: Request['query']): QueryValues {
  const values: QueryValues = Object.create(null);
  for (const [name, value] of Object.entries(query)) {
    if (HTTP_PARAMETERS.has(name)) continue;
    if (typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'))) values[name] = value as string | string[];
    else throw new OperationOutcomeError(badRequest(`Query parameter '${name}' is malformed`, name));
  }
  return values;
}

function firstValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

/** Errors raised while waiting for or reading the body (no room, too large, bad encoding, aborted) keep their 4xx, as an outcome. */
function bodyError(error: unknown, req: Request, res: Response, options: FhirApiOptions): void {
  const responseOptions = (res.locals.fhir as ResponseOptions | undefined) ?? {
    format: 'json',
    version: options.services.version,
    pretty: false,
    baseUrl: options.baseUrl,
  };
  const refusal = bodyErrorOutcome(error, req, res, bodyLimit(res, options));
  if (refusal) sendFhir(res, [refusal], responseOptions);
  else unexpected(error, res, options, responseOptions);
}

function unexpected(error: unknown, res: Response, options: FhirApiOptions, responseOptions: ResponseOptions): void {
  options.logger.error({ requestId: res.locals.requestId, err: error }, 'unexpected error in a FHIR request');
  sendFhir(res, [serverError(`Internal error; quote request id ${res.locals.requestId}`)], responseOptions);
}

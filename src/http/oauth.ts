import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import { didDocument, didWebUrl } from '../auth/did.js';
import { authorizationServerMetadata } from '../auth/oauth2/metadata.js';
import { DPOP_ALGORITHMS, DPOP_HEADER } from '../auth/dpop/index.js';
import { OAuthError } from '../auth/errors.js';
import { PURPOSES } from '../auth/purposes.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_GRANT, SIGNING_ALGORITHMS } from '../auth/rules.js';
import type { TokenService } from '../auth/tokenService.js';
import type { TrustRegistry } from '../auth/trust.js';
import { BodyBudgetExhausted, closeIfUnread, reserveBody, type MemoryGate } from './bodies.js';
import { isObject } from '../vocabulary/json.js';

/**
 * The HTTP surface of auth/'s authorization server: `POST /oauth2/token`, `POST /oauth2/introspect`,
 * `GET /.well-known/oauth-authorization-server` (RFC 8414), the Nuts v6 authorization server of each hosted
 * organisation (`/oauth2/{subject}/token`, `/oauth2/{subject}/presentation_definition` and its metadata at
 * `/.well-known/oauth-authorization-server/oauth2/{subject}`), and the DID documents of hosted organisations
 * (`GET /org/<id>/did.json` for `did:web:<host>:org:<id>`). Errors are RFC 6749 JSON bodies, never OperationOutcomes:
 * the one surface outside the FHIR pipeline (fhir-api.ts), because OAuth clients read no OperationOutcome.
 */
export interface AuthorizationServer {
  registry: TrustRegistry;
  tokens: TokenService;
}

export interface OAuthRouterDeps extends AuthorizationServer {
  /** Token and introspection requests are read before the caller is known: `limits.unauthenticatedBodyBytes`. */
  bodyBytes: number;
  /** The memory gate of request bodies in flight, shared with the other routes that read one. */
  bodies: MemoryGate;
}

export const OAUTH_PATHS = ['/oauth2/token', '/oauth2/introspect'];
/** The Nuts v6 authorization server of each hosted organisation (auth/oauth2/metadata.ts). */
const SUBJECT_TOKEN_PATH = '/oauth2/:subject/token';
const SUBJECT_PATHS = [SUBJECT_TOKEN_PATH, '/oauth2/:subject/presentation_definition', '/.well-known/oauth-authorization-server/oauth2/:subject'];

function parameters(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  return isObject(body) ? body : {};
}

function noStore(res: Response): Response {
  return res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

function sendOAuthError(res: Response, error: OAuthError): void {
  if (error.retryAfterSeconds !== undefined) res.set('Retry-After', String(error.retryAfterSeconds));
  noStore(res).status(error.status).json(error.body);
}

/** Body parser failures (malformed, oversized or no room for it) and OAuth refusals become RFC 6749 error bodies. */
function oauthErrors(bodyBytes: number): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (error instanceof OAuthError) return sendOAuthError(res, error);
    const status: unknown = isObject(error) ? error.status : undefined;
    if (typeof status !== 'number' || status < 400 || status >= 500) return next(error);
    closeIfUnread(req, res);
    if (error instanceof BodyBudgetExhausted) return sendOAuthError(res, new OAuthError('temporarily_unavailable', error.message, { status }));
    const description =
      status === 413 ? `the body exceeds limits.unauthenticatedBodyBytes (${bodyBytes} bytes)` : `unreadable request body: ${(error as Error).message}`;
    return sendOAuthError(res, new OAuthError('invalid_request', description, { status }));
  };
}

function metadata(registry: TrustRegistry, tokens: TokenService) {
  const issuer = registry.publicBaseUrl;
  return {
    issuer,
    token_endpoint: `${issuer}/oauth2/token`,
    introspection_endpoint: `${issuer}/oauth2/introspect`,
    grant_types_supported: [...(tokens.acceptedGrants.includes('rfc003') ? [JWT_BEARER_GRANT] : []), CLIENT_CREDENTIALS_GRANT],
    response_types_supported: [],
    scopes_supported: Object.keys(PURPOSES),
    token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
    introspection_endpoint_auth_methods_supported: ['private_key_jwt'],
    introspection_endpoint_auth_signing_alg_values_supported: [...SIGNING_ALGORITHMS],
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}

function didDocuments(registry: TrustRegistry): Map<string, object> {
  return new Map(registry.hostedOrganizations().map((party) => [didWebUrl(party.did).pathname, didDocument(party.did, party.publicJwks)]));
}

export function oauthRouter({ registry, tokens, bodyBytes, bodies }: OAuthRouterDeps): express.Router {
  const router = express.Router();
  const body = [
    reserveBody(bodies, bodyBytes),
    express.urlencoded({ extended: false, limit: bodyBytes, parameterLimit: 32 }),
    express.json({ limit: bodyBytes }),
  ];
  const discovery = metadata(registry, tokens);
  const documents = didDocuments(registry);

  router.post('/oauth2/token', ...body, async (req, res) => {
    noStore(res).json(await tokens.exchange(parameters(req), { address: req.ip, dpop: req.headers[DPOP_HEADER] }));
  });
  router.post('/oauth2/introspect', ...body, async (req, res) => {
    noStore(res).json(await tokens.introspect(parameters(req), { address: req.ip }));
  });
  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.json(discovery);
  });
  router.get('/.well-known/oauth-authorization-server/oauth2/:subject', (req, res) => {
    const subject = String(req.params.subject);
    if (!registry.hosted(subject)) throw new OAuthError('invalid_request', `no authorization server '${subject}' here`, { status: 404 });
    res.json(authorizationServerMetadata(registry.publicBaseUrl, subject, tokens.acceptedGrants));
  });
  router.get('/oauth2/:subject/presentation_definition', (req, res) => {
    res.json(tokens.presentationDefinition(String(req.params.subject), req.query.scope, req.query.wallet_owner_type));
  });
  router.post(SUBJECT_TOKEN_PATH, ...body, async (req, res) => {
    noStore(res).json(await tokens.exchangeAt(String(req.params.subject), parameters(req), { address: req.ip, dpop: req.headers[DPOP_HEADER] }));
  });
  router.all([...OAUTH_PATHS, SUBJECT_TOKEN_PATH], (_req, res) => {
    res.set('Allow', 'POST');
    throw new OAuthError('invalid_request', 'use POST', { status: 405 });
  });
  router.get(/\/did\.json$/, (req, res, next) => {
    const document = documents.get(req.path);
    if (document) res.type('application/did+json').send(JSON.stringify(document));
    else next();
  });
  router.use([...OAUTH_PATHS, ...SUBJECT_PATHS], oauthErrors(bodyBytes));
  return router;
}


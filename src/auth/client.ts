import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { TrustedOrganization } from '../config/config.js';
import { GatewayError } from '../errors.js';
import { remoteEndpoint, REQUEST_TIMEOUT_MS, type Authorization, type RemoteEndpoint } from '../fhir/client/remote.js';
import { REFUSAL_REASON_PARAMETER } from '../vocabulary/canonical.js';
import { isObject } from '../vocabulary/json.js';
import type { Principal } from '../fhir/principal.js';
import { JWT_BEARER_GRANT, MAX_ASSERTION_LIFETIME_SECONDS, nowSeconds, TOKEN_REFRESH_MARGIN_SECONDS, TOKEN_TYPES } from './rules.js';
import { assertTransportAllowed } from './transport.js';
import type { Fetch, TrustRegistry } from './trust.js';

/**
 * The client side of the Nuts-style exchange, used for every outbound call: signs a grant with the hosted
 * organisation's newest key, fetches a token from the remote organisation's authorization server, caches it until
 * 30 s before it expires, and forgets it when the remote answers 401. Calls (through `fhir/client/remote.ts`: no
 * redirects, a timeout, the 401 retried once) go only to the configured endpoints of trusted organisations (egress
 * allowlist), over verified TLS (plain http only in development mode or on loopback).
 */
export interface TokenRequest {
  /** The hosted organisation calling out (grant `iss`). */
  requester: string;
  /** Authorization credentials (JWT VCs) the remote issued to the requester. */
  vcs?: string[];
  /** The user behind the call, vouched for by the requester. */
  usi?: Principal['user'];
  /**
   * RFC 8707 resource indicator: the remote resource the token is for (e.g. the sender's Task URL), so that an
   * authorizer that keeps the credentials it issued can choose those of that resource (auth/tokenService.ts).
   */
  resource?: string;
}

export interface OutboundCall extends TokenRequest {
  /** The trusted organisation called (grant `sub`). */
  remote: string;
  purposeOfUse: string;
}

export interface TokenClient {
  getToken(remote: string, purposeOfUse: string, request: TokenRequest): Promise<string>;
  /** A URL of the remote in `call` (under one of its configured endpoints), called with a token for `call`. */
  remote(url: string, call: OutboundCall): RemoteEndpoint;
}

/**
 * The remote authorization server refused the grant: its RFC 6749 error, when it sent one, and its refusal reason
 * (REFUSAL_REASONS), which only a gateway like this one sends.
 */
export class TokenRequestError extends GatewayError {
  static override readonly code = 'ERR_TOKEN_REQUEST_REFUSED';

  constructor(
    readonly status: number,
    readonly error: string | undefined,
    description: string,
    readonly reason?: string,
  ) {
    super(description);
  }
}

/** True when `url` lies under one of the organisation's configured endpoints. */
function withinEndpoints(url: URL, organization: TrustedOrganization): boolean {
  return Object.values(organization.endpoints).some((endpoint) => {
    if (!endpoint) return false;
    const base = new URL(endpoint);
    if (base.origin !== url.origin) return false;
    const prefix = base.pathname.replace(/\/$/, '');
    return url.pathname === prefix || url.pathname.startsWith(`${prefix}/`) || prefix === '';
  });
}

export function createTokenClient(deps: { registry: TrustRegistry; fetch?: Fetch; clock?: () => number }): TokenClient {
  const { registry } = deps;
  const fetchImpl = deps.fetch ?? fetch;
  const clock = deps.clock ?? Date.now;
  const cache = new Map<string, { token: string; refreshAt: number }>();
  const pending = new Map<string, Promise<string>>();

  function trustedRemote(remote: string): TrustedOrganization {
    const organization = registry.trusted(remote);
    if (!organization) throw new Error(`'${remote}' is not a trusted organisation`);
    return organization;
  }

  const cacheKey = (remote: string, purposeOfUse: string, request: TokenRequest) =>
    JSON.stringify([request.requester, remote, purposeOfUse, [...(request.vcs ?? [])].sort(), request.usi ?? null, request.resource ?? null]);

  async function signGrant(remote: string, audience: string, purposeOfUse: string, request: TokenRequest): Promise<string> {
    const party = registry.hosted(request.requester);
    if (!party) throw new Error(`'${request.requester}' is not hosted here`);
    const now = nowSeconds(clock);
    return new SignJWT({ purposeOfUse, vcs: request.vcs ?? [], ...(request.usi ? { usi: request.usi } : {}) })
      .setProtectedHeader({ alg: party.signing.alg, kid: party.signing.kid, typ: TOKEN_TYPES.grant })
      .setIssuer(request.requester)
      .setSubject(remote)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + MAX_ASSERTION_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(party.signing.key);
  }

  async function requestToken(remote: string, purposeOfUse: string, request: TokenRequest, key: string): Promise<string> {
    const tokenEndpoint = trustedRemote(remote).endpoints.oauth;
    if (!tokenEndpoint) throw new Error(`trusted organisation '${remote}' has no oauth endpoint`);
    const url = new URL(tokenEndpoint);
    assertTransportAllowed(url, registry.mode);
    const assertion = await signGrant(remote, tokenEndpoint, purposeOfUse, request);
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion, ...(request.resource ? { resource: request.resource } : {}) }).toString(),
      redirect: 'error',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const parsed: unknown = await response.json().catch(() => ({}));
    const body = isObject(parsed) ? parsed : {};
    if (!response.ok) {
      const error = typeof body.error === 'string' ? body.error : undefined;
      const reason = body[REFUSAL_REASON_PARAMETER];
      const description = `token request to '${remote}' refused: ${String(body.error_description ?? error ?? response.status)}`;
      throw new TokenRequestError(response.status, error, description, typeof reason === 'string' ? reason : undefined);
    }
    const { access_token: token, token_type: type, expires_in: expiresIn } = body;
    if (typeof token !== 'string' || String(type).toLowerCase() !== 'bearer' || typeof expiresIn !== 'number') {
      throw new TokenRequestError(response.status, undefined, `malformed token response from '${remote}'`);
    }
    cache.set(key, { token, refreshAt: nowSeconds(clock) + expiresIn - TOKEN_REFRESH_MARGIN_SECONDS });
    return token;
  }

  async function getToken(remote: string, purposeOfUse: string, request: TokenRequest): Promise<string> {
    const key = cacheKey(remote, purposeOfUse, request);
    const cached = cache.get(key);
    if (cached && cached.refreshAt > nowSeconds(clock)) return cached.token;
    cache.delete(key);
    let inFlight = pending.get(key);
    if (!inFlight) {
      inFlight = requestToken(remote, purposeOfUse, request, key).finally(() => pending.delete(key));
      pending.set(key, inFlight);
    }
    return inFlight;
  }

  /** The egress allowlist, the transport rules and the bearer token of one call. */
  function authorization(call: OutboundCall): Authorization {
    return {
      admit(url) {
        if (!withinEndpoints(url, trustedRemote(call.remote))) throw new Error(`${url.origin}${url.pathname} is not an endpoint of '${call.remote}'`);
        assertTransportAllowed(url, registry.mode);
      },
      async headers() {
        return { authorization: `Bearer ${await getToken(call.remote, call.purposeOfUse, call)}` };
      },
      refused() {
        cache.delete(cacheKey(call.remote, call.purposeOfUse, call));
      },
    };
  }

  return {
    getToken,
    remote: (url, call) => remoteEndpoint(url, authorization(call)),
  };
}

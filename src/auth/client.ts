import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { TrustedOrganization } from '../config/config.js';
import { GatewayError } from '../errors.js';
import { remoteEndpoint, REQUEST_TIMEOUT_MS, type Authorization, type RemoteEndpoint } from '../fhir/client/remote.js';
import { REFUSAL_REASON_PARAMETER } from '../vocabulary/canonical.js';
import { isObject } from '../vocabulary/json.js';
import type { Person } from '../fhir/principal.js';
import { JWT_BEARER_GRANT, MAX_ASSERTION_LIFETIME_SECONDS, nowSeconds, TOKEN_REFRESH_MARGIN_SECONDS, TOKEN_TYPES } from './rules.js';
import { assertTransportAllowed } from './transport.js';
import { signProof } from './dpop/index.js';
import { createMetadataReader, DefinitionRefused, type ServerMetadata } from './serverMetadata.js';
import type { Fetch, HostedParty, TrustRegistry } from './trust.js';
import { issuerOf } from './oauth2/metadata.js';
import { VP_TOKEN_BEARER_GRANT } from './oauth2/presentationGrant.js';
import { buildPresentation, type ScopeDefinitions, type Wallet } from './oauth2/wallet.js';

/**
 * The client side of the token exchange, used for every outbound call. It finds the remote organisation's
 * authorization server (its RFC 8414 metadata when `endpoints.authorizationServer` names the issuer, else the
 * configured `endpoints.oauth`) and asks it for a token with the first grant of these it offers:
 * - a Nuts v6 server (its metadata has a `presentation_definition_endpoint`): `vp_token-bearer` (RFC021), else the
 *   generic functions' `jwt-bearer`, both with a Verifiable Presentation of the tenant's credentials that meets the
 *   scope's Presentation Definition (oauth2/wallet.ts); the scope is the call's purpose of use (the scopes of
 *   conformance/nuts-policy.json are the purposes, purposes.ts);
 * - otherwise (older peers, `endpoints.oauth` or metadata without Presentation Definitions, or a requester without an
 *   X509Credential toward a remote that also has `endpoints.oauth`): the RFC003-shaped grant signed with the hosted
 *   organisation's newest key.
 * The token is bound to that key with a DPoP proof when the metadata offers DPoP for the key's algorithm, kept until
 * 30 s before it expires (per requester, remote, purpose, person and resource; concurrent requests share one), and
 * forgotten when the remote answers 401. A DPoP token goes out with a fresh proof for every request. Calls (through
 * `fhir/client/remote.ts`: no redirects, a timeout, the 401 retried once) go only to the configured endpoints of
 * trusted organisations (egress allowlist), over verified TLS (plain http only in development mode or on loopback).
 */
export interface TokenRequest {
  /** The hosted organisation calling out (grant `iss`). */
  requester: string;
  /** Authorization credentials (JWT VCs) the remote issued to the requester. */
  vcs?: string[];
  /**
   * The person behind the call, vouched for by the requester (the tenant's EHR named them): a NutsEmployeeCredential
   * or, with `dezi`, a DeziUserCredential in a Nuts v6 presentation; the grant's `usi` in RFC003.
   */
  person?: Person;
  /** RFC 8707 resource indicator: the remote resource the token is for (e.g. the sender's Task URL). */
  resource?: string;
}

export interface OutboundCall extends TokenRequest {
  /** The trusted organisation called (grant `sub`). */
  remote: string;
  purposeOfUse: string;
}

/** A token as the remote issued it: a bearer token, or one bound to the requester's key (RFC 9449). */
export interface IssuedToken {
  token: string;
  type: 'Bearer' | 'DPoP';
}

export interface TokenClient {
  getToken(remote: string, purposeOfUse: string, request: TokenRequest): Promise<IssuedToken>;
  /** The Authorization header of one request for `call` and, with a DPoP token, its proof (the DPoP header). */
  headers(call: OutboundCall, request: { method: string; url: URL }): Promise<Record<string, string>>;
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

/** The grants the client speaks: `rfc003` is the RFC003-shaped jwt-bearer of older peers. */
const RFC003_GRANT = 'rfc003';
type Grant = typeof VP_TOKEN_BEARER_GRANT | typeof JWT_BEARER_GRANT | typeof RFC003_GRANT;

type TokenServer = { tokenEndpoint: string; dpop: boolean } & (
  | { grant: typeof RFC003_GRANT }
  /** A Nuts v6 server, found by its issuer's RFC 8414 metadata. */
  | { grant: Exclude<Grant, typeof RFC003_GRANT>; metadata: ServerMetadata }
);

/** A tenant without Nuts v6 credentials (tests of the RFC003 client). */
const NO_WALLET: Wallet = { x509Credential: () => undefined };

/** The first grant of vp_token-bearer, jwt-bearer (generic functions) a Nuts v6 server offers; RFC003 for any other server. */
function grantOf(found: ServerMetadata, remote: string): Grant {
  if (!found.presentation_definition_endpoint) return RFC003_GRANT;
  const offered = found.grant_types_supported ?? [];
  if (offered.includes(VP_TOKEN_BEARER_GRANT)) return VP_TOKEN_BEARER_GRANT;
  if (offered.includes(JWT_BEARER_GRANT)) return JWT_BEARER_GRANT;
  throw new Error(`the authorization server of '${remote}' offers neither ${VP_TOKEN_BEARER_GRANT} nor ${JWT_BEARER_GRANT}`);
}

export function createTokenClient(deps: { registry: TrustRegistry; wallet?: Wallet; fetch?: Fetch; clock?: () => number }): TokenClient {
  const { registry } = deps;
  const fetchImpl = deps.fetch ?? fetch;
  const wallet = deps.wallet ?? NO_WALLET;
  const clock = deps.clock ?? Date.now;
  const cache = new Map<string, IssuedToken & { refreshAt: number }>();
  const pending = new Map<string, Promise<IssuedToken>>();
  const metadata = createMetadataReader({ fetch: fetchImpl, mode: registry.mode, clock });

  function trustedRemote(remote: string): TrustedOrganization {
    const organization = registry.trusted(remote);
    if (!organization) throw new Error(`'${remote}' is not a trusted organisation`);
    return organization;
  }

  // Hashed: the person may carry a Dezi id_token, which is kept nowhere in clear.
  const cacheKey = (remote: string, purposeOfUse: string, request: TokenRequest) =>
    createHash('sha256')
      .update(JSON.stringify([request.requester, remote, purposeOfUse, [...(request.vcs ?? [])].sort(), request.person ?? null, request.resource ?? null]))
      .digest('base64url');

  function hostedParty(requester: string): HostedParty {
    const party = registry.hosted(requester);
    if (!party) throw new Error(`'${requester}' is not hosted here`);
    return party;
  }

  /**
   * Where the remote's tokens come from, which grant it takes, and whether it binds them to the requester's key. A
   * requester without an X509Credential cannot present to a Nuts v6 server: it signs the RFC003 grant at the remote's
   * `endpoints.oauth` when it has one (a gateway publishes both in its directory).
   */
  async function tokenServer(remote: string, party: HostedParty): Promise<TokenServer> {
    const { endpoints } = trustedRemote(remote);
    if (endpoints.authorizationServer) {
      const found = await metadata.read(endpoints.authorizationServer);
      const dpop = found.dpop_signing_alg_values_supported?.includes(party.signing.alg) ?? false;
      const grant = grantOf(found, remote);
      if (grant === RFC003_GRANT) return { tokenEndpoint: found.token_endpoint, dpop, grant };
      const presentable = wallet.x509Credential(party.organization.id) !== undefined;
      if (presentable || !endpoints.oauth) return { tokenEndpoint: found.token_endpoint, dpop, grant, metadata: found };
    }
    if (!endpoints.oauth) throw new Error(`trusted organisation '${remote}' has no oauth endpoint`);
    return { tokenEndpoint: endpoints.oauth, dpop: false, grant: RFC003_GRANT };
  }

  async function signGrant(remote: string, audience: string, purposeOfUse: string, request: TokenRequest): Promise<string> {
    const party = hostedParty(request.requester);
    const now = nowSeconds(clock);
    const { person } = request;
    const usi = person && { id: person.identifier, name: person.name, ...(person.role ? { role: person.role } : {}) };
    return new SignJWT({ purposeOfUse, vcs: request.vcs ?? [], ...(usi ? { usi } : {}) })
      .setProtectedHeader({ alg: party.signing.alg, kid: party.signing.kid, typ: TOKEN_TYPES.grant })
      .setIssuer(request.requester)
      .setSubject(remote)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + MAX_ASSERTION_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(party.signing.key);
  }

  /** The scope's Presentation Definitions at the remote: the person's only when the call has a person. */
  async function definitionsOf(server: ServerMetadata, scope: string, remote: string, withPerson: boolean): Promise<ScopeDefinitions> {
    try {
      const organization = await metadata.definition(server, scope, 'organization');
      if (!organization) throw new Error(`'${remote}' publishes no Presentation Definitions`);
      const user = withPerson ? await metadata.definition(server, scope, 'user') : undefined;
      // A server that knows no wallet owner types answers the organisation's definition again.
      return { organization, ...(user && user.id !== organization.id ? { user } : {}) };
    } catch (error) {
      if (!(error instanceof DefinitionRefused)) throw error;
      throw new TokenRequestError(error.status, error.error, `token request to '${remote}' not made: ${error.message}`);
    }
  }

  /** The form of the grant the server takes (RFC021 §4.1; nuts-node sends client_id, its own issuer). */
  async function grantForm(remote: string, purposeOfUse: string, request: TokenRequest, server: TokenServer): Promise<Record<string, string>> {
    if (server.grant === RFC003_GRANT) {
      const assertion = await signGrant(remote, server.tokenEndpoint, purposeOfUse, request);
      return { grant_type: JWT_BEARER_GRANT, assertion, ...(request.resource ? { resource: request.resource } : {}) };
    }
    const party = hostedParty(request.requester);
    const found = server.metadata;
    const definitions = await definitionsOf(found, purposeOfUse, remote, request.person !== undefined);
    const presentation = await buildPresentation(
      party,
      wallet,
      { scope: purposeOfUse, definitions, ...(request.person ? { person: request.person } : {}), audience: found.issuer },
      nowSeconds(clock),
    );
    const common = { assertion: presentation.assertion, scope: purposeOfUse, client_id: issuerOf(registry.publicBaseUrl, request.requester) };
    if (server.grant === VP_TOKEN_BEARER_GRANT) return { grant_type: VP_TOKEN_BEARER_GRANT, ...common, presentation_submission: presentation.submission };
    return { grant_type: JWT_BEARER_GRANT, ...common };
  }

  async function requestToken(remote: string, purposeOfUse: string, request: TokenRequest, key: string): Promise<IssuedToken> {
    const party = hostedParty(request.requester);
    const server = await tokenServer(remote, party);
    const url = new URL(server.tokenEndpoint);
    assertTransportAllowed(url, registry.mode);
    const form = await grantForm(remote, purposeOfUse, request, server);
    const { dpop } = server;
    const proof: Record<string, string> = dpop ? { dpop: await signProof(party.signing, { method: 'POST', url }, nowSeconds(clock)) } : {};
    const response = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...proof },
      body: new URLSearchParams(form).toString(),
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
    // A server that does not do DPoP ignores the proof and issues a bearer token (RFC 9449 §5); one never asked for DPoP issues no DPoP token.
    const issuedType = String(type).toLowerCase() === 'bearer' ? 'Bearer' : dpop && String(type).toLowerCase() === 'dpop' ? 'DPoP' : undefined;
    if (typeof token !== 'string' || !issuedType || typeof expiresIn !== 'number') {
      throw new TokenRequestError(response.status, undefined, `malformed token response from '${remote}'`);
    }
    const issued: IssuedToken = { token, type: issuedType };
    cache.set(key, { ...issued, refreshAt: nowSeconds(clock) + expiresIn - TOKEN_REFRESH_MARGIN_SECONDS });
    return issued;
  }

  async function getToken(remote: string, purposeOfUse: string, request: TokenRequest): Promise<IssuedToken> {
    const key = cacheKey(remote, purposeOfUse, request);
    const cached = cache.get(key);
    if (cached && cached.refreshAt > nowSeconds(clock)) return { token: cached.token, type: cached.type };
    cache.delete(key);
    let inFlight = pending.get(key);
    if (!inFlight) {
      inFlight = requestToken(remote, purposeOfUse, request, key).finally(() => pending.delete(key));
      pending.set(key, inFlight);
    }
    return inFlight;
  }

  async function headers(call: OutboundCall, { method, url }: { method: string; url: URL }): Promise<Record<string, string>> {
    const { token, type } = await getToken(call.remote, call.purposeOfUse, call);
    if (type === 'Bearer') return { authorization: `Bearer ${token}` };
    const proof = await signProof(hostedParty(call.requester).signing, { method, url, accessToken: token }, nowSeconds(clock));
    return { authorization: `DPoP ${token}`, dpop: proof };
  }

  /** The egress allowlist, the transport rules and the token of one call (with its DPoP proof when bound). */
  function authorization(call: OutboundCall): Authorization {
    return {
      admit(url) {
        if (!withinEndpoints(url, trustedRemote(call.remote))) throw new Error(`${url.origin}${url.pathname} is not an endpoint of '${call.remote}'`);
        assertTransportAllowed(url, registry.mode);
      },
      headers: (request) => headers(call, request),
      refused() {
        cache.delete(cacheKey(call.remote, call.purposeOfUse, call));
      },
    };
  }

  return {
    getToken,
    headers,
    remote: (url, call) => remoteEndpoint(url, authorization(call)),
  };
}

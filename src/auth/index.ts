import { createAuditor, type Auditor } from '../audit/auditor.js';
import type { GatewayConfig } from '../config/config.js';
import type { Store } from '../store/repository.js';
import { createAuthenticator } from './authenticator.js';
import { createTokenClient, type TokenClient } from './client.js';
import { createCredentialService, type CredentialService } from './credentials.js';
import { groupCommit } from './groupCommit.js';
import type { Authenticator } from '../fhir/principal.js';
import type { RateLimit } from './rateLimit.js';
import { createTokenService, type HeldCredentials, type TokenService } from './tokenService.js';
import { createTokenVerifier } from './tokenVerifier.js';
import { createDpopVerifier } from './dpop/index.js';
import { createTrustRegistry, type Fetch, type TrustRegistry } from './trust.js';

/** Everything auth/ offers the rest of the gateway, wired from configuration and the store. */
export interface Auth {
  registry: TrustRegistry;
  /** Resource-server guard: the HTTP layer calls it on every FHIR route and the notification endpoint. */
  authenticator: Authenticator;
  /** The token and introspection services (http/oauth.ts serves them with discovery metadata and DID documents). */
  tokens: TokenService;
  credentials: CredentialService;
  /** Outbound calls to trusted organisations with tokens from their authorization servers. */
  client: TokenClient;
  auditor: Auditor;
}

export interface AuthOptions {
  fetch?: Fetch;
  clock?: () => number;
  /** Token endpoint rate limit per requester (default 50 at once, 20/s). */
  rateLimit?: RateLimit;
  /** Credentials the tenants keep for requesters instead of handing them over (tokenService.ts). */
  heldCredentials?: HeldCredentials;
}

export async function createAuth(config: GatewayConfig, store: Store, options: AuthOptions = {}): Promise<Auth> {
  const registry = await createTrustRegistry(config, { fetch: options.fetch, clock: options.clock });
  const writes = groupCommit(store);
  const auditor = createAuditor(writes, { observer: config.publicBaseUrl, clock: options.clock });
  const credentials = createCredentialService(registry, store.credentials, options.clock);
  const verifier = createTokenVerifier(registry, store.accessTokens, credentials, options.clock);
  const dpop = createDpopVerifier(store.replay, options.clock);
  const tokens = createTokenService({
    registry,
    writes,
    credentials,
    verifier,
    dpop,
    auditor,
    rateLimit: options.rateLimit,
    unauthenticatedRateLimit: config.rateLimits.unauthenticated,
    heldCredentials: options.heldCredentials,
    clock: options.clock,
  });
  return {
    registry,
    authenticator: createAuthenticator(verifier, dpop),
    tokens,
    credentials,
    client: createTokenClient({ registry, fetch: options.fetch, clock: options.clock }),
    auditor,
  };
}

export { wwwAuthenticate, BEARER_REALM } from './authenticator.js';
export { isPatientData, patientReferences } from '../audit/patientData.js';

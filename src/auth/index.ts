import { createAuditor, type Auditor } from '../audit/auditor.js';
import type { GatewayConfig } from '../config/config.js';
import type { Store } from '../store/repository.js';
import { createAuthenticator } from './authenticator.js';
import { createTokenClient, type TokenClient } from './client.js';
import { createCredentialService, type CredentialService } from './credentials.js';
import { groupCommit } from './groupCommit.js';
import type { Authenticator } from '../fhir/principal.js';
import type { RateLimit } from './rateLimit.js';
import { createTokenService, type TokenService } from './tokenService.js';
import { createTokenVerifier } from './tokenVerifier.js';
import { CONSENT_LOOKUP_COUNT, type ConsentLookup, type ConsentRule } from './consents.js';
import { createTrustRegistry, type CounterpartySource, type Fetch, type TrustRegistry } from './trust.js';
import type { Lookup } from './did/resolver.js';
import { loadNutsCredentials, type NutsCredentials } from './credentials/organizationCredentials.js';
import { loadPolicies } from './oauth2/policy.js';
import { createPresentationVerifier } from './oauth2/presentationVerifier.js';
import { nowSeconds } from './rules.js';
import { createDpopVerifier } from './dpop/index.js';

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
  /** Nuts v6 credential material: trusted CAs, Dezi keys, the hosted organisations' own X509Credentials. */
  nuts: NutsCredentials;
  /** Ends the threads that check presentations. */
  close(): Promise<void>;
}

export interface AuthOptions {
  fetch?: Fetch;
  /** Host name → addresses, for refusing did:web documents at private addresses (default: the system resolver). */
  lookup?: Lookup;
  clock?: () => number;
  /** Token endpoint rate limit per requester (default 50 at once, 20/s). */
  rateLimit?: RateLimit;
  /** Organisations found beyond the configuration (the care-services directory). */
  counterparties?: CounterpartySource;
}

export async function createAuth(config: GatewayConfig, store: Store, options: AuthOptions = {}): Promise<Auth> {
  const registry = await createTrustRegistry(config, { fetch: options.fetch, clock: options.clock, counterparties: options.counterparties, lookup: options.lookup });
  const nuts = await loadNutsCredentials(config, registry.hostedOrganizations(), nowSeconds(options.clock));
  const policies = loadPolicies(config.nuts.policyFile);
  const trust = { policies, x509: nuts.x509, ...(nuts.dezi ? { dezi: nuts.dezi } : {}) };
  const presentations = createPresentationVerifier(trust);
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
    acceptedGrants: config.nuts.acceptedGrants,
    presentations: { ...trust, verifier: presentations },
    ...(nuts.deziSealer ? { deziSealer: nuts.deziSealer } : {}),
    clock: options.clock,
  });
  return {
    registry,
    authenticator: createAuthenticator(verifier, dpop, consentRule(registry, consentLookup(store), options.clock)),
    tokens,
    credentials,
    client: createTokenClient({ registry, wallet: nuts, fetch: options.fetch, clock: options.clock }),
    auditor,
    nuts,
    close: () => presentations.close(),
  };
}

export { wwwAuthenticate, BEARER_REALM } from './authenticator.js';
export { isPatientData, patientReferences } from '../audit/patientData.js';

/** The tenant's R4 Consents naming `Type/id` in provision.data, as the Knooppunt's PIP asks: `Consent?data=Type/id`. */
function consentLookup(store: Store): ConsentLookup {
  return async (tenant, key) => {
    const request = {
      resourceType: 'Consent',
      params: [{ code: 'data', values: [key] }],
      count: CONSENT_LOOKUP_COUNT,
      offset: 0,
      sort: [],
      include: [],
      revinclude: [],
      total: 'none' as const,
    };
    return (await store.resources.search({ tenant, version: 'r4' }, request)).resources;
  };
}

function consentRule(registry: TrustRegistry, lookup: ConsentLookup, clock?: () => number): ConsentRule {
  return {
    lookup,
    holder: (tenant) => registry.hosted(tenant)?.organization,
    actor: (requester) => registry.trusted(requester) ?? registry.hosted(requester)?.organization,
    clock,
  };
}

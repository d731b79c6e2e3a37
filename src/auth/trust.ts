import type { JWK } from 'jose';
import type { EhrClient, GatewayConfig, HostedOrganization, TrustedOrganization } from '../config/config.js';
import { assertionKeys, didWebUrl, organizationDid } from './did.js';
import { importSigningKey, importVerificationKey, KeyError, type SigningKey, type VerificationKey } from './jwk.js';
import { loadEhrJwks, loadPrivateJwk } from './keyFiles.js';
import { assertTransportAllowed } from './transport.js';

/** A hosted organisation (tenant) with its keys: the newest signs, every listed key verifies. */
export interface HostedParty {
  organization: HostedOrganization;
  did: string;
  signing: SigningKey;
  verification: Map<string, VerificationKey>;
  /** Public keys as published in its DID document, oldest first. */
  publicJwks: JWK[];
}

/** One of a tenant's own EHR systems (private-key JWT client credentials). */
export interface EhrParty {
  client: EhrClient;
  tenant: string;
  keys: Map<string, VerificationKey>;
}

export interface TrustRegistry {
  readonly mode: GatewayConfig['mode'];
  readonly publicBaseUrl: string;
  hosted(id: string): HostedParty | undefined;
  hostedOrganizations(): HostedParty[];
  /** A remote organisation by its id (the JWT `iss`/`sub`): configured (`trusted[]`, seed and override), else found in the directory. */
  trusted(id: string): TrustedOrganization | undefined;
  /** A remote organisation by its URA, the same way. */
  trustedByUra(ura: string): TrustedOrganization | undefined;
  ehrClient(clientId: string): EhrParty | undefined;
  /** A verification key of a trusted or hosted organisation by the fragment of its kid; refreshes did:web on a miss. */
  organizationKey(organization: string, fragment: string): Promise<VerificationKey | undefined>;
}

export type Fetch = typeof fetch;

/**
 * Organisations known beyond the configuration: the care-services directory (src/directory/) feeds them, with their
 * endpoints and, as `didWeb`, where their keys are published. Configured `trusted[]` entries win over them.
 */
export interface CounterpartySource {
  byId(id: string): TrustedOrganization | undefined;
  byUra(ura: string): TrustedOrganization | undefined;
}

/** Splits a kid `<owner>#<fragment>`; undefined when it has no owner or no fragment. */
export function splitKid(kid: unknown): { owner: string; fragment: string } | undefined {
  if (typeof kid !== 'string') return undefined;
  const at = kid.lastIndexOf('#');
  if (at <= 0 || at === kid.length - 1) return undefined;
  return { owner: kid.slice(0, at), fragment: kid.slice(at + 1) };
}

const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A set of trusted keys must be public keys only, with distinct kids: anything else is ambiguous or a leak. */
function assertPublicKeySet(jwks: JWK[], owner: string): void {
  const kids = new Set<string>();
  for (const jwk of jwks) {
    if (SECRET_MEMBERS.some((member) => member in jwk)) throw new KeyError(`the key set of '${owner}' contains secret key material`);
    if (typeof jwk.kid === 'string') {
      if (kids.has(jwk.kid)) throw new KeyError(`the key set of '${owner}' uses kid '${jwk.kid}' twice`);
      kids.add(jwk.kid);
    }
  }
}

/**
 * Trusted public keys by RFC 7638 thumbprint and, when the JWK names one, by the fragment of its own kid.
 * `strict` (configuration): an unusable key is an error; otherwise (resolved DID documents) it is left out.
 */
async function indexKeys(jwks: JWK[], owner: string, strict: boolean): Promise<Map<string, VerificationKey>> {
  assertPublicKeySet(jwks, owner);
  const index = new Map<string, VerificationKey>();
  for (const jwk of jwks) {
    try {
      const key = await importVerificationKey(jwk);
      index.set(key.thumbprint, key);
      if (typeof jwk.kid === 'string') index.set(splitKid(jwk.kid)?.fragment ?? jwk.kid, key);
    } catch (error) {
      if (strict || !(error instanceof KeyError)) throw new KeyError(`a key of '${owner}' is unusable: ${(error as Error).message}`);
    }
  }
  return index;
}

async function hostedParty(organization: HostedOrganization, config: GatewayConfig): Promise<HostedParty> {
  if (organization.keys.length === 0) throw new KeyError(`hosted organization '${organization.id}' has no keys`);
  const signingKeys: SigningKey[] = [];
  for (const source of organization.keys) signingKeys.push(await importSigningKey(organization.id, await loadPrivateJwk(source, config.mode)));
  const publicJwks = signingKeys.map((key) => key.publicJwk);
  return {
    organization,
    did: organizationDid(organization.id, config.publicBaseUrl),
    signing: signingKeys[signingKeys.length - 1] as SigningKey,
    verification: await indexKeys(publicJwks, organization.id, true),
    publicJwks,
  };
}

const DID_CACHE_MS = 5 * 60_000;
/** An unknown kid triggers at most one re-resolution per organisation in this interval (key rotation, no DoS lever). */
const DID_REFRESH_MS = 30_000;

/** did:web resolution with a cache; a resolution failure leaves the previous keys in place. */
function didWebKeys(mode: GatewayConfig['mode'], fetchImpl: Fetch, clock: () => number) {
  const cache = new Map<string, { keys: Map<string, VerificationKey>; fetchedAt: number }>();
  async function resolve(did: string): Promise<Map<string, VerificationKey>> {
    const url = didWebUrl(did);
    assertTransportAllowed(url, mode);
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
    if (!response.ok) throw new Error(`resolving ${did}: HTTP ${response.status}`);
    const jwks = [...assertionKeys(await response.json(), did)].map(([fragment, jwk]) => ({ ...jwk, kid: `${did}#${fragment}` }));
    return indexKeys(jwks, did, false);
  }
  return async (did: string, fragment: string): Promise<VerificationKey | undefined> => {
    const cached = cache.get(did);
    const age = cached ? clock() - cached.fetchedAt : Infinity;
    if (cached && (cached.keys.has(fragment) ? age < DID_CACHE_MS : age < DID_REFRESH_MS)) return cached.keys.get(fragment);
    try {
      const keys = await resolve(did);
      cache.set(did, { keys, fetchedAt: clock() });
      return keys.get(fragment);
    } catch {
      if (cached) cached.fetchedAt = clock();
      return cached?.keys.get(fragment);
    }
  };
}

/** Builds the trust registry from configuration: hosted organisations' keys, EHR clients, trusted organisations. */
export async function createTrustRegistry(
  config: GatewayConfig,
  options: { fetch?: Fetch; clock?: () => number; counterparties?: CounterpartySource } = {},
): Promise<TrustRegistry> {
  const hosted = new Map<string, HostedParty>();
  const ehrClients = new Map<string, EhrParty>();
  for (const organization of config.organizations) {
    hosted.set(organization.id, await hostedParty(organization, config));
    for (const client of organization.ehrClients) {
      if (ehrClients.has(client.clientId)) throw new KeyError(`EHR client id '${client.clientId}' is configured twice`);
      const keys = await indexKeys(await loadEhrJwks(client, config.mode), client.clientId, true);
      ehrClients.set(client.clientId, { client, tenant: organization.id, keys });
    }
  }
  const configured = new Map(config.trusted.map((organization) => [organization.id, organization]));
  const configuredByUra = new Map(config.trusted.filter((organization) => organization.ura).map((organization) => [organization.ura as string, organization]));
  const counterparties = options.counterparties;
  const trusted = { get: (id: string) => configured.get(id) ?? counterparties?.byId(id) };
  const inlineKeys = new Map<string, Map<string, VerificationKey>>();
  for (const organization of config.trusted) {
    if (organization.jwks) inlineKeys.set(organization.id, await indexKeys(organization.jwks.keys as JWK[], organization.id, true));
  }
  const resolveDidWeb = didWebKeys(config.mode, options.fetch ?? fetch, options.clock ?? Date.now);

  return {
    mode: config.mode,
    publicBaseUrl: config.publicBaseUrl,
    hosted: (id) => hosted.get(id),
    hostedOrganizations: () => [...hosted.values()],
    trusted: (id) => trusted.get(id),
    trustedByUra: (ura) => configuredByUra.get(ura) ?? counterparties?.byUra(ura),
    ehrClient: (clientId) => ehrClients.get(clientId),
    async organizationKey(organization, fragment) {
      const own = hosted.get(organization);
      if (own) return own.verification.get(fragment);
      const remote = trusted.get(organization);
      if (!remote) return undefined;
      if (remote.didWeb) return resolveDidWeb(remote.didWeb, fragment);
      return inlineKeys.get(organization)?.get(fragment);
    },
  };
}

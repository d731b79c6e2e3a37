import type { JWK } from 'jose';
import type { EhrClient, GatewayConfig, HostedOrganization, TrustedOrganization } from '../config/config.js';
import { organizationDid } from './did.js';
import { createDidWebResolver, type Fetch, type Lookup } from './did/resolver.js';
import { importSigningKey, KeyError, type SigningKey, type VerificationKey } from './jwk.js';
import { indexKeys } from './keyIndex.js';
import { loadEhrJwks, loadPrivateJwk } from './keyFiles.js';

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
  /** A configured remote organisation by its AGB-Z (the Nictiz test organisations mostly carry one; the directory is keyed by URA). */
  trustedByAgb(agb: string): TrustedOrganization | undefined;
  ehrClient(clientId: string): EhrParty | undefined;
  /** A verification key of a trusted or hosted organisation by the fragment of its kid; refreshes did:web on a miss. */
  organizationKey(organization: string, fragment: string): Promise<VerificationKey | undefined>;
  /** A verification key of any did:web (a hosted organisation's, or resolved; private addresses refused in production). */
  didKey(did: string, fragment: string): Promise<VerificationKey | undefined>;
}

export type { Fetch } from './did/resolver.js';

/**
 * Organisations known beyond the configuration: the care-services directory (src/directory/) feeds them, with their
 * endpoints and, as `didWeb`, where their keys are published. Configured `trusted[]` entries win over them.
 */
export interface CounterpartySource {
  byId(id: string): TrustedOrganization | undefined;
  byUra(ura: string): TrustedOrganization | undefined;
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

/** Builds the trust registry from configuration: hosted organisations' keys, EHR clients, trusted organisations. */
export async function createTrustRegistry(
  config: GatewayConfig,
  options: { fetch?: Fetch; clock?: () => number; counterparties?: CounterpartySource; lookup?: Lookup } = {},
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
  const configuredByAgb = new Map(config.trusted.filter((organization) => organization.agb).map((organization) => [organization.agb as string, organization]));
  const counterparties = options.counterparties;
  const trusted = { get: (id: string) => configured.get(id) ?? counterparties?.byId(id) };
  const inlineKeys = new Map<string, Map<string, VerificationKey>>();
  for (const organization of config.trusted) {
    if (organization.jwks) inlineKeys.set(organization.id, await indexKeys(organization.jwks.keys as JWK[], organization.id, true));
  }
  // Configured organisations are the operator's choice, wherever they live; did:web DIDs from requests are not (resolveDid).
  const resolveDidWeb = createDidWebResolver({ mode: config.mode, fetch: options.fetch, clock: options.clock, privateAddresses: 'allow' });
  const resolveDid = createDidWebResolver({
    mode: config.mode,
    fetch: options.fetch,
    clock: options.clock,
    lookup: options.lookup,
    privateAddresses: config.mode === 'production' ? 'refuse' : 'allow',
  });

  return {
    mode: config.mode,
    publicBaseUrl: config.publicBaseUrl,
    hosted: (id) => hosted.get(id),
    hostedOrganizations: () => [...hosted.values()],
    trusted: (id) => trusted.get(id),
    trustedByUra: (ura) => configuredByUra.get(ura) ?? counterparties?.byUra(ura),
    trustedByAgb: (agb) => configuredByAgb.get(agb),
    ehrClient: (clientId) => ehrClients.get(clientId),
    async organizationKey(organization, fragment) {
      const own = hosted.get(organization);
      if (own) return own.verification.get(fragment);
      const remote = trusted.get(organization);
      if (!remote) return undefined;
      if (remote.didWeb) return resolveDidWeb(remote.didWeb, fragment);
      return inlineKeys.get(organization)?.get(fragment);
    },
    async didKey(did, fragment) {
      const own = [...hosted.values()].find((party) => party.did === did);
      if (own) return own.verification.get(fragment);
      return did.startsWith('did:web:') ? resolveDid(did, fragment) : undefined;
    },
  };
}

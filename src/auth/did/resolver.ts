import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { JWK } from 'jose';
import type { GatewayConfig } from '../../config/config.js';
import { assertionKeys, didWebUrl } from '../did.js';
import { indexKeys } from '../keyIndex.js';
import type { VerificationKey } from '../jwk.js';
import { assertTransportAllowed, isPrivateAddress } from '../transport.js';

/**
 * did:web resolution of other parties' keys (https://w3c-ccg.github.io/did-method-web/): the document is fetched
 * over HTTPS (plain http only where transport.ts allows it), cached for a TTL, and, for DIDs a request names, never
 * fetched from a private, loopback or link-local address in production (a DID must not be a way into our own network).
 */
export type Fetch = typeof fetch;
export type Lookup = (hostname: string) => Promise<string[]>;

export interface DidWebResolverOptions {
  mode: GatewayConfig['mode'];
  fetch?: Fetch;
  clock?: () => number;
  /** Resolves a host name to its addresses (default: the system resolver). */
  lookup?: Lookup;
  /** `refuse`: no document is fetched from a private, loopback or link-local address. */
  privateAddresses: 'allow' | 'refuse';
}

/** A verification key of a did:web by the fragment of its verification method id; undefined when it has none. */
export type DidWebKeys = (did: string, fragment: string) => Promise<VerificationKey | undefined>;

export const DID_CACHE_MS = 5 * 60_000;
/** An unknown kid triggers at most one re-resolution per DID in this interval (key rotation, no DoS lever). */
export const DID_REFRESH_MS = 30_000;

const systemLookup: Lookup = async (hostname) => (await dnsLookup(hostname, { all: true })).map((entry) => entry.address);

/** Throws unless every address the host resolves to is public (production only). */
async function assertPublicHost(url: URL, lookup: Lookup): Promise<void> {
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(hostname) ? [hostname] : await lookup(hostname);
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw new Error(`refusing to resolve a DID document at ${url.host}: a private address`);
  }
}

/** did:web resolution with a TTL cache; a failed refresh leaves the previous keys in place until the next attempt. */
export function createDidWebResolver(options: DidWebResolverOptions): DidWebKeys {
  const fetchImpl = options.fetch ?? fetch;
  const clock = options.clock ?? Date.now;
  const lookup = options.lookup ?? systemLookup;
  const cache = new Map<string, { keys: Map<string, VerificationKey>; fetchedAt: number }>();

  async function resolve(did: string): Promise<Map<string, VerificationKey>> {
    const url = didWebUrl(did);
    assertTransportAllowed(url, options.mode);
    if (options.privateAddresses === 'refuse') await assertPublicHost(url, lookup);
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
    if (!response.ok) throw new Error(`resolving ${did}: HTTP ${response.status}`);
    const jwks: JWK[] = [...assertionKeys(await response.json(), did)].map(([fragment, jwk]) => ({ ...jwk, kid: `${did}#${fragment}` }));
    return indexKeys(jwks, did, false);
  }

  return async (did, fragment) => {
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

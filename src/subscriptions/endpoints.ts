import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { isLoopback } from '../auth/transport.js';
import type { GatewayConfig, TrustedOrganization } from '../config/config.js';

/**
 * Where notifications may go (no SSRF): an endpoint must lie under a configured `allowedEndpoints` prefix, or
 * under the remote subscriber's own configured endpoints; in development mode loopback hosts are allowed too.
 * https only, plain http in development mode or under an http prefix that is allowlisted. And an endpoint may not
 * reach a private, loopback or link-local address, unless in development mode or allowlisted: that is checked on the
 * URL here, and again on every address DNS gives when a delivery connects (`guardedLookup`), so a name that later
 * resolves inward is refused too.
 */
export type Owner = { kind: 'ehr' } | { kind: 'organization'; id: string };

export interface EndpointDecision {
  /** The endpoint may resolve to private addresses (development mode, or allowlisted). */
  privateAllowed: boolean;
}

export interface EndpointPolicyOptions {
  mode: GatewayConfig['mode'];
  allowedEndpoints: string[];
  trusted(id: string): TrustedOrganization | undefined;
}

export class EndpointPolicy {
  private readonly allowed: URL[];

  constructor(private readonly options: EndpointPolicyOptions) {
    this.allowed = options.allowedEndpoints.map((prefix) => new URL(prefix));
  }

  /** May this owner's notifications go to `endpoint`? */
  decide(endpoint: string, owner: Owner): EndpointDecision | { problem: string } {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return { problem: `'${endpoint}' is not an absolute URL` };
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: `'${url.protocol}' endpoints are not supported (https only)` };
    if (url.username || url.password) return { problem: 'an endpoint must not carry credentials; use channel.header' };
    const development = this.options.mode === 'development';
    const allowlisted = this.allowed.some((prefix) => under(url, prefix));
    const own = owner.kind === 'organization' && ownEndpoint(url, this.options.trusted(owner.id));
    if (!allowlisted && !own && !(development && isLoopback(url.hostname))) {
      const whose = owner.kind === 'organization' ? `the configured endpoints of '${owner.id}'` : 'the configured allowedEndpoints';
      return { problem: `${url.origin}${url.pathname} is not under ${whose}` };
    }
    if (url.protocol === 'http:' && !development && !allowlisted) return { problem: 'plain http is allowed only in development mode or under an allowlisted http prefix' };
    const privateAllowed = development || allowlisted;
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!privateAllowed && isIP(literal) !== 0 && isPrivateAddress(literal)) return { problem: `${literal} is a private or loopback address` };
    return { privateAllowed };
  }
}

/** A path prefix matches whole segments: `https://h/hooks` covers `https://h/hooks/a`, not `https://h/hooksx`. */
function under(url: URL, prefix: URL): boolean {
  if (url.origin !== prefix.origin) return false;
  const base = prefix.pathname.replace(/\/$/, '');
  return base === '' || url.pathname === base || url.pathname.startsWith(`${base}/`);
}

function ownEndpoint(url: URL, organization: TrustedOrganization | undefined): boolean {
  return Object.values(organization?.endpoints ?? {}).some((endpoint) => endpoint !== undefined && under(url, new URL(endpoint)));
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/** Loopback, private (RFC 1918, ULA), carrier-grade NAT, link-local, multicast, unspecified and reserved ranges. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? PRIVATE.check(mapped[1], 'ipv4') : PRIVATE.check(address, 'ipv6');
}

/** dns.lookup for delivery sockets that fails when any address of the name is private. */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const inward = addresses.find((entry) => isPrivateAddress(entry.address));
    if (inward) {
      const refused = Object.assign(new Error(`${hostname} resolves to private address ${inward.address}`), { code: 'EPRIVATEADDRESS' });
      return callback(refused, '', 0);
    }
    if (options.all) return (callback as unknown as (error: null, addresses: dns.LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
};

import { BlockList, isIP } from 'node:net';
import type { GatewayConfig } from '../config/config.js';

/** Outbound transport rules: TLS (verified by Node's fetch) everywhere, plain http only in development or on loopback. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export function plainHttpAllowed(url: URL, mode: GatewayConfig['mode']): boolean {
  return mode === 'development' || isLoopback(url.hostname);
}

/** Throws unless the URL may be called: https, or http where plain http is allowed. */
export function assertTransportAllowed(url: URL, mode: GatewayConfig['mode']): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && plainHttpAllowed(url, mode)) return;
  throw new Error(`refusing ${url.protocol} to ${url.host}: only https (plain http in development mode or on loopback)`);
}

/** Loopback, private (RFC 1918, ULA), carrier-grade NAT, link-local, multicast, unspecified and reserved ranges: no
 * address another party may send us to (subscription endpoints, did:web documents of requesters). */
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


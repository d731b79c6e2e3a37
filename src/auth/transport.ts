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

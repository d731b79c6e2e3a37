import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { isLoopback, isPrivateAddress } from '../auth/transport.js';
import type { GatewayConfig, TrustedOrganization } from '../config/config.js';
import { issue, type OperationOutcomeIssue } from '../fhir/outcome.js';
import { headerProblems } from './headers.js';

/**
 * Where notifications may go (no SSRF). The tenant's own EHR: under a configured `allowedEndpoints` prefix, or in
 * development mode a loopback host on an unprivileged port other than the gateway's own. A remote subscriber: under
 * its own configured endpoints only (never the tenant's internal ones), whatever the allowlist says. https only; plain
 * http in development mode or under an allowlisted http prefix. And an endpoint may not reach a private, loopback or
 * link-local address, unless in development mode or allowlisted: that is checked on the URL here, and again on every
 * address DNS gives when a delivery connects (`guardedLookup`), so a name that later resolves inward is refused too.
 *
 * A path is compared as the receiver will read it: dot segments resolved, each segment percent-decoded; what could
 * read differently on the other side (encoded slashes, backslashes, encoded dot segments, userinfo, whitespace) is
 * refused rather than interpreted.
 */
export type Owner = { kind: 'ehr' } | { kind: 'organization'; id: string };

export interface EndpointDecision {
  /** The endpoint may resolve to private addresses (development mode, or allowlisted). */
  privateAllowed: boolean;
  /** The endpoint lies under `subscriptions.allowedEndpoints`. */
  allowlisted: boolean;
}

export interface EndpointPolicyOptions {
  mode: GatewayConfig['mode'];
  allowedEndpoints: string[];
  trusted(id: string): TrustedOrganization | undefined;
  /** The port this gateway listens on: never a loopback target (it would notify itself). */
  ownPort: number;
}

/** Ports below this need privileges to listen on: system services (ssh, smtp, ...), never a developer's receiver. */
const FIRST_UNPRIVILEGED_PORT = 1024;

export class EndpointPolicy {
  private readonly allowed: URL[];

  constructor(private readonly options: EndpointPolicyOptions) {
    this.allowed = options.allowedEndpoints.map((prefix) => new URL(prefix));
  }

  /** May this owner's notifications go to `endpoint`? */
  decide(endpoint: string, owner: Owner): EndpointDecision | { problem: string } {
    const url = readEndpoint(endpoint);
    if ('problem' in url) return url;
    const development = this.options.mode === 'development';
    const allowlisted = this.allowed.some((prefix) => under(url, prefix));
    const whose = owner.kind === 'organization' ? this.remoteProblem(url, owner.id) : this.ehrProblem(url, allowlisted);
    if (whose) return { problem: whose };
    if (isLoopback(url.hostname) && portOf(url) === this.options.ownPort) return { problem: `port ${this.options.ownPort} is this gateway's own` };
    if (url.protocol === 'http:' && !development && !allowlisted) return { problem: 'plain http is allowed only in development mode or under an allowlisted http prefix' };
    const privateAllowed = development || allowlisted;
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (!privateAllowed && isIP(literal) !== 0 && isPrivateAddress(literal)) return { problem: `${literal} is a private or loopback address` };
    return { privateAllowed, allowlisted };
  }

  /** May this owner's notifications go to `endpoint` with these `channel.header` lines? Every rule broken, as issues. */
  decideChannel(endpoint: string, headers: [string, string][], owner: Owner): EndpointDecision | { problems: OperationOutcomeIssue[] } {
    const decision = this.decide(endpoint, owner);
    const endpointIssues = 'problem' in decision ? [issue('error', 'value', `channel.endpoint: ${decision.problem}`, 'Subscription.channel.endpoint')] : [];
    const headerIssues = headerProblems(headers, owner, !('problem' in decision) && decision.allowlisted).map((text) => issue('error', 'value', text, 'Subscription.channel.header'));
    if ('problem' in decision || headerIssues.length > 0) return { problems: [...endpointIssues, ...headerIssues] };
    return decision;
  }

  /** A remote subscriber's notifications go to its own endpoints; the allowlist (the tenant's EHR) is not one of them. */
  private remoteProblem(url: URL, id: string): string | undefined {
    if (ownEndpoint(url, this.options.trusted(id))) return undefined;
    return `${url.origin}${url.pathname} is not under the configured endpoints of '${id}'`;
  }

  private ehrProblem(url: URL, allowlisted: boolean): string | undefined {
    if (allowlisted) return undefined;
    if (this.options.mode !== 'development' || !isLoopback(url.hostname)) return `${url.origin}${url.pathname} is not under the configured allowedEndpoints`;
    if (portOf(url) < FIRST_UNPRIVILEGED_PORT) return `port ${portOf(url)} is a privileged port: in development mode a loopback endpoint needs a port from ${FIRST_UNPRIVILEGED_PORT}`;
    return undefined;
  }
}

/** The endpoint as a URL, or why it could read differently at the receiver than it does here. */
function readEndpoint(endpoint: string): URL | { problem: string } {
  if (/[\s\u0000-\u001f\u007f]/.test(endpoint)) return { problem: 'an endpoint may not contain whitespace or control characters' };
  if (endpoint.includes('\\')) return { problem: 'an endpoint may not contain a backslash' };
  const raw = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([^?#]*)/i.exec(endpoint);
  if (!raw || !URL.canParse(endpoint)) return { problem: `'${endpoint}' is not an absolute URL` };
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: `'${url.protocol}' endpoints are not supported (https only)` };
  const [, authority, path] = raw;
  if (authority.includes('@')) return { problem: 'an endpoint must not carry credentials; use channel.header' };
  // An encoded percent sign would let a receiver that decodes twice find a slash or dot segment the check did not see.
  if (/%(?:2f|5c|25)/i.test(path)) return { problem: 'an endpoint path may not contain an encoded slash, backslash or percent sign' };
  if (path.split('/').some((segment) => /%2e/i.test(segment) && /^(?:\.|%2e){1,2}$/i.test(segment))) return { problem: 'an endpoint path may not contain an encoded dot segment' };
  if (segmentsOf(url) === undefined) return { problem: 'an endpoint path has a malformed percent-encoding' };
  return url;
}

/** The path's segments, percent-decoded, without the empty one a trailing slash leaves; undefined if one cannot be decoded. */
function segmentsOf(url: URL): string[] | undefined {
  try {
    const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    return segments.at(-1) === '' ? segments.slice(0, -1) : segments;
  } catch {
    return undefined;
  }
}

const portOf = (url: URL): number => (url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80);

/** A path prefix matches whole decoded segments: `https://h/hooks` covers `https://h/hooks/a`, not `https://h/hooksx`. */
function under(url: URL, prefix: URL): boolean {
  if (url.origin !== prefix.origin) return false;
  const base = segmentsOf(prefix);
  const path = segmentsOf(url);
  return base !== undefined && path !== undefined && base.every((segment, i) => path[i] === segment);
}

function ownEndpoint(url: URL, organization: TrustedOrganization | undefined): boolean {
  return Object.values(organization?.endpoints ?? {}).some((endpoint) => endpoint !== undefined && under(url, new URL(endpoint)));
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

import { SIGNATURE_HEADER } from './canonical.js';
import type { Owner } from './endpoints.js';

/**
 * Which `channel.header` lines a notification may carry. A header is a field the receiver trusts, so a subscriber
 * sets none that frame or route the request, forge where it came from, or carry credentials it did not get from the
 * receiver: a remote subscriber sets no credentials at all (its notifications carry a token from its own
 * authorization server), the tenant's own EHR sets `Authorization` only towards `subscriptions.allowedEndpoints`.
 */
export const HEADER_LIMITS = { lines: 10, bytes: 4096 };

const NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, space and tab (RFC 9110 field-value, without obs-text). */
const VALUE = /^[\t\x20-\x7e]*$/;
/** Set by the transport itself, hop-by-hop, or telling a receiver or its proxy where the request came from or what it means. */
const NEVER = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'cookie',
  'forwarded',
  'via',
  'x-real-ip',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-url',
  'x-rewrite-url',
  SIGNATURE_HEADER,
]);
const NEVER_PREFIXES = ['proxy-', 'x-forwarded-'];

/** Every rule the headers break; `towardsAllowlist`: the endpoint lies under `subscriptions.allowedEndpoints`. */
export function headerProblems(headers: [string, string][], owner: Owner, towardsAllowlist: boolean): string[] {
  const problems: string[] = [];
  if (headers.length > HEADER_LIMITS.lines) problems.push(`channel.header has ${headers.length} lines, more than the limit of ${HEADER_LIMITS.lines}`);
  const bytes = headers.reduce((sum, [name, value]) => sum + Buffer.byteLength(`${name}: ${value}`), 0);
  if (bytes > HEADER_LIMITS.bytes) problems.push(`channel.header is ${bytes} bytes, more than the limit of ${HEADER_LIMITS.bytes}`);
  const seen = new Set<string>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (!NAME.test(name) || !VALUE.test(value)) problems.push("channel.header entries are 'Name: value' on one line, a token as name and visible ASCII as value");
    else if (seen.has(lower)) problems.push(`channel.header sets ${name} twice (header names are case-insensitive)`);
    else if (NEVER.has(lower) || NEVER_PREFIXES.some((prefix) => lower.startsWith(prefix))) problems.push(`channel.header may not set ${name}`);
    else if (lower === 'authorization' && owner.kind === 'organization') problems.push("channel.header may not set Authorization: a remote subscriber's notifications carry a token from its own authorization server");
    else if (lower === 'authorization' && !towardsAllowlist) problems.push('channel.header may set Authorization only towards subscriptions.allowedEndpoints');
    seen.add(lower);
  }
  return problems;
}

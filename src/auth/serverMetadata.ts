import { REQUEST_TIMEOUT_MS } from '../fhir/client/remote.js';
import { isObject } from '../vocabulary/json.js';
import { assertTransportAllowed } from './transport.js';
import type { Fetch } from './trust.js';

/**
 * What the client side reads of another organisation's authorization server (RFC 8414): its token endpoint, the grants
 * and the DPoP algorithms it offers, and (Nuts v6, RFC021 §5) where its Presentation Definitions are. The metadata is
 * read from the well-known URL its issuer gives and kept for an hour; it must name that same issuer (RFC 8414 §3.3),
 * and its endpoints must lie on the issuer's origin, so that the configuration stays the egress allowlist.
 */
export interface ServerMetadata {
  issuer: string;
  token_endpoint: string;
  grant_types_supported?: string[];
  dpop_signing_alg_values_supported?: string[];
  presentation_definition_endpoint?: string;
}

export interface MetadataReader {
  read(issuer: string): Promise<ServerMetadata>;
}

const KEPT_MS = 60 * 60 * 1000;

/** RFC 8414 §3.1: the well-known part goes between the host and the issuer's path. */
export function metadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  return new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`);
}

const strings = (value: unknown) => (Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : undefined);

function checked(body: unknown, issuer: string): ServerMetadata {
  if (!isObject(body) || body.issuer !== issuer) throw new Error(`the metadata of '${issuer}' names another issuer`);
  const origin = new URL(issuer).origin;
  const onOrigin = (value: unknown) => (typeof value === 'string' && URL.canParse(value) && new URL(value).origin === origin ? value : undefined);
  const tokenEndpoint = onOrigin(body.token_endpoint);
  if (!tokenEndpoint) throw new Error(`the metadata of '${issuer}' has no token_endpoint on ${origin}`);
  const presentationDefinitions = onOrigin(body.presentation_definition_endpoint);
  const grants = strings(body.grant_types_supported);
  const dpopAlgorithms = strings(body.dpop_signing_alg_values_supported);
  return {
    issuer,
    token_endpoint: tokenEndpoint,
    ...(grants ? { grant_types_supported: grants } : {}),
    ...(dpopAlgorithms ? { dpop_signing_alg_values_supported: dpopAlgorithms } : {}),
    ...(presentationDefinitions ? { presentation_definition_endpoint: presentationDefinitions } : {}),
  };
}

export function createMetadataReader(deps: { fetch: Fetch; mode: 'development' | 'production'; clock: () => number }): MetadataReader {
  const kept = new Map<string, { metadata: Promise<ServerMetadata>; until: number }>();

  async function fetchMetadata(issuer: string): Promise<ServerMetadata> {
    const url = metadataUrl(issuer);
    assertTransportAllowed(url, deps.mode);
    const response = await deps.fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`the metadata of '${issuer}' answered ${response.status}`);
    return checked(await response.json().catch(() => undefined), issuer);
  }

  return {
    read(issuer) {
      const now = deps.clock();
      const entry = kept.get(issuer);
      if (entry && entry.until > now) return entry.metadata;
      const metadata = fetchMetadata(issuer);
      kept.set(issuer, { metadata, until: now + KEPT_MS });
      metadata.catch(() => kept.delete(issuer));
      return metadata;
    },
  };
}

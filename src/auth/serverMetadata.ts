import { GatewayError } from '../errors.js';
import { REQUEST_TIMEOUT_MS } from '../fhir/client/remote.js';
import { isObject } from '../vocabulary/json.js';
import { assertTransportAllowed } from './transport.js';
import type { Fetch } from './trust.js';
import { validDefinition } from './oauth2/policy.js';
import type { PresentationDefinition } from './oauth2/presentationExchange.js';

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
  /**
   * RFC021 §5: the Presentation Definition of `scope` at the server's `presentation_definition_endpoint`, for the
   * organisation's wallet or (nuts-node's `wallet_owner_type=user`) the person's; undefined when the server has none
   * for that wallet. A refusal of the organisation's definition (e.g. `invalid_scope`) is a DefinitionRefused.
   */
  definition(metadata: ServerMetadata, scope: string, walletOwnerType: 'organization' | 'user'): Promise<PresentationDefinition | undefined>;
}

/** The server refused to give the Presentation Definition of a scope: its status and RFC 6749 error. */
export class DefinitionRefused extends GatewayError {
  static override readonly code = 'ERR_PRESENTATION_DEFINITION_REFUSED';

  constructor(
    readonly status: number,
    readonly error: string | undefined,
    message: string,
  ) {
    super(message);
  }
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

/** Answers kept for an hour per key; a failed read is forgotten at once. */
function keptReads<T>(clock: () => number, read: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const kept = new Map<string, { answer: Promise<T>; until: number }>();
  return (key) => {
    const now = clock();
    const entry = kept.get(key);
    if (entry && entry.until > now) return entry.answer;
    const answer = read(key);
    kept.set(key, { answer, until: now + KEPT_MS });
    answer.catch(() => kept.delete(key));
    return answer;
  };
}

export function createMetadataReader(deps: { fetch: Fetch; mode: 'development' | 'production'; clock: () => number }): MetadataReader {
  const get = (url: URL) => {
    assertTransportAllowed(url, deps.mode);
    return deps.fetch(url, { headers: { accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  };

  const read = keptReads(deps.clock, async (issuer) => {
    const response = await get(metadataUrl(issuer));
    if (!response.ok) throw new Error(`the metadata of '${issuer}' answered ${response.status}`);
    return checked(await response.json().catch(() => undefined), issuer);
  });

  const definition = keptReads(deps.clock, async (address) => {
    const url = new URL(address);
    const response = await get(url);
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok) return validDefinition(body, `the Presentation Definition at ${url.origin}${url.pathname}`);
    if (url.searchParams.get('wallet_owner_type') === 'user' && response.status < 500) return undefined;
    const error = isObject(body) && typeof body.error === 'string' ? body.error : undefined;
    const description = isObject(body) && typeof body.error_description === 'string' ? body.error_description : `HTTP ${response.status}`;
    throw new DefinitionRefused(response.status, error, `the Presentation Definition of scope '${url.searchParams.get('scope')}' was refused: ${description}`);
  });

  return {
    read,
    definition(metadata, scope, walletOwnerType) {
      if (!metadata.presentation_definition_endpoint) return Promise.resolve(undefined);
      const url = new URL(metadata.presentation_definition_endpoint);
      url.searchParams.set('scope', scope);
      if (walletOwnerType === 'user') url.searchParams.set('wallet_owner_type', 'user');
      return definition(url.href);
    },
  };
}

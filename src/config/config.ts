import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { GatewayError } from '../errors.js';

/** Typed gateway configuration: a JSON file named by GATEWAY_CONFIG, a few environment overrides, defaults. */
export type Role = 'sender' | 'receiver' | 'coordination-point';

export interface KeySource {
  file?: string;
  jwk?: Record<string, unknown>;
}

export interface EhrClient {
  clientId: string;
  jwks?: { keys: Record<string, unknown>[] };
  jwksFile?: string;
}

export interface HostedOrganization {
  id: string;
  name: string;
  ura?: string;
  agb?: string;
  roles: Role[];
  keys: KeySource[];
  ehrClients: EhrClient[];
  /** The UZI server certificate (PEM chain, leaf first) and its key, for the organisation's X509Credential. */
  x509?: { certificateFile: string; keyFile: string };
}

/**
 * The grants the token endpoints accept from other organisations: `vp_token-bearer` (RFC021) and `jwt-bearer` (a
 * presentation, the generic functions) at each organisation's Nuts v6 authorization server, `rfc003` the RFC003-shaped
 * jwt-bearer grant at `/oauth2/token`. The tenant's own EHR (client credentials) is not affected.
 */
export const ACCEPTED_GRANTS = ['vp_token-bearer', 'jwt-bearer', 'rfc003'] as const;
export type AcceptedGrant = (typeof ACCEPTED_GRANTS)[number];

/** Nuts v6 authorization servers (docs/auth.md, Nuts v6). */
export interface NutsSettings {
  /** Default: all of ACCEPTED_GRANTS. */
  acceptedGrants: AcceptedGrant[];
  /** Scope → Presentation Definitions (default conformance/nuts-policy.json). */
  policyFile?: string;
  trustedCaFiles: string[];
  allowSelfSignedCertificates: boolean;
  dezi?: DeziSettings;
}

/** The Dezi key set (`nuts.dezi`) and the key the Dezi id_tokens EHRs hand over are kept encrypted with. */
export interface DeziSettings {
  issuers: string[];
  jwks?: { keys: Record<string, unknown>[] };
  jwksFile?: string;
  /**
   * The AES-256-GCM key (a JWK `{kty: oct, alg: A256GCM, k}`) of the Dezi id_tokens at rest: `encryptionKeyFile`, or
   * env `DEZI_ENCRYPTION_KEY_FILE` (which wins); development mode's default `dataDir/keys/dezi-encryption.jwk.json`.
   */
  encryptionKeyFile: string;
}

export interface TrustedOrganization {
  id: string;
  name: string;
  ura?: string;
  /** At a coordination point: the AGB its publications may carry besides the URA. */
  agb?: string;
  jwks?: { keys: Record<string, unknown>[] };
  didWeb?: string;
  /**
   * `authorizationServer`: the RFC 8414 issuer of its authorization server (its metadata gives the token endpoint and
   * whether tokens are DPoP-bound); `oauth`: its token endpoint, used when no issuer is configured; `capacity`: a
   * coordination point's R4 FHIR base (publication, `$match-capacity`), else `fhir`.
   */
  endpoints: { authorizationServer?: string; oauth?: string; fhir?: string; notification?: string; capacity?: string };
  /**
   * How an eOverdracht sender notifies this organisation (NOTIFICATION_SHAPES): the Nuts Bolt v1 empty POST
   * (`bolt`, the default) or the Twiin TA Notified Pull notification Task (`twiin`).
   */
  notificationShape?: NotificationShape;
}

/** The published eOverdracht notification shapes a sender can speak (docs/transfer.md, Notification). */
export type NotificationShape = 'bolt' | 'twiin';

export interface GatewayConfig {
  mode: 'production' | 'development';
  port: number;
  /** Interface address to listen on; undefined: loopback in development mode, every interface in production. */
  listenHost?: string;
  /**
   * Which proxies in front of the gateway may say who the client is (X-Forwarded-For), as express's `trust proxy`:
   * a hop count or the ingress's addresses/subnets. Undefined: none, the client is the socket's peer.
   */
  trustProxy?: number | string[];
  publicBaseUrl: string;
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL only: the schema holding the gateway's tables (default `public`); instances sharing it share data. */
  databaseSchema?: string;
  limits: Limits;
  rateLimits: { unauthenticated: TokenBucket };
  audit: AuditSettings;
  tls?: { certFile: string; keyFile: string };
  profiles: { folders: string[] };
  organizations: HostedOrganization[];
  trusted: TrustedOrganization[];
  nuts: NutsSettings;
  /** The coordination point: a trusted organisation's id, or a URA the trust registry (and so the directory) knows. */
  coordinationPoint?: { organization: string } | { ura: string };
  capacity?: CapacitySettings;
  desk?: DeskSettings;
  subscriptions?: SubscriptionSettings;
  outbox?: OutboxSettings;
  directory?: DirectorySettings;
}

/** The care-services directory (docs/directory.md). */
export interface DirectorySettings {
  /** Root directories (regional, national) the update client discovers the organisations' own directories from. */
  roots?: string[];
  /** node-cron expression of the update client's rounds (default every minute). */
  schedule?: string;
  /** `_count` of the history pages it asks for (default 100). */
  pageSize?: number;
  /** Directories never followed (e.g. this gateway's own), trailing `/` ignored. */
  exclude?: string[];
}

/** What one request may cost, and what all requests in flight may cost together (README, Security). */
export interface Limits {
  /** Request body limit for an authenticated caller. */
  bodyBytes: number;
  /** Request body limit before the caller is known (token requests, notifications before their token is checked). */
  unauthenticatedBodyBytes: number;
  /** JSON/XML nesting limit. */
  jsonDepth: number;
  /** One resource written, as JSON. */
  resourceBytes: number;
  /** Values (objects, arrays and primitives) in one resource written. */
  resourceElements: number;
  /** Entries of one batch or transaction Bundle. */
  bundleEntries: number;
  /** Resources gathered into one answer: a search page, a batch's responses, a document. */
  responseBytes: number;
  /** Largest `_count` of a search, inside a batch too; larger values are lowered to it. */
  searchCount: number;
  /** Search parameter values in one query: repeats, comma-separated values and each `_include`/`_revinclude` count. */
  searchParameters: number;
  /** `_sort` terms in one query. */
  sortTerms: number;
  /** Memory all requests in flight hold together: bodies read and being worked on, answers being gathered. */
  inFlightBytes: number;
}

/** A token bucket: `capacity` requests at once, `refillPerSecond` sustained. */
export interface TokenBucket {
  capacity: number;
  refillPerSecond: number;
}

/** The audit trail (docs/auth.md, Audit). */
export interface AuditSettings {
  /** AuditEvents are deleted this long after they were recorded; undefined keeps the trail for good. */
  retentionDays?: number;
  /** Refused requests whose requester could not be verified are kept this long. */
  unverifiedRetentionDays: number;
}

/** The durable outbox (docs/operations.md). */
export interface OutboxSettings {
  /** Delivered messages are deleted this long after they were queued (default 168, a week); dead letters stay. */
  deliveredRetentionHours?: number;
}

/** The regional desk's sign-in (docs/desk.md). */
export interface DeskSettings {
  oidc?: { issuer: string; clientId: string; clientSecret?: string };
  /** People (the identity provider's `sub`) and the hosted organisations they may use the desk for. */
  people?: { subject: string; organizations: string[] }[];
  sessionMinutes?: number;
}

export interface CapacitySettings {
  staleAfterMinutes?: number;
  publishDebounceMs?: number;
  /** node-cron expression. */
  snapshotSchedule?: string;
}

/** Subscription delivery (docs/subscriptions.md). */
export interface SubscriptionSettings {
  /**
   * URL prefixes notification endpoints may lie under, besides a remote subscriber's own configured endpoints.
   * Listed here, an endpoint may also resolve to a private address (an EHR on the internal network).
   */
  allowedEndpoints?: string[];
  deliveryTimeoutMs?: number;
  maxConcurrentPerEndpoint?: number;
  /** First retry after up to this long; each later one waits up to twice as long. */
  retryBaseMs?: number;
  /** A notification still failing this long after its event dead-letters, and its subscription turns `error`. */
  retryHorizonMs?: number;
  /** Events are kept (for `$events`) this long after they were raised (default 720, thirty days). */
  eventRetentionHours?: number;
}

export class ConfigError extends GatewayError {
  static override readonly code = 'ERR_CONFIG_INVALID';
}

const schemaFile = fileURLToPath(new URL('../../conformance/gateway-config.schema.json', import.meta.url));

function schemaValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
}

function describe(error: ErrorObject): string {
  const field = error.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : '(root)';
  const extra = error.keyword === 'additionalProperties' ? ` '${String(error.params.additionalProperty)}'` : '';
  return `${field}: ${error.message ?? 'invalid'}${extra}`;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 10 * 1024 * 1024,
  unauthenticatedBodyBytes: 64 * 1024,
  jsonDepth: 64,
  resourceBytes: 8 * 1024 * 1024,
  resourceElements: 100_000,
  bundleEntries: 500,
  responseBytes: 8 * 1024 * 1024,
  searchCount: 1000,
  searchParameters: 50,
  sortTerms: 8,
  inFlightBytes: 16 * 1024 * 1024,
};
export const DEFAULT_RATE_LIMITS = { unauthenticated: { capacity: 50, refillPerSecond: 20 } };
export const DEFAULT_AUDIT: AuditSettings = { unverifiedRetentionDays: 90 };

/** Development mode: one demo care organisation with keys generated under the data folder. */
function developmentConfig(port: number, dataDir: string): GatewayConfig {
  return {
    mode: 'development',
    port,
    publicBaseUrl: `http://localhost:${port}`,
    dataDir,
    limits: DEFAULT_LIMITS,
    rateLimits: DEFAULT_RATE_LIMITS,
    audit: DEFAULT_AUDIT,
    profiles: { folders: [] },
    organizations: [
      {
        id: 'demo',
        name: 'Demo VVT (development)',
        ura: '00000001',
        roles: ['sender', 'receiver', 'coordination-point'],
        keys: [{ file: path.join(dataDir, 'keys', 'demo.private.jwk.json') }],
        ehrClients: [{ clientId: 'demo-ehr', jwksFile: path.join(dataDir, 'keys', 'demo-ehr.public.jwks.json') }],
      },
    ],
    trusted: [],
    nuts: { acceptedGrants: [...ACCEPTED_GRANTS], trustedCaFiles: [], allowSelfSignedCertificates: false },
  };
}

type RawNutsSettings = Partial<Omit<NutsSettings, 'dezi'>> & { dezi?: Omit<DeziSettings, 'encryptionKeyFile'> & { encryptionKeyFile?: string } };

type RawConfig = Omit<GatewayConfig, 'organizations' | 'trusted' | 'limits' | 'rateLimits' | 'audit' | 'profiles' | 'mode' | 'port' | 'dataDir' | 'nuts'> &
  Partial<Omit<GatewayConfig, 'nuts'>> & {
    nuts?: RawNutsSettings;
    limits?: Partial<Limits>;
    rateLimits?: Partial<GatewayConfig['rateLimits']>;
    audit?: Partial<AuditSettings>;
    organizations: (Omit<HostedOrganization, 'keys' | 'ehrClients'> & Partial<HostedOrganization>)[];
    trusted?: (Omit<TrustedOrganization, 'endpoints'> & Partial<TrustedOrganization>)[];
  };

/** Validates a parsed config object against the JSON Schema and fills defaults; throws ConfigError naming the field. */
export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = {}, baseDir = process.cwd()): GatewayConfig {
  const validate = schemaValidator();
  if (!validate(raw)) {
    throw new ConfigError(`invalid configuration: ${(validate.errors ?? []).map(describe).join('; ')}`);
  }
  const config = raw as RawConfig;
  const resolve = (file: string) => path.resolve(baseDir, file);
  const dataDir = resolve(env.DATA_DIR ?? config.dataDir ?? 'data');
  const mode = config.mode ?? 'production';
  const ids = new Set<string>();
  for (const org of [...config.organizations, ...(config.trusted ?? [])]) {
    if (ids.has(org.id)) throw new ConfigError(`invalid configuration: organization id '${org.id}' appears twice`);
    ids.add(org.id);
  }
  if (config.coordinationPoint && 'organization' in config.coordinationPoint && !ids.has(config.coordinationPoint.organization)) {
    throw new ConfigError(`invalid configuration: coordinationPoint.organization '${config.coordinationPoint.organization}' is not a known organization`);
  }
  return {
    mode,
    port: env.PORT ? Number(env.PORT) : (config.port ?? 8080),
    ...optional('listenHost', env.LISTEN_HOST ?? config.listenHost),
    ...optional('trustProxy', config.trustProxy),
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? config.publicBaseUrl).replace(/\/$/, ''),
    dataDir,
    databaseUrl: env.DATABASE_URL ?? config.databaseUrl,
    ...optional('databaseSchema', env.DATABASE_SCHEMA ?? config.databaseSchema),
    limits: { ...DEFAULT_LIMITS, ...config.limits },
    rateLimits: { ...DEFAULT_RATE_LIMITS, ...config.rateLimits },
    audit: { ...DEFAULT_AUDIT, ...config.audit },
    tls: config.tls && { certFile: resolve(config.tls.certFile), keyFile: resolve(config.tls.keyFile) },
    profiles: { folders: (config.profiles?.folders ?? []).map(resolve) },
    organizations: config.organizations.map((org) => ({
      ...org,
      keys: (org.keys ?? []).map((key) => (key.file ? { file: resolve(key.file) } : key)),
      ...(org.x509 ? { x509: { certificateFile: resolve(org.x509.certificateFile), keyFile: resolve(org.x509.keyFile) } } : {}),
      ehrClients: (org.ehrClients ?? []).map((client) =>
        client.jwksFile ? { ...client, jwksFile: resolve(client.jwksFile) } : client,
      ),
    })),
    trusted: (config.trusted ?? []).map((org) => ({ ...org, endpoints: org.endpoints ?? {} })),
    nuts: nutsSettings(config.nuts, { mode, dataDir, env, resolve }),
    coordinationPoint: config.coordinationPoint,
    ...(config.capacity ? { capacity: config.capacity } : {}),
    ...(config.desk ? { desk: deskSettings(config.desk, config.organizations) } : {}),
    ...(config.subscriptions ? { subscriptions: config.subscriptions } : {}),
    ...(config.outbox ? { outbox: config.outbox } : {}),
    ...(config.directory ? { directory: config.directory } : {}),
  };
}

function deskSettings(desk: DeskSettings, organizations: { id: string }[]): DeskSettings {
  for (const person of desk.people ?? []) {
    const unknown = person.organizations.find((id) => !organizations.some((organization) => organization.id === id));
    if (unknown) throw new ConfigError(`invalid configuration: desk.people '${person.subject}' names '${unknown}', which is not a hosted organization`);
  }
  return desk;
}

/** What parsing needs besides the raw configuration: the mode, the data folder, the environment, relative paths' base. */
interface ParseContext {
  mode: GatewayConfig['mode'];
  dataDir: string;
  env: NodeJS.ProcessEnv;
  resolve: (file: string) => string;
}

function nutsSettings(raw: RawNutsSettings = {}, where: ParseContext): NutsSettings {
  const { resolve } = where;
  const dezi = raw.dezi && deziSettings(raw.dezi, where);
  return {
    acceptedGrants: raw.acceptedGrants ?? [...ACCEPTED_GRANTS],
    ...(raw.policyFile ? { policyFile: resolve(raw.policyFile) } : {}),
    trustedCaFiles: (raw.trustedCaFiles ?? []).map(resolve),
    allowSelfSignedCertificates: raw.allowSelfSignedCertificates ?? false,
    ...(dezi ? { dezi } : {}),
  };
}

/**
 * The Dezi settings with the key of the Dezi id_tokens at rest: configured, or in development mode generated into the
 * data folder. Production does not start without one: it would have to keep the tokens in clear.
 */
function deziSettings(raw: NonNullable<RawNutsSettings['dezi']>, { mode, dataDir, env, resolve }: ParseContext): DeziSettings {
  const configured = env.DEZI_ENCRYPTION_KEY_FILE ?? raw.encryptionKeyFile;
  if (!configured && mode !== 'development') {
    throw new ConfigError('invalid configuration: nuts.dezi needs encryptionKeyFile (or env DEZI_ENCRYPTION_KEY_FILE) in production: the Dezi id_tokens EHRs hand over are kept encrypted with it');
  }
  return {
    ...raw,
    ...(raw.jwksFile ? { jwksFile: resolve(raw.jwksFile) } : {}),
    encryptionKeyFile: configured ? resolve(configured) : path.join(dataDir, 'keys', 'dezi-encryption.jwk.json'),
  };
}

const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/** Where a development gateway records the base URL it listens at (for `npm run token`), in its data folder. */
export const listeningFile = (dataDir: string) => path.join(dataDir, 'listening.json');

/** Reads GATEWAY_CONFIG (a JSON file) or, without it, returns the development configuration. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const port = env.PORT ? Number(env.PORT) : 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`invalid configuration: PORT '${env.PORT}' is not a port number`);
  const file = env.GATEWAY_CONFIG;
  if (!file) {
    const config = { ...developmentConfig(port, path.resolve(env.DATA_DIR ?? 'data')), ...optional('listenHost', env.LISTEN_HOST) };
    return env.DATABASE_URL ? { ...config, databaseUrl: env.DATABASE_URL, ...optional('databaseSchema', env.DATABASE_SCHEMA) } : config;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read GATEWAY_CONFIG '${file}': ${(error as Error).message}`);
  }
  return parseConfig(raw, env, path.dirname(path.resolve(file)));
}

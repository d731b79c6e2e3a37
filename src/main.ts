import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createAuth, type Auth } from './auth/index.js';
import { createCapacity, StoredReportEgress } from './capacity/index.js';
import { declaredByKey, type Capability } from './rest/capability-contract.js';
import { ConfigError, listeningFile, loadConfig, type GatewayConfig } from './config/config.js';
import { parseSearchRequest } from './fhir/search/parse.js';
import { searchParameters } from './fhir/search/registry.js';
import type { FhirVersion } from './fhir/version.js';
import { createApp } from './http/app.js';
import { createMemoryGate } from './http/bodies.js';
import { auditPatientData } from './http/audit.js';
import { answerClientErrors } from './http/client-errors.js';
import { createLogger, wantsReadableLogs, type Logger } from './logging/logger.js';
import { DEFAULT_RETENTION, scheduleRetention, type Retention } from './jobs/retention.js';
import { createDispatcher } from './outbox/dispatcher.js';
import { createDesk } from './desk/index.js';
import { openStore } from './store/index.js';
import type { Store } from './store/repository.js';
import { createSubscriptions } from './subscriptions/index.js';
import { createDirectory, type Directory } from './directory/index.js';
import { createTransfer, NOTIFICATION_BASE } from './transfer/index.js';
import { createValidator, type Validator } from './validation/index.js';

/**
 * Start-up: configuration → store → validators → listen → auth → capabilities → app. `startGateway` is what tests, the demo and
 * `npm start` use; the process entry point below adds configuration loading, signals and exit codes.
 */
export interface Gateway {
  /** Where this gateway answers, e.g. `http://127.0.0.1:8080`; FHIR bases are `<url>/fhir` and `<url>/fhir/stu3`. */
  url: string;
  config: GatewayConfig;
  /** Stops accepting connections, lets requests in flight finish, then closes the store. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  logger?: Logger;
  /** How long in-flight requests may take to finish on close before their connections are cut. */
  shutdownGraceMs?: number;
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger();
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, schema: config.databaseSchema, logger, limits: config.limits });
  try {
    const validators = await createValidators(config);
    const server = config.tls
      ? https.createServer({ cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) })
      : http.createServer();
    answerClientErrors(server);
    keepIdleConnectionsLonger(server);
    const port = await listen(server, config.port, listenHost(config));
    const running: GatewayConfig = { ...config, port, publicBaseUrl: withBoundPort(config.publicBaseUrl, port) };
    const bodies = createMemoryGate(config.limits.inFlightBytes);
    const directory = createDirectory({ config: running, store, logger, notificationPath: NOTIFICATION_BASE });
    const auth = await createAuth(running, store, { counterparties: directory.counterparties });
    const capabilities = createCapabilities({ config: running, store, auth, validators, logger, directory });
    // Work enqueued by any instance on this database (another process on PostgreSQL) starts a round here when due.
    const dispatcher = createDispatcher({
      outbox: store.outbox,
      changes: store.changes,
      handlers: declaredByKey(capabilities, (capability) => capability.outboxHandlers, 'the outbox kind'),
      onError: (error, message) => logger.error({ err: error, outboxMessage: message?.id }, 'outbox dispatcher error'),
    });
    const app = createApp({
      publicBaseUrl: running.publicBaseUrl,
      limits: config.limits,
      bodies,
      rateLimits: config.rateLimits,
      ...(config.trustProxy === undefined ? {} : { trustProxy: config.trustProxy }),
      store,
      validators,
      parseSearch: parseSearchRequest,
      restLimits: config.limits,
      searchParameters: (version, type) =>
        searchParameters(version, type).map((parameter) => ({
          name: parameter.code,
          type: parameter.type,
          definition: parameter.url,
          target: parameter.target,
        })),
      authenticator: auth.authenticator,
      audit: auditPatientData(auth.auditor),
      authorizationServer: auth,
      capabilities,
      logger,
    });
    for (const capability of capabilities) await capability.start?.();
    server.on('request', app);
    await dispatcher.start();
    const retention = scheduleRetention(store, retentionOf(config), logger);
    const url = `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    logger.info({ url, publicBaseUrl: running.publicBaseUrl, mode: config.mode, store: store.kind }, 'gateway listening');
    const stopWork = async () => {
      retention.stop();
      for (const capability of capabilities) await capability.stop?.();
      await dispatcher.stop();
      await auth.close();
    };
    return { url, config: running, close: () => shutDown(server, stopWork, store, options.shutdownGraceMs ?? 10_000) };
  } catch (error) {
    await store.close();
    throw error;
  }
}

interface CapabilityParts {
  config: GatewayConfig;
  store: Store;
  auth: Auth;
  validators: Record<FhirVersion, Validator>;
  logger: Logger;
  directory: Directory;
}

/**
 * What the gateway does, in the order it serves and starts them. Each follows the changes of those after it, inside
 * their transactions: subscriptions turn board and Task changes into events, capacity counts accepted transfers.
 */
function createCapabilities({ config, store, auth, validators, logger, directory }: CapabilityParts): Capability[] {
  const subscriptions = createSubscriptions({ config, store, registry: auth.registry, tokens: auth.client, availability: new StoredReportEgress(), logger });
  const capacity = createCapacity({ config, store, client: auth.client, publishers: auth.registry, onBoardChange: (change, tx) => subscriptions.onCapacityChange(change, tx), logger });
  const transfer = createTransfer({
    store,
    auth,
    validators,
    onTaskStatusChange: async (change, tx) => {
      await capacity.onTaskStatusChange(change, tx);
      await subscriptions.onTaskStatusChange(change, tx);
    },
  });
  const desk = createDesk({ config, store, coordination: capacity.coordination, auditor: auth.auditor, askCoordinationPoint: capacity.askCoordinationPoint, logger });
  return [directory.capability, transfer, capacity, subscriptions, desk];
}

function retentionOf(config: GatewayConfig): Retention {
  return {
    deliveredOutboxHours: config.outbox?.deliveredRetentionHours ?? DEFAULT_RETENTION.deliveredOutboxHours,
    subscriptionEventHours: config.subscriptions?.eventRetentionHours ?? DEFAULT_RETENTION.subscriptionEventHours,
    audit: config.audit,
  };
}

async function createValidators(config: GatewayConfig) {
  const profileFolders = config.profiles.folders;
  const [r4, stu3] = await Promise.all((['r4', 'stu3'] as FhirVersion[]).map((version) => createValidator({ version, profileFolders, unknownExtensions: 'allow' })));
  return { r4, stu3 };
}

/** Unless told otherwise, development mode (generated keys, demo organisation) answers on loopback only; production on every interface. */
function listenHost(config: GatewayConfig): string | undefined {
  return config.listenHost ?? (config.mode === 'development' ? '127.0.0.1' : undefined);
}

/**
 * Idle keep-alive connections are closed by the client or the ingress, never by the gateway first: with Node's 5 s the
 * gateway could close a connection just as a client sent its next request on it (ECONNRESET at the client, a 502 at an
 * ingress whose idle timeout is the common 60 s). Clients (fetch: 4 s) and ingresses then always close first.
 */
function keepIdleConnectionsLonger(server: http.Server): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}

function listen(server: http.Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Port 0 asks for any free port; a public base URL written with `:0` (development, tests) then gets the real one. */
function withBoundPort(publicBaseUrl: string, port: number): string {
  const url = new URL(publicBaseUrl);
  if (url.port !== '0') return publicBaseUrl;
  url.port = String(port);
  return url.toString().replace(/\/$/, '');
}

/** Requests in flight finish, then background work (the outbox dispatcher's current round), then the store closes. */
async function shutDown(server: http.Server, stopWork: () => Promise<void>, store: { close(): Promise<void> }, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cutOff = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(cutOff);
  await stopWork();
  await store.close();
}

/**
 * A development gateway leaves where it listens in its data folder, so that `npm run token` finds it whatever PORT it
 * was started with; production leaves nothing there.
 */
function announceListening(gateway: Gateway): { remove(): void } {
  if (gateway.config.mode !== 'development') return { remove: () => undefined };
  const file = listeningFile(gateway.config.dataDir);
  writeFileSync(file, JSON.stringify({ publicBaseUrl: gateway.config.publicBaseUrl, pid: process.pid }));
  return { remove: () => rmSync(file, { force: true }) };
}

async function main(): Promise<void> {
  let config: GatewayConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const logger = createLogger(undefined, wantsReadableLogs(config.mode));
  const gateway = await startGateway(config, { logger });
  const listening = announceListening(gateway);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.close().then(
      () => {
        listening.remove();
        logger.info('gateway stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ehrPrivateKeyFile } from '../../src/auth/keyFiles.js';
import { clientCredentialsForm, signAssertion } from '../../src/auth/signAssertion.js';
import { parseConfig, type GatewayConfig, type Role } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { fixtureFolder } from '../fixtures.js';
import { eventually } from './eventually.js';
import { removeFolder, temporaryFolder } from './folders.js';
import { hostedOrganization, trustedOrganization, type Party } from './parties.js';

/**
 * The one place tests start gateways: a development gateway with generated keys (`startTestGateway`), gateways of
 * sites that trust each other in this process (`startSites`, `startSite`), or as processes of their own
 * (`startProcess`). Every data folder is made under the temporary folder and removed by whoever closes the gateway.
 * TEST_LOG_LEVEL=info shows the logs of gateways in this process.
 */
const testLogger = () => createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

/**
 * A development gateway: SQLite in a temporary folder, development keys generated there, one hosted organisation
 * per tenant, each with its own EHR client. Tokens come from the gateway's own token endpoint (client credentials
 * with a private-key-JWT assertion), as an EHR would get them.
 */
export interface TestGateway {
  gateway: Gateway;
  url: string;
  config: GatewayConfig;
  /** An access token of the tenant's own EHR. */
  token(tenant: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(
  tenants: string[] = ['tenant-a'],
  overrides: Record<string, unknown> = {},
  roles: Role[] = ['sender', 'receiver'],
): Promise<TestGateway> {
  const dataDir = temporaryFolder('gateway-test-');
  const config = parseConfig(
    {
      mode: 'development',
      port: 0,
      publicBaseUrl: 'http://127.0.0.1:0',
      dataDir,
      organizations: tenants.map((tenant, i) => ({
        id: tenant,
        name: `Test organisation ${tenant}`,
        ura: String(90000001 + i),
        roles,
        keys: [{ file: path.join(dataDir, 'keys', `${tenant}.private.jwk.json`) }],
        ehrClients: [{ clientId: `${tenant}-ehr`, jwksFile: path.join(dataDir, 'keys', `${tenant}-ehr.public.jwks.json`) }],
      })),
      ...overrides,
    },
    {},
    dataDir,
  );
  const gateway = await startGateway(config, { logger: testLogger() }).catch((error: unknown) => {
    removeFolder(dataDir);
    throw error;
  });
  const tokenEndpoint = `${gateway.config.publicBaseUrl}/oauth2/token`;
  return {
    gateway,
    url: gateway.url,
    config: gateway.config,
    token: (tenant) => developmentEhrToken(gateway.config, tenant, tokenEndpoint),
    async close() {
      await gateway.close();
      removeFolder(dataDir);
    },
  };
}

/** The tenant's EHR token, signed with the EHR key the development gateway generated. */
async function developmentEhrToken(config: GatewayConfig, tenant: string, tokenEndpoint: string): Promise<string> {
  const client = config.organizations.find((organization) => organization.id === tenant)?.ehrClients[0];
  if (!client) throw new Error(`no EHR client for tenant ${tenant}`);
  const assertion = await signAssertion(client.clientId, JSON.parse(readFileSync(ehrPrivateKeyFile(client), 'utf8')), tokenEndpoint);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: clientCredentialsForm(assertion),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A gateway site: where it listens and whom it hosts. */
export interface Site {
  url: string;
  port: number;
  dataDir: string;
  hosts: { party: Party; roles: Role[] }[];
}

/** A site on a free loopback port with a fresh data folder (removed by `startSites`' close, else by the caller). */
export async function newSite(hosts: Site['hosts'], prefix = 'gateway-'): Promise<Site> {
  const port = await freePort();
  return { url: `http://127.0.0.1:${port}`, port, dataDir: temporaryFolder(prefix), hosts };
}

/** The eOverdracht endpoints of the gateway at `url`, as its partners configure them: its authorization server by its issuer (RFC 8414), so tokens are DPoP-bound. */
export function eOverdrachtEndpoints(url: string): Record<string, string> {
  return { authorizationServer: url, oauth: `${url}/oauth2/token`, fhir: `${url}/fhir/stu3`, notification: `${url}/eoverdracht/notification/Task` };
}

/** The raw configuration (GATEWAY_CONFIG) of a site that trusts the parties of the other sites. */
export async function siteConfig(site: Site, others: Site[]): Promise<Record<string, unknown>> {
  return {
    mode: 'production',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    profiles: { folders: [path.join(fixtureFolder('eoverdracht-stu3'), 'profiles')] },
    organizations: await Promise.all(site.hosts.map(({ party: p, roles }) => hostedOrganization(p, roles))),
    trusted: await Promise.all(others.flatMap((other) => other.hosts.map(({ party: p }) => trustedOrganization(p, eOverdrachtEndpoints(other.url))))),
  };
}

/** Starts a gateway in this process from its raw configuration (relative paths from the site's folder). */
export function startSite(site: Pick<Site, 'dataDir'>, raw: Record<string, unknown>): Promise<Gateway> {
  return startGateway(parseConfig(raw, {}, site.dataDir), { logger: testLogger() });
}

export interface RunningSites {
  gateways: Gateway[];
  /** Stops the gateways and removes the sites' data folders. */
  close(): Promise<void>;
}

/**
 * The gateways of sites that trust each other (`siteConfig`), started together in this process. `configure`
 * changes a site's configuration (e.g. subscriptions, a database, other endpoints) before it starts.
 */
export async function startSites(
  sites: Site[],
  configure: (raw: Record<string, unknown>) => Record<string, unknown> = (raw) => raw,
): Promise<RunningSites> {
  const started = await Promise.allSettled(
    sites.map(async (site) => startSite(site, configure(await siteConfig(site, sites.filter((other) => other !== site))))),
  );
  const gateways = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const close = async () => {
    await Promise.all(gateways.map((gateway) => gateway.close()));
    for (const site of sites) removeFolder(site.dataDir);
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { gateways, close };
}

/**
 * A gateway process as the multi-process tests start it: under the 256 MB heap bound the README's evidence runs with,
 * so that several at once (two jest workers, each starting up to three) stay within the test run's memory.
 */
const GATEWAY_PROCESS = ['--max-old-space-size=256', '--import', 'tsx', 'src/main.ts'];

/**
 * Starts the gateway of a site as its own process (`node src/main.ts`, configured by `config.json` in its data
 * folder, logging to `gateway.log` there) and waits until it is ready. `nodeArguments` replace the default
 * `GATEWAY_PROCESS` (e.g. a compiled `main.js`).
 */
export async function startProcess(site: Pick<Site, 'url' | 'dataDir'>, nodeArguments = GATEWAY_PROCESS): Promise<ChildProcess> {
  const log = openSync(path.join(site.dataDir, 'gateway.log'), 'a');
  const child = spawn(process.execPath, nodeArguments, {
    env: { ...process.env, GATEWAY_CONFIG: path.join(site.dataDir, 'config.json'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  try {
    await eventually(`${site.url} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}; see ${site.dataDir}/gateway.log`);
      const ready = await fetch(`${site.url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return ready?.ok ? true : undefined;
    }, 180_000); // tsx compiles the whole tree at start: on a loaded 2-core machine that alone took over a minute
  } catch (error) {
    // A gateway that never became ready must not outlive the caller.
    child.kill('SIGKILL');
    throw error;
  }
  return child;
}

/** Stops a gateway process gracefully and waits until it has exited. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

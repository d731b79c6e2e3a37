import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ehrPrivateKeyFile } from '../../src/auth/keyFiles.js';
import { clientCredentialsForm, signAssertion } from '../../src/auth/signAssertion.js';
import { parseConfig, type GatewayConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startGateway, type Gateway } from '../../src/main.js';

/**
 * A real gateway for tests: SQLite in a temporary folder, development keys generated there, one hosted
 * organisation per tenant, each with its own EHR client. Tokens come from the gateway's own token endpoint
 * (client credentials with a private-key-JWT assertion), as an EHR would get them. TEST_LOG_LEVEL=info shows its logs.
 */
export interface TestGateway {
  gateway: Gateway;
  url: string;
  config: GatewayConfig;
  /** An access token of the tenant's own EHR. */
  token(tenant: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestGateway(tenants: string[] = ['tenant-a'], overrides: Record<string, unknown> = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-test-'));
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
        roles: ['sender', 'receiver'],
        keys: [{ file: path.join(dataDir, 'keys', `${tenant}.private.jwk.json`) }],
        ehrClients: [{ clientId: `${tenant}-ehr`, jwksFile: path.join(dataDir, 'keys', `${tenant}-ehr.public.jwks.json`) }],
      })),
      ...overrides,
    },
    {},
    dataDir,
  );
  const gateway = await startGateway(config, { logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent') });
  const tokenEndpoint = `${gateway.config.publicBaseUrl}/oauth2/token`;
  return {
    gateway,
    url: gateway.url,
    config: gateway.config,
    token: (tenant) => ehrToken(gateway.config, tenant, tokenEndpoint),
    async close() {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function ehrToken(config: GatewayConfig, tenant: string, tokenEndpoint: string): Promise<string> {
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

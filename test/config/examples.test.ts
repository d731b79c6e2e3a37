import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { organizationDid } from '../../src/auth/did.js';
import { loadConfig, type GatewayConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startGateway } from '../../src/main.js';

/** examples/region: a small region's four gateways (hospital, two providers, coordination point), as operators write them. */
const REGION = path.resolve('examples/region');
const files = readdirSync(REGION).filter((file) => file.endsWith('.json'));
const configs = new Map(files.map((file) => [file, loadConfig({ GATEWAY_CONFIG: path.join(REGION, file) })]));
const hostOf = (id: string) => [...configs.values()].find((config) => config.organizations.some((organization) => organization.id === id));

const temporary = mkdtempSync(path.join(tmpdir(), 'examples-test-'));
afterAll(() => rmSync(temporary, { recursive: true, force: true }));

describe('the example region', () => {
  it('has a hospital, two providers and a coordination point, each a valid configuration', () => {
    const roles = [...configs.values()].flatMap((config) => config.organizations.flatMap((organization) => organization.roles)).sort();
    expect(roles).toEqual(['coordination-point', 'receiver', 'receiver', 'sender']);
  });

  it.each(files)('%s trusts each partner as that partner publishes itself, and is trusted back', (file) => {
    const config = configs.get(file) as GatewayConfig;
    for (const partner of config.trusted) {
      const host = hostOf(partner.id);
      const published = host?.organizations.find((organization) => organization.id === partner.id);
      expect({ name: partner.name, ura: partner.ura }).toEqual({ name: published?.name, ura: published?.ura });
      expect(partner.didWeb).toBe(organizationDid(partner.id, host?.publicBaseUrl as string));
      for (const endpoint of Object.values(partner.endpoints)) expect(endpoint.startsWith(`${host?.publicBaseUrl}/`)).toBe(true);
      const trustedBack = host?.trusted.map((organization) => organization.id);
      for (const own of config.organizations) expect(trustedBack).toContain(own.id);
    }
  });

  it('starts a gateway from each file once `npm run keys` has made its keys', async () => {
    cpSync(REGION, temporary, { recursive: true });
    execFileSync('npm', ['run', '-s', 'keys', '--', ...files.map((file) => path.join(temporary, file))], { encoding: 'utf8' });
    for (const file of files) {
      const folder = path.join(temporary, path.basename(file, '.json'));
      // The file as written, but on this machine: its own data folder, SQLite (DATABASE_URL empty) instead of the region's database, any port.
      const config = loadConfig({ GATEWAY_CONFIG: path.join(temporary, file), DATA_DIR: folder, DATABASE_URL: '', PORT: '0' });
      const gateway = await startGateway(config, { logger: createLogger('silent') });
      try {
        const organization = config.organizations[0];
        const did = await fetch(`${gateway.url}/org/${organization.id}/did.json`);
        expect(did.status).toBe(200);
        expect(((await did.json()) as { id: string }).id).toBe(organizationDid(organization.id, config.publicBaseUrl));
      } finally {
        await gateway.close();
      }
    }
  }, 120_000);
});

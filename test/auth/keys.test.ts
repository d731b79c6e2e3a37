import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadNutsCredentials } from '../../src/auth/credentials/organizationCredentials.js';
import { importSigningKey } from '../../src/auth/jwk.js';
import { ehrPrivateKeyFile } from '../../src/auth/keyFiles.js';
import { createTrustRegistry } from '../../src/auth/trust.js';
import { loadConfig, parseConfig } from '../../src/config/config.js';
import { temporaryFolder } from '../harness/folders.js';

describe('key files', () => {
  it('generates the demo keys on first start in development mode, and reuses them afterwards', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const config = loadConfig({ DATA_DIR: dataDir });
    const first = await createTrustRegistry(config);
    const demo = first.hosted('demo')!;
    expect(demo.signing.kid).toMatch(/^demo#[\w-]{43}$/);
    expect(demo.signing.alg).toBe('ES256');
    const keyFile = path.join(dataDir, 'keys', 'demo.private.jwk.json');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    const client = config.organizations[0]!.ehrClients[0]!;
    const privateFile = ehrPrivateKeyFile(client);
    expect(privateFile).toBe(path.join(dataDir, 'keys', 'demo-ehr.private.jwk.json'));
    const jwks = JSON.parse(readFileSync(client.jwksFile!, 'utf8')) as { keys: Record<string, unknown>[] };
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const privateJwk = JSON.parse(readFileSync(privateFile, 'utf8'));
    expect(privateJwk.kid).toBe(jwks.keys[0]!.kid);
    expect((await importSigningKey('demo-ehr', privateJwk)).kid).toBe(privateJwk.kid);
    expect(first.ehrClient('demo-ehr')?.tenant).toBe('demo');

    const second = await createTrustRegistry(loadConfig({ DATA_DIR: dataDir }));
    expect(second.hosted('demo')!.signing.kid).toBe(demo.signing.kid);
  });

  it('never generates keys in production: a missing key file is an error naming the file', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const config = parseConfig({
      publicBaseUrl: 'https://gw.test',
      organizations: [{ id: 'org', name: 'Org', roles: ['sender'], keys: [{ file: 'keys/org.jwk.json' }] }],
    }, {}, dataDir);
    await expect(createTrustRegistry(config)).rejects.toThrow(/cannot read private key file '.*keys\/org\.jwk\.json'/);
  });

  it('refuses a hosted organisation without keys, or with a public key where a private one belongs', async () => {
    const base = { publicBaseUrl: 'https://gw.test', organizations: [{ id: 'org', name: 'Org', roles: ['sender'] }] };
    await expect(createTrustRegistry(parseConfig(base))).rejects.toThrow(/has no keys/);
    const publicOnly = { kty: 'EC', crv: 'P-256', x: '04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY', y: 'UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw' };
    const config = parseConfig({ ...base, organizations: [{ ...base.organizations[0], keys: [{ jwk: publicOnly }] }] });
    await expect(createTrustRegistry(config)).rejects.toThrow(/not a private key/);
  });

  it('refuses a trusted JWKS that carries private key material or a symmetric key', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const hosted = loadConfig({ DATA_DIR: dataDir });
    const leaked = { kty: 'EC', crv: 'P-256', x: '04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY', y: 'UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw', d: 'yy49oPcINGK2ps0Lmtel4Cc0Kw5ZZ6AWsF4dwzwKzaE' };
    const trusted = (keys: object[]) => ({ ...hosted, trusted: [{ id: 't', name: 'T', jwks: { keys: keys as Record<string, unknown>[] }, endpoints: {} }] });
    await expect(createTrustRegistry(trusted([leaked]))).rejects.toThrow(/secret key material/);
    await expect(createTrustRegistry(trusted([{ kty: 'oct', k: 'AAAA' }]))).rejects.toThrow(/secret key material/);
  });
});

describe('the key of the Dezi id_tokens at rest', () => {
  const dezi = { issuers: ['https://auth.dezi.test'], jwks: { keys: [] } };
  const raw = (mode: string, nuts: Record<string, unknown> = { dezi }) => ({
    mode,
    publicBaseUrl: 'https://gw.test',
    organizations: [{ id: 'org', name: 'Org', roles: ['receiver'], keys: [{ jwk: {} }] }],
    nuts,
  });

  it('is generated into the data folder in development mode (0600), and the same key is read back on the next start', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const config = parseConfig({ ...raw('development'), dataDir }, {}, dataDir);
    const file = path.join(dataDir, 'keys', 'dezi-encryption.jwk.json');
    expect(config.nuts.dezi?.encryptionKeyFile).toBe(file);
    const owner = { tenant: 'org', person: '900000123' };
    const sealed = (await loadNutsCredentials(config, [], 0)).deziSealer!.seal('a.b.c', owner, 1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ kty: 'oct', alg: 'A256GCM' });
    expect((await loadNutsCredentials(config, [], 0)).deziSealer!.open(sealed, owner)).toBe('a.b.c');
  });

  it('must be configured in production when Dezi is (encryptionKeyFile, or env DEZI_ENCRYPTION_KEY_FILE), and only then', () => {
    expect(() => parseConfig(raw('production'))).toThrow(/nuts.dezi needs encryptionKeyFile \(or env DEZI_ENCRYPTION_KEY_FILE\) in production/);
    expect(parseConfig(raw('production', {})).nuts).not.toHaveProperty('dezi');
    const configured = parseConfig(raw('production', { dezi: { ...dezi, encryptionKeyFile: 'secrets/dezi.jwk.json' } }), {}, '/etc/gw');
    expect(configured.nuts.dezi?.encryptionKeyFile).toBe('/etc/gw/secrets/dezi.jwk.json');
    const fromEnv = parseConfig(raw('production', { dezi: { ...dezi, encryptionKeyFile: 'secrets/dezi.jwk.json' } }), { DEZI_ENCRYPTION_KEY_FILE: '/run/secrets/dezi.jwk.json' }, '/etc/gw');
    expect(fromEnv.nuts.dezi?.encryptionKeyFile).toBe('/run/secrets/dezi.jwk.json');
  });

  it('is never generated in production: a missing file, or one without a 256-bit key, is a start-up error naming it', async () => {
    const dataDir = temporaryFolder('auth-test-');
    const file = path.join(dataDir, 'dezi.jwk.json');
    const config = parseConfig(raw('production', { dezi: { ...dezi, encryptionKeyFile: file } }), {}, dataDir);
    await expect(loadNutsCredentials(config, [], 0)).rejects.toThrow(/cannot read encryption key file '.*dezi\.jwk\.json'/);
    writeFileSync(file, JSON.stringify({ kty: 'oct', alg: 'A256GCM', k: Buffer.alloc(16).toString('base64url') }));
    await expect(loadNutsCredentials(config, [], 0)).rejects.toThrow(/holds no AES-256-GCM key/);
  });
});

/**
 * `npm run keys -- <config.json>...`: makes the key files a configuration names and that do not exist yet: each
 * hosted organisation's private signing key (ES256 JWK) and, for a trial, each EHR client's key pair (in production
 * the EHR makes its own pair and hands over only the public JWKS file), and with `nuts.dezi` the AES-256-GCM key the
 * Dezi id_tokens EHRs hand over are kept encrypted with. Existing files are never overwritten.
 * Prints, per organisation, the did:web its partners configure under `trusted[].didWeb`.
 */
import { existsSync } from 'node:fs';
import { organizationDid } from '../src/auth/did.js';
import { loadEhrJwks, loadEncryptionKey, loadPrivateJwk } from '../src/auth/keyFiles.js';
import { ConfigError, loadConfig } from '../src/config/config.js';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npm run keys -- <config.json>...');
  process.exit(2);
}

for (const file of files) {
  try {
    const config = loadConfig({ ...process.env, GATEWAY_CONFIG: file });
    for (const organization of config.organizations) {
      for (const key of organization.keys) await makeMissing(key.file, () => loadPrivateJwk(key, 'development'));
      for (const client of organization.ehrClients) await makeMissing(client.jwksFile, () => loadEhrJwks(client, 'development'), "with the EHR's private key beside it");
      console.log(`${organization.id}: ${organizationDid(organization.id, config.publicBaseUrl)}`);
    }
    const dezi = config.nuts.dezi;
    if (dezi) await makeMissing(dezi.encryptionKeyFile, async () => loadEncryptionKey(dezi.encryptionKeyFile, 'development'), '(the Dezi id_tokens at rest)');
  } catch (error) {
    console.error(`npm run keys: ${error instanceof ConfigError ? error.message : `${file}: ${(error as Error).message}`}`);
    process.exitCode = 1;
  }
}

/** Generates through the development-mode loaders, which write a missing file once; says which files it wrote. */
async function makeMissing(file: string | undefined, generate: () => Promise<unknown>, besides = ''): Promise<void> {
  if (file === undefined || existsSync(file)) return;
  await generate();
  console.log(`  wrote ${file}${besides && ` ${besides}`}`);
}

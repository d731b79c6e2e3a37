import { existsSync, readFileSync } from 'node:fs';
import { ehrPrivateKeyFile } from '../src/auth/keyFiles.js';
import { clientCredentialsForm, signAssertion } from '../src/auth/signAssertion.js';
import { listeningFile, type EhrClient, type GatewayConfig } from '../src/config/config.js';

/**
 * An access token for a hosted organisation's own EHR from a development gateway: a private-key-JWT client
 * assertion (RFC 7523) signed with the EHR key `npm start` generated, exchanged at the token endpoint. Used by
 * `npm run token` and by the conformance runner's `--as`.
 */

/** The base URL the running development gateway wrote into its data folder, if it did and still runs. */
export function runningBaseUrl(gateway: GatewayConfig): string | undefined {
  const file = listeningFile(gateway.dataDir);
  if (!existsSync(file)) return undefined;
  const { publicBaseUrl, pid } = JSON.parse(readFileSync(file, 'utf8')) as { publicBaseUrl?: string; pid?: number };
  return pid !== undefined && isRunning(pid) ? publicBaseUrl : undefined;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The EHR client by its id, or the first of an organisation (by id), or the configuration's first. */
export function ehrClient(config: GatewayConfig, choice: { clientId?: string; organization?: string }): EhrClient {
  if (config.mode !== 'development') throw new Error('only in development mode; production EHRs sign their own client assertions (see docs/auth.md)');
  const organizations = choice.organization ? config.organizations.filter((organization) => organization.id === choice.organization) : config.organizations;
  if (organizations.length === 0) throw new Error(`no hosted organisation '${choice.organization}' in the configuration`);
  const clients = organizations.flatMap((organization) => organization.ehrClients);
  const client = choice.clientId ? clients.find((candidate) => candidate.clientId === choice.clientId) : clients[0];
  if (!client) throw new Error(`no EHR client ${choice.clientId ? `'${choice.clientId}' ` : ''}in the configuration`);
  return client;
}

export async function ehrAccessToken(client: EhrClient, baseUrl: string): Promise<string> {
  const keyFile = ehrPrivateKeyFile(client);
  if (!existsSync(keyFile)) throw new Error(`no key at ${keyFile}: start the gateway once (npm start) to generate the development keys`);
  const tokenEndpoint = `${baseUrl.replace(/\/$/, '')}/oauth2/token`;
  const assertion = await signAssertion(client.clientId, JSON.parse(readFileSync(keyFile, 'utf8')), tokenEndpoint);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: clientCredentialsForm(assertion),
  }).catch((error: Error) => {
    throw new Error(`cannot reach ${tokenEndpoint}: ${error.message} (is the gateway running?)`);
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) throw new Error(`${tokenEndpoint} answered ${response.status}: ${body.error ?? ''} ${body.error_description ?? ''}`);
  return body.access_token;
}

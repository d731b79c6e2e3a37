/**
 * `npm run token`: a bearer token for the development tenant's own EHR, so a newcomer can call the API at once.
 * Signs a private-key-JWT client assertion (RFC 7523) with the demo EHR key that `npm start` generated under
 * ./data/keys/, exchanges it at the running gateway's token endpoint and prints the access token.
 *
 *   npm run -s token                       # the token
 *   npm run -s token -- --header           # Authorization: Bearer <token>
 *   curl -H "$(npm run -s token -- --header)" http://localhost:8080/fhir/Patient
 *
 * Options: --url <gateway base URL> (default: where the development gateway said it listens, whatever its PORT, else
 * the config's publicBaseUrl), --client <EHR client id>.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ehrPrivateKeyFile } from '../src/auth/keyFiles.js';
import { clientCredentialsForm, signAssertion } from '../src/auth/signAssertion.js';
import { listeningFile, loadConfig, type GatewayConfig } from '../src/config/config.js';

function fail(message: string): never {
  console.error(`npm run token: ${message}`);
  process.exit(1);
}

/** The base URL the running development gateway wrote into its data folder, if it did and still runs. */
function runningBaseUrl(gateway: GatewayConfig): string | undefined {
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

const { values } = parseArgs({ options: { url: { type: 'string' }, client: { type: 'string' }, header: { type: 'boolean' } } });
let config: GatewayConfig;
try {
  config = loadConfig();
} catch (error) {
  fail((error as Error).message);
}
if (config.mode !== 'development') fail('only in development mode; production EHRs sign their own client assertions (see docs/auth.md)');

const clients = config.organizations.flatMap((organization) => organization.ehrClients);
const client = values.client ? clients.find((candidate) => candidate.clientId === values.client) : clients[0];
if (!client) fail(`no EHR client ${values.client ? `'${values.client}'` : ''} in the configuration`);
const keyFile = ehrPrivateKeyFile(client);
if (!existsSync(keyFile)) fail(`no key at ${keyFile}: start the gateway once (npm start) to generate the development keys`);

const tokenEndpoint = `${(values.url ?? runningBaseUrl(config) ?? config.publicBaseUrl).replace(/\/$/, '')}/oauth2/token`;
const assertion = await signAssertion(client.clientId, JSON.parse(readFileSync(keyFile, 'utf8')), tokenEndpoint);

const response = await fetch(tokenEndpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: clientCredentialsForm(assertion),
}).catch((error: Error) => fail(`cannot reach ${tokenEndpoint}: ${error.message} (is the gateway running?)`));
const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
if (!response.ok || !body.access_token) fail(`${tokenEndpoint} answered ${response.status}: ${body.error ?? ''} ${body.error_description ?? ''}`);
console.log(values.header ? `Authorization: Bearer ${body.access_token}` : body.access_token);

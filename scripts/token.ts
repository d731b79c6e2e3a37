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
import { parseArgs } from 'node:util';
import { loadConfig, type GatewayConfig } from '../src/config/config.js';
import { ehrAccessToken, ehrClient, runningBaseUrl } from './ehr-token.js';

function fail(message: string): never {
  console.error(`npm run token: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({ options: { url: { type: 'string' }, client: { type: 'string' }, header: { type: 'boolean' } } });
let config: GatewayConfig;
try {
  config = loadConfig();
} catch (error) {
  fail((error as Error).message);
}
try {
  const client = ehrClient(config, { clientId: values.client });
  const token = await ehrAccessToken(client, values.url ?? runningBaseUrl(config) ?? config.publicBaseUrl);
  console.log(values.header ? `Authorization: Bearer ${token}` : token);
} catch (error) {
  fail((error as Error).message);
}

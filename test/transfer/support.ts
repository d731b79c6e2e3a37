import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { JWK } from 'jose';
import { importSigningKey } from '../../src/auth/jwk.js';
import { generatePrivateJwk } from '../../src/auth/keyFiles.js';
import { signAssertion } from '../../src/auth/signAssertion.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION, JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import type { GatewayConfig, Role } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import { openStore } from '../../src/store/index.js';
import type { Store, TransferRecord } from '../../src/store/repository.js';
import { keyOf, relativeReferences, rewriteReferences } from '../../src/transfer/references.js';
import { renderTouchstoneDates } from '../validation/support.js';
import { fixtureFolder } from '../fixtures.js';

/**
 * Transfer tests across real gateways: organisations with their own keys and EHR clients, gateway configurations
 * that trust each other, the Nictiz eOverdracht examples as documents, and the EHR's calls over HTTP.
 */
export const EOVERDRACHT = fixtureFolder('eoverdracht-stu3');
const EXAMPLES = path.join(EOVERDRACHT, 'examples/patient-1.5');

/** The Patient 1.5 examples as STU3 JSON, dates filled in; the example Task is left out (the gateway makes Tasks). */
export function nictizExamples(): Resource[] {
  return readdirSync(EXAMPLES)
    .filter((file) => file.endsWith('.xml'))
    .map((file) => parseXml('stu3', renderTouchstoneDates(readFileSync(path.join(EXAMPLES, file), 'utf8'))) as Resource)
    .filter((resource) => resource.resourceType !== 'Task');
}

export const ADVANCE_NOTICE = 'Composition/eOverdracht-AdvanceNotice-eov-test-1-5-01';
export const NURSING_HANDOFF = 'Composition/eOverdracht-NursingHandoff-Adults-eov-test-1-5-01';

/** The Composition and everything it references among the examples, transitively. */
export function documentOf(examples: Resource[], composition: string): Resource[] {
  const byKey = new Map(examples.map((resource) => [keyOf(resource), resource]));
  const found = new Map<string, Resource>();
  const queue = [composition];
  while (queue.length > 0) {
    const key = queue.shift()!;
    const resource = byKey.get(key);
    if (!resource || found.has(key)) continue;
    found.set(key, resource);
    queue.push(...relativeReferences(resource));
  }
  return [...found.values()];
}

/** The examples as another patient's transfer: every id gets the suffix, every reference between them too. */
export function renamed(resources: Resource[], suffix: string): Resource[] {
  const keys = new Set(resources.map(keyOf));
  const rename = (reference: string) => (keys.has(reference) ? `${reference}-${suffix}` : reference);
  return resources.map((resource) => ({ ...rewriteReferences(resource, rename), id: `${resource.id}-${suffix}` }));
}

/** A transaction Bundle that PUTs each resource under its own id (so the examples' references hold). */
export function transaction(resources: Resource[]): Resource {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ resource, request: { method: 'PUT', url: keyOf(resource) } })),
  };
}

export interface Party {
  id: string;
  name: string;
  ura: string;
  jwk: JWK;
  ehr: { clientId: string; jwk: JWK };
}

export async function party(id: string, name: string, ura: string): Promise<Party> {
  return { id, name, ura, jwk: await generatePrivateJwk(), ehr: { clientId: `${id}-ehr`, jwk: await generatePrivateJwk() } };
}

const publicOf = async (owner: string, jwk: JWK) => (await importSigningKey(owner, jwk)).publicJwk;

/** A gateway site: where it listens and whom it hosts. */
export interface Site {
  url: string;
  port: number;
  dataDir: string;
  hosts: { party: Party; roles: Role[] }[];
}

/** A site on a free loopback port with a fresh data folder (the caller removes `dataDir` when done). */
export async function newSite(hosts: Site['hosts'], prefix = 'gateway-'): Promise<Site> {
  const port = await freePort();
  return { url: `http://127.0.0.1:${port}`, port, dataDir: mkdtempSync(path.join(tmpdir(), prefix)), hosts };
}

/** `organizations[]` configuration of a party hosted on a gateway: its signing key and its own EHR as a client. */
export async function hostedOrganization(p: Party, roles: Role[]): Promise<Record<string, unknown>> {
  return {
    id: p.id,
    name: p.name,
    ura: p.ura,
    roles,
    keys: [{ jwk: p.jwk }],
    ehrClients: [{ clientId: p.ehr.clientId, jwks: { keys: [await publicOf(p.ehr.clientId, p.ehr.jwk)] } }],
  };
}

/** `trusted[]` configuration of a party hosted elsewhere: its public key and where it is reached. */
export async function trustedOrganization(p: Party, endpoints: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return { id: p.id, name: p.name, ura: p.ura, jwks: { keys: [await publicOf(p.id, p.jwk)] }, endpoints };
}

/** The eOverdracht endpoints of the gateway at `url`, as its partners configure them. */
export function eOverdrachtEndpoints(url: string): Record<string, string> {
  return { oauth: `${url}/oauth2/token`, fhir: `${url}/fhir/stu3`, notification: `${url}/eoverdracht/notification/Task` };
}

/** The raw configuration (GATEWAY_CONFIG) of a site that trusts the parties of the other sites. */
export async function siteConfig(site: Site, others: Site[]): Promise<Record<string, unknown>> {
  return {
    mode: 'production',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    profiles: { folders: [path.join(EOVERDRACHT, 'profiles')] },
    organizations: await Promise.all(site.hosts.map(({ party: p, roles }) => hostedOrganization(p, roles))),
    trusted: await Promise.all(others.flatMap((other) => other.hosts.map(({ party: p }) => trustedOrganization(p, eOverdrachtEndpoints(other.url))))),
  };
}

/**
 * Starts the gateway of a site as its own process (`node src/main.ts`, configured by `config.json` in its data
 * folder, logging to `gateway.log` there) and waits until it is ready. `nodeArguments` replace the default
 * `--import tsx src/main.ts` (e.g. a compiled `main.js` with a heap bound).
 */
export async function startProcess(site: Pick<Site, 'url' | 'dataDir'>, nodeArguments = ['--import', 'tsx', 'src/main.ts']): Promise<ChildProcess> {
  const log = openSync(path.join(site.dataDir, 'gateway.log'), 'a');
  const child = spawn(process.execPath, nodeArguments, {
    env: { ...process.env, GATEWAY_CONFIG: path.join(site.dataDir, 'config.json'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', log, log],
  });
  try {
    await eventually(`${site.url} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}; see ${site.dataDir}/gateway.log`);
      const ready = await fetch(`${site.url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return ready?.ok ? true : undefined;
    }, 60_000);
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

async function tokenRequest(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A JWT signed by the party (issuer), for `audience`: a grant or client assertion, as its gateway or EHR signs it. */
export function signed(signer: string, jwk: JWK, claims: Record<string, unknown>, audience: string, subject: string): Promise<string> {
  return signAssertion(signer, jwk, audience, { subject, claims });
}

/** An access token of the party's own EHR at its gateway (client credentials, private-key JWT). */
export async function ehrToken(url: string, p: Party): Promise<string> {
  const assertion = await signed(p.ehr.clientId, p.ehr.jwk, {}, `${url}/oauth2/token`, p.ehr.clientId);
  const { status, body } = await tokenRequest(url, { grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: assertion });
  if (status !== 200) throw new Error(`EHR token refused: ${status} ${JSON.stringify(body)}`);
  return body.access_token as string;
}

/** The Nuts-style grant a remote organisation signs, as its gateway would: answers the token endpoint's JSON. */
export async function organizationToken(url: string, requester: Party, authorizer: string, purposeOfUse: string, vcs: string[]) {
  const assertion = await signed(requester.id, requester.jwk, { purposeOfUse, vcs }, `${url}/oauth2/token`, authorizer);
  return tokenRequest(url, { grant_type: JWT_BEARER_GRANT, assertion });
}

export interface Answer {
  status: number;
  body: Resource & Record<string, unknown>;
}

export async function fhirCall(url: string, token: string, method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

/** Polls until `probe` gives a value (the workflow is asynchronous: notifications, pulls and answers go through outboxes). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The Tasks in a tenant (search through its EHR), by status. */
export async function tasks(url: string, token: string, base = '/fhir/stu3'): Promise<Resource[]> {
  const { status, body } = await fhirCall(url, token, 'GET', `${base}/Task`);
  if (status !== 200) throw new Error(`Task search answered ${status}: ${JSON.stringify(body)}`);
  return ((body.entry as { resource: Resource }[] | undefined) ?? []).map((entry) => entry.resource);
}

export const withStatus = (status: string, list: Resource[]) => list.filter((task) => task.status === status);

/** The resources of the named parameters in an operation's answer (e.g. the `task`s of `$offer`). */
export const parametersNamed = (body: Resource, name: string): Resource[] =>
  ((body.parameter as { name: string; resource: Resource }[] | undefined) ?? []).filter((p) => p.name === name).map((p) => p.resource);

/** Waits until the Task at the gateway (`url`, STU3) has the status; returns it. */
export function taskWithStatus(url: string, token: string, id: string, status: string): Promise<Resource> {
  return eventually(`Task/${id} ${status} at ${url}`, async () => {
    const { body } = await fhirCall(url, token, 'GET', `/fhir/stu3/Task/${id}`);
    return body.status === status ? body : undefined;
  });
}

type Database = Pick<GatewayConfig, 'dataDir' | 'databaseUrl' | 'databaseSchema'>;

/** Reads what a gateway keeps for itself (no FHIR resource) from its database, opened beside it as a second instance. */
export async function readStoreOf<T>(database: Database, read: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ dataDir: database.dataDir, databaseUrl: database.databaseUrl, schema: database.databaseSchema });
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

/** A transfer's bookkeeping at a gateway, or undefined when it has none for the Task. */
export async function transferRecord(database: Database, tenant: string, taskId: string): Promise<TransferRecord | undefined> {
  return (await readStoreOf(database, (store) => store.transfers.find(tenant, taskId)))?.value;
}

/** The credentials (JWTs) a receiving gateway holds for a Task. */
export async function credentialsHeld(database: Database, tenant: string, taskId: string): Promise<string[]> {
  const record = await transferRecord(database, tenant, taskId);
  return [record?.taskCredentialJwt, record?.documentCredentialJwt].filter((jwt) => jwt !== undefined);
}

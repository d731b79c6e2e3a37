import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { GatewayConfig } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { parseXml } from '../../src/fhir/xml.js';
import { openStore } from '../../src/store/index.js';
import type { Store, TransferRecord } from '../../src/store/repository.js';
import { keyOf, relativeReferences, rewriteReferences } from '../../src/transfer/references.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { renderTouchstoneDates } from '../validation/support.js';
import { fixtureFolder } from '../fixtures.js';
import { fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';

/**
 * Transfer tests: the Nictiz eOverdracht examples as documents, the Tasks an EHR sees, and what a gateway keeps
 * for itself about a transfer (gateways, parties and calls are in `test/harness`).
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

/** The Tasks in a tenant (search through its EHR), by status. */
export async function tasks(url: string, token: string, base = '/fhir/stu3'): Promise<Resource[]> {
  const { status, body } = await fhirCall(url, token, 'GET', `${base}/Task`);
  if (status !== 200) throw new Error(`Task search answered ${status}: ${JSON.stringify(body)}`);
  return ((body.entry as { resource: Resource }[] | undefined) ?? []).map((entry) => entry.resource);
}

/** The resources of the named parameters in an operation's answer (e.g. the `task`s of `$offer`). */
export const parametersNamed = (body: Resource, name: string): Resource[] =>
  ((body.parameter as { name: string; resource: Resource }[] | undefined) ?? []).filter((p) => p.name === name).map((p) => p.resource);

/** The hospital EHR's `$offer` of the Nictiz advance notice to the provider with URA `receiverUra`: the sender's Task. */
export async function offerTo(url: string, token: string, receiverUra: string): Promise<Resource> {
  const offered = await fhirCall(url, token, 'POST', '/fhir/stu3/$offer', {
    resourceType: 'Parameters',
    parameter: [
      { name: 'advanceNotice', resource: transaction(documentOf(nictizExamples(), ADVANCE_NOTICE)) },
      { name: 'receiver', valueIdentifier: { system: URA_SYSTEM, value: receiverUra } },
    ],
  });
  if (offered.status !== 200) throw new Error(`$offer answered ${offered.status}: ${JSON.stringify(offered.body)}`);
  return parametersNamed(offered.body, 'task')[0]!;
}

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


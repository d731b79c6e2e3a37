import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { signAssertion } from '../../src/auth/signAssertion.js';
import { JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import type { Gateway } from '../../src/main.js';
import type { Resource } from '../../src/fhir/version.js';
import { ehrDriver, resourcesToLoad } from '../../scripts/conformance/ehr-driver.js';
import type { LoadedScript } from '../../scripts/conformance/model.js';
import { startPlatform, type Platform } from '../../scripts/conformance/platform.js';
import { runScript, type ScriptReport } from '../../scripts/conformance/runner.js';
import { findScripts, loadFixtures, loadScript } from '../../scripts/conformance/script-file.js';
import { profileValidation } from '../../scripts/conformance/validate.js';
import { ehrToken, fhirCall, nurseOf } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { eOverdrachtEndpoints, newSite, startSite, type Site } from '../harness/gateways.js';
import { removeFolder } from '../harness/folders.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';
import { fixtureFolder } from '../fixtures.js';

/**
 * The Nictiz eOverdracht 4.0 qualification scripts against one gateway, the runner playing the other XIS (its test
 * platform, a trusted counterparty of the gateway with keys the test generates). Sending-XIS: a small EHR driver loads
 * the scenario's data into the hospital tenant and creates the workflow Task; the gateway notifies the platform and
 * serves the receiving organisation's reads and update. Every assert of every scenario must pass, JSON and XML.
 */
const TEST = fixtureFolder('nictiz-testscripts/eOverdracht-4.0/Test');
const PROFILES = path.join(fixtureFolder('eoverdracht-stu3'), 'profiles');
const LOADED = resourcesToLoad(path.join(TEST, '_LoadResources/load-resources-purgecreateupdate-xml.xml'));
const byKey = new Map(LOADED.map((resource) => [`${resource.resourceType}/${resource.id}`, resource]));

/** The organisation a Task fixture's `owner` (or requester) names, by the identifier of the Organization it references. */
function identifierOf(reference: unknown): { system: string; value: string } {
  const organization = byKey.get((reference as { reference: string }).reference);
  return (organization?.identifier as { system: string; value: string }[])[0]!;
}

/**
 * Nictiz's nursing handoffs do not conform to the eOverdracht-NursingHandoff-Adults profile (1.0.0-rc.23) they claim:
 * those of scenarios 1.3b, 1.4b, 1.9b, 1.10b and 1.11b have no care plan section (SNOMED 773130005, required once),
 * those of 1.1b and 1.2b have it empty (FHIR's cmp-1: a section has text, entries or sections). A gateway that validates
 * what its EHR writes refuses all seven (the first test below); the scenarios run with the one defect repaired: the
 * care plan section given as text, as the profile allows (docs/conformance.md, Defects in the scripts).
 */
const CARE_PLAN = { system: 'http://snomed.info/sct', code: '773130005', display: 'Nursing care plan (record artifact)' };
const CARE_PLAN_TEXT = { status: 'additional', div: '<div xmlns="http://www.w3.org/1999/xhtml">Zorgplan: zie overdracht</div>' };
type Section = { code?: { coding?: { code?: string }[] }; text?: unknown; entry?: unknown[]; section?: unknown[] };

function withCarePlan(resource: Resource): Resource {
  if (resource.resourceType !== 'Composition') return resource;
  const sections = (resource.section as Section[]).filter((section) => !section.code?.coding?.some((coding) => coding.code === CARE_PLAN.code));
  return { ...resource, section: [...sections, { title: 'Zorgplan', code: { coding: [CARE_PLAN] }, text: CARE_PLAN_TEXT }] };
}

const taskOf = (loaded: LoadedScript) => loadFixtures(loaded).get('initial-task-fixture')!;

let platform: Platform;
let gateway: Gateway;
let site: Site;
let refused: Map<string, string>;
let hospitalEhr: () => Promise<string>;
const hospital = await party('hospital', 'AB-zkh Noord', '00000099');
/** The organisations the platform plays, by identifier value: every receiver a Sending-XIS Task names. */
const receivers = new Map<string, Party & { agb?: string }>();

const validate = profileValidation([PROFILES]);
const fhirBase = () => `${site.url}/fhir/stu3`;

/** A token of the receiving organisation the platform plays, for the sender's Task, naming its nurse (the grant its gateway would sign for her). */
async function receiverToken(receiver: Party, taskId: string): Promise<string> {
  const tokenEndpoint = eOverdrachtEndpoints(site.url).oauth;
  const assertion = await signAssertion(receiver.id, receiver.jwk, tokenEndpoint, { subject: hospital.id, claims: { purposeOfUse: 'eOverdracht-sender', vcs: [], usi: nurseOf(receiver) } });
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion, resource: `${fhirBase()}/Task/${taskId}` }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token refused: ${JSON.stringify(body)}`);
  return body.access_token;
}

beforeAll(async () => {
  platform = await startPlatform('stu3');
  for (const file of findScripts(path.join(TEST, 'Sending-XIS'))) {
    const { system, value } = identifierOf(taskOf(loadScript(file)).owner);
    if (receivers.has(value)) continue;
    const p = await party(`receiver-${value}`, `receiver ${value}`, system.endsWith('/ura') ? value : '');
    receivers.set(value, { ...p, ...(system.endsWith('/agb-z') ? { agb: value } : {}) });
  }
  site = await newSite([{ party: hospital, roles: ['sender'] }], 'nictiz-');
  const endpoints = { oauth: `${platform.base}/oauth2/token`, fhir: platform.base, notification: platform.base };
  const trusted = await Promise.all(
    [...receivers.values()].map(async (p) => {
      const { ura, ...entry } = await trustedOrganization(p, endpoints);
      return { ...entry, ...(p.ura ? { ura } : {}), ...(p.agb ? { agb: p.agb } : {}), notificationShape: 'bolt' };
    }),
  );
  gateway = await startSite(site, {
    mode: 'production',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    profiles: { folders: [PROFILES] },
    organizations: [await hostedOrganization(hospital, ['sender'])],
    trusted,
  });
  hospitalEhr = cachedToken(() => ehrToken(site.url, hospital));
  const ehr = ehrDriver(fhirBase(), 'stu3', hospitalEhr);
  refused = await ehr.load(LOADED);
  const repaired = await ehr.load([...refused.keys()].map((key) => withCarePlan(byKey.get(key)!)));
  if (repaired.size > 0) throw new Error(`repaired test data refused: ${[...repaired.values()].join('; ')}`);
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await platform?.close();
  if (site) removeFolder(site.dataDir);
});

/** An EHR token, fetched again only when 30 s old (the gateway limits token requests, as it should). */
function cachedToken(fetchToken: () => Promise<string>): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > 30_000) cached = { token: `Bearer ${await fetchToken()}`, at: Date.now() };
    return cached.token;
  };
}

function outcomes(report: ScriptReport): string[] {
  return [...report.problems, ...report.results.filter((result) => result.outcome !== 'pass' || / → [45]\d\d/.test(result.message)).map((result) => `${result.outcome} ${result.part}: ${result.label}: ${result.message}`)];
}

/** Runs a Sending-XIS script: the driver creates the Task unless the script's own setup does. */
async function runSending(file: string): Promise<ScriptReport> {
  const loaded = loadScript(file);
  const task = taskOf(loaded);
  const receiver = receivers.get(identifierOf(task.owner).value)!;
  const ehr = hospitalEhr;
  const createsTask = (loaded.script.setup?.action ?? []).some((action) => action.operation?.sourceId === 'initial-task-fixture');
  // A script whose setup creates the Task is given its id (as a tester may); otherwise the driver creates it.
  const taskId = createsTask ? `eOverdracht-Task-eov-${randomUUID().slice(0, 8)}` : await ehrDriver(fhirBase(), 'stu3', ehr).createTask(task as Resource);
  return runScript(loaded, {
    server: fhirBase(),
    format: 'json',
    variables: { 'task-id': taskId },
    validate,
    platform,
    awaitTimeoutMs: 15_000,
    authorization: ehr,
    platformAuthorization: cachedToken(() => receiverToken(receiver, taskId)),
  });
}

it("the EHR driver loads every test resource but Nictiz's seven nursing handoffs, refused for their care plan section", () => {
  const scenarios = ['1-1b', '1-2b', '1-3b', '1-4b', '1-9b', '1-10b', '1-11b'];
  expect([...refused.keys()].sort()).toEqual(scenarios.map((scenario) => `Composition/eOverdracht-NursingHandoff-Adults-eov-test-${scenario}-01`).sort());
  for (const reason of refused.values()) expect(reason).toMatch(/Slice 'Composition.section:carePlan': minimum required = 1|cmp-1/);
});

describe.each(['Sending-XIS', 'Sending-XIS-Nictiz-only'])('%s against the gateway', (folder) => {
  it.each(findScripts(path.join(TEST, folder)).map((file) => [path.basename(file), file]))('%s: every assert passes', async (_name, file) => {
    const report = await runSending(file);
    expect(outcomes(report)).toEqual([]);
    expect(report.results.filter((result) => result.kind === 'assert').length).toBeGreaterThan(0);
  }, 120_000);
});

/**
 * Receiving-XIS and Receiving-XIS-NoDocument against a second gateway that hosts the receiving organisations: the
 * platform plays the sending XIS (its simulated system holds the scenario's data, the script's setup puts the Task),
 * notifies the gateway as the sender, and checks what the gateway reads and writes back; the small receiving EHR
 * completes the local copy once the handoff has arrived.
 */
describe('the gateway as the receiving XIS', () => {
  let receiving: Gateway;
  let receivingSite: Site;
  const senders = new Map<string, Party & { agb?: string }>();
  const tenants = new Map<string, Party & { agb?: string }>();

  /** The party an Organization reference names (by its identifier), made once per `scope` and identifier. */
  async function partyFor(map: Map<string, Party & { agb?: string }>, prefix: string, reference: unknown, scope = ''): Promise<Party & { agb?: string }> {
    const { system, value } = identifierOf(reference);
    const key = `${scope}${value}`;
    if (!map.has(key)) {
      const p = await party(`${prefix}-${scope}${value}`, `${prefix} ${value}`, system.endsWith('/ura') ? value : '');
      map.set(key, { ...p, ...(system.endsWith('/agb-z') ? { agb: value } : {}) });
    }
    return map.get(key)!;
  }

  /**
   * The sending organisation of a script: one per folder, as if each folder were run on its own. A receiver pulls a
   * document once per sender (a Composition it holds is not read again), so the NoDocument run of a scenario would
   * otherwise await a read the gateway rightly does not repeat.
   */
  const senderOf = (file: string, task: Resource) => partyFor(senders, 'sender', (task.requester as { onBehalfOf: unknown }).onBehalfOf, `${path.basename(path.dirname(file))}-`);

  const receivingScripts = ['Receiving-XIS', 'Receiving-XIS-NoDocument'].flatMap((folder) => findScripts(path.join(TEST, folder)).map((file) => [`${folder}/${path.basename(file)}`, file]));

  beforeAll(async () => {
    for (const [, file] of receivingScripts) {
      const task = taskOf(loadScript(file!));
      await senderOf(file!, task);
      await partyFor(tenants, 'receiver', task.owner);
    }
    receivingSite = await newSite([], 'nictiz-receiving-');
    const endpoints = { oauth: `${platform.base}/oauth2/token`, fhir: platform.base, notification: platform.base };
    const withIdentifiers = (entry: Record<string, unknown>, p: Party & { agb?: string }) => {
      const { ura, ...rest } = entry;
      return { ...rest, ...(p.ura ? { ura } : {}), ...(p.agb ? { agb: p.agb } : {}) };
    };
    receiving = await startSite(receivingSite, {
      mode: 'production',
      port: receivingSite.port,
      publicBaseUrl: receivingSite.url,
      dataDir: receivingSite.dataDir,
      profiles: { folders: [PROFILES] },
      organizations: await Promise.all([...tenants.values()].map(async (p) => withIdentifiers(await hostedOrganization(p, ['receiver']), p))),
      trusted: await Promise.all([...senders.values()].map(async (p) => withIdentifiers(await trustedOrganization(p, endpoints), p))),
    });
    // The sender's data as Nictiz's platform holds them (its load script), the nursing handoffs repaired as above.
    for (const resource of LOADED.map(withCarePlan)) platform.resources.set(`${resource.resourceType}/${resource.id}`, resource);
  }, 120_000);

  afterAll(async () => {
    await receiving?.close();
    if (receivingSite) removeFolder(receivingSite.dataDir);
  });

  /** A token of the sending organisation the platform plays, to notify the receiving tenant (the grant its gateway would sign). */
  async function senderToken(sender: Party, tenant: string): Promise<string> {
    const tokenEndpoint = eOverdrachtEndpoints(receivingSite.url).oauth;
    const assertion = await signAssertion(sender.id, sender.jwk, tokenEndpoint, { subject: tenant, claims: { purposeOfUse: 'eOverdracht-receiver', vcs: [] } });
    const response = await fetch(tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }) });
    const body = (await response.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`token refused: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** The receiving EHR: once the local copy of the sender's Task is in-progress (the handoff is there), it completes it. */
  async function completeWhenHandedOff(tenant: Party, taskId: string): Promise<void> {
    const base = `${receivingSite.url}/fhir/stu3`;
    const token = await ehrToken(receivingSite.url, tenant);
    const local = await eventually(`the local copy of Task/${taskId}`, async () => {
      const found = await fhirCall(base, token, 'GET', `/Task?identifier=${encodeURIComponent(`${platform.base}/Task/${taskId}`)}`);
      const task = (found.body.entry as { resource: Resource }[] | undefined)?.[0]?.resource;
      return task?.status === 'in-progress' ? task : undefined;
    }, 30_000).catch(async (error: Error) => {
      const all = await fhirCall(base, token, 'GET', '/Task');
      throw new Error(`${error.message}; the tenant's Tasks: ${JSON.stringify(all.body).slice(0, 1000)}`);
    });
    const answer = await fhirCall(base, token, 'PUT', `/Task/${local.id}`, { ...local, status: 'completed' });
    if (answer.status !== 200) throw new Error(`the receiving EHR's update answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }

  it.each(receivingScripts)('%s: every assert passes', async (_name, file) => {
    const loaded = loadScript(file!);
    const task = taskOf(loaded);
    const sender = await senderOf(file!, task);
    const tenant = tenants.get(identifierOf(task.owner).value)!;
    const taskId = `eOverdracht-Task-eov-${randomUUID().slice(0, 8)}`;
    const [report, ehr] = await Promise.all([
      runScript(loaded, {
        server: `${receivingSite.url}/fhir/stu3`,
        format: 'json',
        variables: { 'task-id': taskId, notificationEndpoint: `${receivingSite.url}/eoverdracht/notification/Task` },
        validate,
        platform,
        awaitTimeoutMs: 30_000,
        platformAuthorization: cachedToken(() => senderToken(sender, tenant.id)),
      }),
      completeWhenHandedOff(tenant, taskId).catch((error: Error) => error.message),
    ]);
    expect(ehr).toBeUndefined();
    expect(outcomes(report)).toEqual([]);
    expect(report.results.filter((result) => result.kind === 'assert' && result.outcome === 'pass').length).toBeGreaterThan(5);
  }, 120_000);
});

/**
 * The runner fails a broken system: the same Sending-XIS script through a proxy that spoils one answer of the
 * gateway fails the assert about that answer (and passes when nothing is spoilt, above).
 */
describe('a Sending-XIS run against a gateway whose answer is spoilt', () => {
  type Answer = { status: number; body?: Record<string, unknown> };
  let proxy: Server;
  let proxyBase: string;
  let spoil: (path: string, answer: Answer) => Answer = (_path, answer) => answer;

  beforeAll(async () => {
    proxy = createServer(async (incoming, outgoing) => {
      const chunks: Buffer[] = [];
      for await (const chunk of incoming) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(incoming.headers).filter(([name]) => name !== 'host' && name !== 'content-length')) as Record<string, string>;
      const response = await fetch(`${site.url}${incoming.url}`, { method: incoming.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) });
      const text = await response.text();
      const answer = spoil(incoming.url!, { status: response.status, ...(text ? { body: JSON.parse(text) as Record<string, unknown> } : {}) });
      outgoing.writeHead(answer.status, { 'content-type': 'application/fhir+json' }).end(answer.body ? JSON.stringify(answer.body) : '');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyBase = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/fhir/stu3`;
  });
  afterAll(() => new Promise<void>((resolve) => proxy.close(() => resolve())));

  const script = path.join(TEST, 'Sending-XIS', 'Scenario1-01b-phase2-handoff-json.xml');
  const isTaskRead = (url: string) => /\/Task\/[^/]+$/.test(url);

  it.each<[string, (url: string, answer: Answer) => Answer, string]>([
    ['a status code: the Task read answered 404', (url, answer) => (isTaskRead(url) ? { status: 404, body: answer.body } : answer), "Serve 'in-progress' Task: Confirm that the operation was successful"],
    ['a missing element: the document Bundle without its type', (url, answer) => (url.endsWith('$document') ? { ...answer, body: { ...answer.body, type: undefined } } : answer), 'Serve nursing handoff: Confirm that the returned Bundle type is document.'],
    ['a wrong resource type: a Bundle served for the Task', (url, answer) => (isTaskRead(url) ? { ...answer, body: { resourceType: 'Bundle', type: 'collection' } } : answer), "Serve 'in-progress' Task: Make sure that a Task is returned."],
    ['an invalid profile: the Task without its intent', (url, answer) => (isTaskRead(url) ? { ...answer, body: { ...answer.body, intent: undefined } } : answer), "Serve 'in-progress' Task: Validate the returned Task to the eOverdracht Task profile"],
  ])('%s fails the assert about it', async (_mutation, mutate, failing) => {
    spoil = (url, answer) => (answer.body && url.includes('/fhir/stu3/') && !url.includes('_') ? mutate(url, answer) : answer);
    const loaded = loadScript(script);
    const task = taskOf(loaded);
    const receiver = receivers.get(identifierOf(task.owner).value)!;
    const ehr = hospitalEhr;
    const taskId = await ehrDriver(fhirBase(), 'stu3', ehr).createTask(task as Resource);
    const report = await runScript(loaded, { server: proxyBase, format: 'json', variables: { 'task-id': taskId }, validate, platform, awaitTimeoutMs: 15_000, authorization: ehr, platformAuthorization: cachedToken(() => receiverToken(receiver, taskId)) });
    const failed = report.results.filter((result) => result.outcome === 'fail').map((result) => `${result.part.replace(/^test /, '')}: ${result.label}`);
    expect(failed).toContain(failing);
  }, 120_000);
});

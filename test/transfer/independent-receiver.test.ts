import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { ehrToken, fhirCall, nurseOf, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, publicJwks, trustedOrganization, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, parametersNamed, renamed, transaction } from './support.js';

/**
 * A receiver that is not this gateway: a small STU3 server written here with node's http, speaking the Twiin TA
 * Notified Pull (its token endpoint checks the hospital's grant, its notification endpoint takes notification Tasks
 * with 201). Notified by the hospital's gateway, it pulls with a token for its own organisation and reads exactly
 * what the hospital's Consents allow: the workflow Task, the document its status makes accessible and what that
 * references. Not another organisation's Task, not another patient's data, not the handoff before in-progress.
 */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const SNOMED = 'http://snomed.info/sct';
/** Task.input codes of the two documents (Nictiz eOverdracht 4.0, TA §4.2). */
const DOCUMENT_INPUT = { advanceNotice: '721915006', nursingHandoff: '11171000146100' };
const examples = nictizExamples();
const keysOf = (resources: Resource[]) => resources.map((resource) => `${resource.resourceType}/${resource.id}`).sort();

let hospital: Party;
let vvt: Party;
let other: Party;
let sender: Gateway;
let sites: RunningSites;
let receiver: IndependentReceiver;

interface Notification {
  organization: string;
  authorization: string | undefined;
  body: string;
  task: Resource & { basedOn?: { reference: string }[]; owner?: { identifier?: { value?: string } } };
}

/** The other side, as a vendor would write it: a token endpoint and a notification endpoint per organisation it hosts. */
class IndependentReceiver {
  readonly notifications: Notification[] = [];
  private readonly issued = new Set<string>();
  private server?: http.Server;
  url = '';

  constructor(private readonly notifier: Party) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.handle(req, Buffer.concat(chunks).toString('utf8')).then(
          ({ status, body }) => res.writeHead(status, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(body)),
          () => res.writeHead(500).end(),
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  private async handle(req: http.IncomingMessage, body: string): Promise<{ status: number; body: unknown }> {
    if (req.method === 'POST' && req.url === '/oauth2/token') return this.token(body);
    const notification = /^\/([a-z-]+)\/fhir\/Task$/.exec(req.url ?? '');
    if (req.method === 'POST' && notification) return this.notified(notification[1]!, req.headers.authorization, body);
    return { status: 404, body: outcome('not-found', `${req.method} ${req.url}`) };
  }

  /** RFC 7523 grant from the hospital's gateway, verified with the hospital's public key. */
  private async token(form: string): Promise<{ status: number; body: unknown }> {
    const assertion = new URLSearchParams(form).get('assertion') ?? '';
    try {
      await jwtVerify(assertion, createLocalJWKSet(publicJwks(this.notifier)), { issuer: this.notifier.id, audience: `${this.url}/oauth2/token` });
    } catch {
      return { status: 400, body: { error: 'invalid_grant' } };
    }
    const token = `rx-${this.issued.size + 1}`;
    this.issued.add(token);
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: 300 } };
  }

  private notified(organization: string, authorization: string | undefined, body: string): { status: number; body: unknown } {
    if (!this.issued.has(authorization?.replace(/^Bearer /, '') ?? '')) return { status: 401, body: outcome('login', 'no token of ours') };
    const task = JSON.parse(body) as Notification['task'];
    if (task.resourceType !== 'Task' || JSON.stringify(task.code).indexOf('pull-notification') < 0) return { status: 422, body: outcome('invalid', 'not a notification Task') };
    const created = { ...task, id: `n${this.notifications.length + 1}` };
    this.notifications.push({ organization, authorization, body, task: created });
    return { status: 201, body: created };
  }

  close(): Promise<void> {
    this.server?.closeAllConnections();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const outcome = (code: string, text: string) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] });

beforeAll(async () => {
  [hospital, vvt, other] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222'), party('vvt-other', 'VVT Twee', '33333333')]);
  receiver = new IndependentReceiver(hospital);
  await receiver.start();
  const site = await newSite([{ party: hospital, roles: ['sender'] }], 'independent-');
  const notified = async (p: Party) => ({
    ...(await trustedOrganization(p, { oauth: `${receiver.url}/oauth2/token`, notification: `${receiver.url}/${p.id}/fhir` })),
    notificationShape: 'twiin',
  });
  const trusted = await Promise.all([notified(vvt), notified(other)]);
  sites = await startSites([site], (raw) => ({ ...raw, trusted }));
  [sender] = sites.gateways;
}, 60_000);

afterAll(async () => {
  await sites?.close();
  await receiver?.close();
});

async function offer(resources: Resource[], to: Party): Promise<Resource> {
  const offered = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', '/fhir/stu3/$offer', {
    resourceType: 'Parameters',
    parameter: [{ name: 'advanceNotice', resource: transaction(resources) }, { name: 'receiver', valueIdentifier: { system: URA, value: to.ura } }],
  });
  expect(offered.status).toBe(200);
  return parametersNamed(offered.body, 'task')[0]!;
}

const notificationsOf = (p: Party, taskId: string) =>
  receiver.notifications.filter((n) => n.organization === p.id && n.task.basedOn?.[0]?.reference === `Task/${taskId}`);

/** The notification of the Task to `p` after the first `seen` of them, once it arrived. */
const notificationOf = (p: Party, taskId: string, seen = 0) =>
  eventually(`notification ${seen + 1} of Task/${taskId} to ${p.id}`, async () => notificationsOf(p, taskId)[seen]);

/** A receiver's token at the hospital on behalf of its nurse (the sender opens the nursing handoff only to a named person). */
async function pullToken(p: Party): Promise<string> {
  const { status, body } = await organizationToken(sender.url, p, hospital.id, 'eOverdracht-sender', [], { usi: nurseOf(p) });
  expect(status).toBe(200);
  return body.access_token as string;
}

const read = (token: string, key: string) => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${key}`);

/** The literal references (`Type/id`) anywhere in a resource. */
function referencesIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencesIn);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([name, item]) =>
    name === 'reference' && typeof item === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(item) ? [item] : referencesIn(item),
  );
}

/**
 * What a TA receiver does on a notification: reads the workflow Task it is based on, then the document the Task's
 * status opens (advance notice while requested or accepted, the handoff once in-progress) and everything it
 * references, level by level. Returns the keys it read; any read refused fails.
 */
async function pull(token: string, notification: Notification): Promise<{ task: Resource; read: string[] }> {
  const taskKey = notification.task.basedOn![0]!.reference;
  const task = await read(token, taskKey);
  expect([taskKey, task.status]).toEqual([taskKey, 200]);
  const wanted = task.body.status === 'in-progress' ? DOCUMENT_INPUT.nursingHandoff : DOCUMENT_INPUT.advanceNotice;
  const inputs = task.body.input as { type: { coding: { system: string; code: string }[] }; valueReference?: { reference: string } }[];
  const composition = inputs.find((input) => input.type.coding.some((c) => c.system === SNOMED && c.code === wanted))!.valueReference!.reference;
  const seen = new Set<string>();
  for (let level = [composition]; level.length > 0; ) {
    const next: string[] = [];
    for (const key of level.filter((key) => !seen.has(key))) {
      seen.add(key);
      const answer = await read(token, key);
      expect([key, answer.status]).toEqual([key, 200]);
      next.push(...referencesIn(answer.body));
    }
    level = next;
  }
  return { task: task.body, read: [...seen].sort() };
}

describe('an independent STU3 receiver notified the Twiin way', () => {
  let taskId: string;
  let otherTaskId: string;
  const otherPatientNotice = renamed(documentOf(examples, ADVANCE_NOTICE), 'other');

  beforeAll(async () => {
    taskId = (await offer(documentOf(examples, ADVANCE_NOTICE), vvt)).id!;
    otherTaskId = (await offer(otherPatientNotice, other)).id!;
  });

  it('gets a notification Task that carries no personal data, with a token its own endpoint issued', async () => {
    const notification = await notificationOf(vvt, taskId);
    expect(notification.authorization).toMatch(/^Bearer rx-/);
    expect(notification.task).toMatchObject({ status: 'requested', intent: 'proposal', owner: { identifier: { system: URA, value: vvt.ura } } });
    const patient = examples.find((resource) => resource.resourceType === 'Patient')!;
    const personal = [...(patient.identifier as { value: string }[]).map((identifier) => identifier.value), 'NamingSystem/bsn', 'Patient/'];
    expect(personal.filter((text) => notification.body.includes(text))).toEqual([]);
  });

  it('reads the workflow Task, the advance notice and everything it references, and $document of it', async () => {
    const token = await pullToken(vvt);
    const { read: pulled } = await pull(token, await notificationOf(vvt, taskId));
    expect(pulled).toEqual(keysOf(documentOf(examples, ADVANCE_NOTICE)));
    const document = await read(token, `${ADVANCE_NOTICE}/$document`);
    expect(document.status).toBe(200);
    expect(keysOf((document.body.entry as { resource: Resource }[]).map((entry) => entry.resource))).toEqual(pulled);
  });

  it('reads nothing else: not the Task offered to another organisation, not another patient, not the handoff before in-progress', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const handoff = documentOf(examples, NURSING_HANDOFF);
    const stored = await fhirCall(sender.url, ehr, 'POST', '/fhir/stu3', transaction(handoff));
    expect(stored.status).toBe(200);
    const token = await pullToken(vvt);
    const notOpened = [`Task/${otherTaskId}`, ...keysOf(otherPatientNotice), NURSING_HANDOFF, `${NURSING_HANDOFF}/$document`];
    for (const key of notOpened) expect([key, (await read(token, key)).status]).toEqual([key, 403]);
    expect((await fhirCall(sender.url, token, 'GET', '/fhir/stu3/Task')).status).toBe(403);
    expect((await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Patient?_id=${keysOf(handoff).find((key) => key.startsWith('Patient/'))!.slice(8)}`)).status).toBe(403);
  });

  it('after its acceptance and the handoff, reads the handoff and what it references, and no longer the advance notice', async () => {
    const token = await pullToken(vvt);
    const notified = notificationsOf(vvt, taskId).length;
    const task = (await read(token, `Task/${taskId}`)).body;
    const accepted = await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${taskId}`, { ...task, status: 'accepted' });
    expect(accepted.status).toBe(200);
    const handedOver = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', `/fhir/stu3/Task/${taskId}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    const notification = await notificationOf(vvt, taskId, notified);
    const { task: current, read: pulled } = await pull(token, notification);
    expect(current.status).toBe('in-progress');
    expect(pulled).toEqual(keysOf(documentOf(examples, NURSING_HANDOFF)));
    expect((await read(token, ADVANCE_NOTICE)).status).toBe(403);
    expect((await read(token, `Task/${otherTaskId}`)).status).toBe(403);
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { type Gateway } from '../../src/main.js';
import { OUTBOX_KINDS } from '../../src/transfer/context.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { removeFolder } from '../harness/folders.js';
import { eOverdrachtEndpoints, newSite, siteConfig, startSite } from '../harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  nictizExamples,
  NURSING_HANDOFF,
  parametersNamed,
  readStoreOf,
  renamed,
  tasks,
  transaction,
} from './support.js';

/**
 * A notification that arrives late must not show the receiving EHR a status whose document is not there yet: here
 * the sender's "accepted" notification is delivered again after the Task went in-progress, while the notification
 * that carries the handoff credential is held back. The receiver's pull then sees the Task in-progress with only
 * the advance-notice credential, and keeps its copy `accepted` until the held notification arrives.
 */
interface Exchange {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept', 'if-match'];
const RETURNED_HEADERS = ['content-type', 'etag', 'location', 'last-modified'];

/**
 * Stands between two gateways: forwards every request to `target` and records it; while `holding`, answers a POST
 * with 202 and keeps it instead (to be forwarded later, or again).
 */
class Relay {
  readonly forwarded: Exchange[] = [];
  readonly held: Exchange[] = [];
  holding = false;
  private server?: http.Server;

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const exchange = { method: req.method ?? 'GET', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        if (this.holding && exchange.method === 'POST') {
          this.held.push(exchange);
          res.writeHead(202).end();
          return;
        }
        this.forward(exchange).then(
          (answer) => res.writeHead(answer.status, answer.headers).end(answer.body),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async forward(exchange: Exchange): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const headers = Object.fromEntries(FORWARDED_HEADERS.flatMap((name) => (typeof exchange.headers[name] === 'string' ? [[name, exchange.headers[name] as string]] : [])));
    const response = await fetch(`${this.target}${exchange.path}`, { method: exchange.method, headers, ...(exchange.body ? { body: exchange.body } : {}) });
    this.forwarded.push(exchange);
    const returned = Object.fromEntries(RETURNED_HEADERS.flatMap((name) => (response.headers.has(name) ? [[name, response.headers.get(name)!]] : [])));
    return { status: response.status, headers: returned, body: await response.text() };
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let receiverData: string;
/** The sender's notifications to the receiver. */
let notifications: Relay;
/** The receiver's reads (pulls) and writes (answers) at the sender. */
let pulls: Relay;
const dirs: string[] = [];
const examples = nictizExamples();

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT', '22222222')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'late-');
  const v = await newSite([{ party: vvt, roles: ['receiver'] }], 'late-');
  dirs.push(h.dataDir, v.dataDir);
  receiverData = v.dataDir;
  notifications = new Relay(v.url);
  pulls = new Relay(h.url);
  const [notificationsUrl, pullsUrl] = [await notifications.start(), await pulls.start()];
  const senderConfig = {
    ...(await siteConfig(h, [v])),
    organizations: [await hostedOrganization(hospital, ['sender'])],
    trusted: [await trustedOrganization(vvt, { ...eOverdrachtEndpoints(v.url), notification: `${notificationsUrl}/eoverdracht/notification/Task` })],
  };
  const receiverConfig = {
    ...(await siteConfig(v, [h])),
    organizations: [await hostedOrganization(vvt, ['receiver'])],
    trusted: [await trustedOrganization(hospital, { ...eOverdrachtEndpoints(h.url), fhir: `${pullsUrl}/fhir/stu3` })],
  };
  [sender, receiver] = await Promise.all([startSite(h, senderConfig), startSite(v, receiverConfig)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([sender?.close(), receiver?.close(), notifications?.close(), pulls?.close()]);
  for (const dir of dirs) removeFolder(dir);
});

async function localCopy(token: string, remoteId: string): Promise<Resource | undefined> {
  return (await tasks(receiver.url, token)).find((task) => (task.identifier as { value: string }[] | undefined)?.[0]?.value.endsWith(`/Task/${remoteId}`));
}

/** True when every pull the receiver queued is delivered (the notification answered 202 after queuing its pull). */
const pullsDone = async () =>
  (await readStoreOf({ dataDir: receiverData }, (store) => store.outbox.list(vvt.id, { kind: OUTBOX_KINDS.pull }))).every((message) => message.status === 'delivered');

/** How often the receiver has read the sender's Task. */
const taskReads = (taskId: string) => pulls.forwarded.filter((exchange) => exchange.method === 'GET' && exchange.path.endsWith(`/Task/${taskId}`)).length;

describe('a late notification at the receiver', () => {
  it('keeps the local Task at its status until the credential for the new document has arrived', async () => {
    const hospitalEhr = await ehrToken(sender.url, hospital);
    const vvtEhr = await ehrToken(receiver.url, vvt);
    const advanceNotice = transaction(renamed(documentOf(examples, ADVANCE_NOTICE), 'late'));
    const offered = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: advanceNotice },
        { name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: vvt.ura } },
      ],
    });
    expect(offered.status).toBe(200);
    const [task] = parametersNamed(offered.body, 'task');
    const requested = await eventually('the local copy', async () => {
      const copy = await localCopy(vvtEhr, task!.id!);
      return copy?.status === 'requested' ? copy : undefined;
    });
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${requested.id}`, { ...requested, status: 'accepted' })).status).toBe(200);
    const acceptedNotification = await eventually('the sender notifying "accepted"', async () => {
      const { body } = await fhirCall(sender.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${task!.id}`);
      return body.status === 'accepted' && notifications.forwarded.length >= 2 ? notifications.forwarded.at(-1) : undefined;
    });
    await eventually('the receiver pulling "accepted"', async () => ((await localCopy(vvtEhr, task!.id!))?.status === 'accepted' ? true : undefined));

    notifications.holding = true;
    const handoff = transaction(renamed(documentOf(examples, NURSING_HANDOFF), 'late'));
    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task!.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: handoff }],
    });
    expect(handedOver.status).toBe(200);
    await eventually('the handoff notification, held', async () => (notifications.held.length > 0 ? true : undefined));

    const readsBefore = taskReads(task!.id!);
    expect((await notifications.forward(acceptedNotification)).status).toBe(202);
    await eventually('the receiver done with its pull of the in-progress Task', async () =>
      taskReads(task!.id!) > readsBefore && (await pullsDone()) ? true : undefined,
    );
    expect((await localCopy(vvtEhr, task!.id!))?.status).toBe('accepted');

    for (const notification of notifications.held.splice(0)) expect((await notifications.forward(notification)).status).toBe(202);
    const inProgress = await eventually('the local copy in-progress', async () => {
      const copy = await localCopy(vvtEhr, task!.id!);
      return copy?.status === 'in-progress' ? copy : undefined;
    });
    const reference = (inProgress.input as { valueReference?: { reference: string } }[]).map((input) => input.valueReference?.reference).at(-1);
    expect((await fhirCall(receiver.url, vvtEhr, 'GET', `/fhir/stu3/${reference}`)).status).toBe(200);
  }, 60_000);
});

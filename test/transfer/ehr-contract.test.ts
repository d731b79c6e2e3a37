import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { convertResource } from '../../src/fhir/convert/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { type Gateway } from '../../src/main.js';
import { DOCUMENT_CODES, PROFILES, ROUTING_EXTENSIONS, TASK_CODE } from '../../src/transfer/codes.js';
import { orderingKey, OUTBOX_KINDS } from '../../src/transfer/context.js';
import { AWAITING_PERSON, localId } from '../../src/transfer/receiver.js';
import { ehrToken, fhirCall, nurseOf } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, readStoreOf, taskWithStatus, transaction } from './support.js';

/**
 * The standard EHR contract between two gateways: the hospital's EHR speaks only the Nictiz TA's own interactions
 * (store the documents, `POST Task`, `PUT Task`), never `$offer` or `$handoff`, and the transfer runs as one started
 * by them does: notified, pulled, answered, handed over, completed. VVT Een is reached only through the
 * HealthcareService the Task is routed to (its configured notification endpoint leads nowhere).
 */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const PATIENT = 'Patient/nl-core-patient-eov-test-1-5-01';
const examples = nictizExamples();
let hospital: Party;
let vvt1: Party;
let vvt2: Party;
let sender: Gateway;
let receiver: Gateway;
let v: Site;
let sites: RunningSites;

beforeAll(async () => {
  [hospital, vvt1, vvt2] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222'), party('vvt-2', 'VVT Twee', '33333333')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'ehr-contract-');
  v = await newSite(
    [
      { party: vvt1, roles: ['receiver'] },
      { party: vvt2, roles: ['receiver'] },
    ],
    'ehr-contract-',
  );
  sites = await startSites([h, v], (raw) => (raw.port === h.port ? withUnroutedNotificationFor(raw, vvt1.id) : raw));
  [sender, receiver] = sites.gateways;
  const token = await ehrToken(sender.url, hospital);
  for (const document of [ADVANCE_NOTICE, NURSING_HANDOFF]) {
    expect((await fhirCall(sender.url, token, 'POST', '/fhir/stu3', transaction(documentOf(examples, document)))).status).toBe(200);
  }
  for (const resource of directoryOfVvt1()) {
    expect((await fhirCall(sender.url, token, 'PUT', `/fhir/${resource.resourceType}/${resource.id}`, resource)).status).toBe(201);
  }
}, 60_000);

afterAll(() => sites?.close());

/** The hospital's configuration with VVT Een's notification endpoint a base under which no notification is taken. */
function withUnroutedNotificationFor(raw: Record<string, unknown>, id: string): Record<string, unknown> {
  const trusted = (raw.trusted as { id: string; endpoints: Record<string, string> }[]).map((organization) =>
    organization.id === id ? { ...organization, endpoints: { ...organization.endpoints, notification: `${v.url}/eoverdracht` } } : organization,
  );
  return { ...raw, trusted };
}

/** VVT Een's nursing service in the hospital's directory, with its Twiin-TA-notification Endpoint. */
function directoryOfVvt1(): Resource[] {
  return [
    {
      resourceType: 'Endpoint',
      id: 'vvt-1-notification',
      status: 'active',
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
      payloadType: [{ coding: [{ system: 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-data-exchange-capabilities', code: 'Twiin-TA-notification' }] }],
      address: `${v.url}/eoverdracht/notification/Task`,
    },
    { resourceType: 'HealthcareService', id: 'vvt-1-verpleging', name: 'VVT Een Verpleging', endpoint: [{ reference: 'Endpoint/vvt-1-notification' }] },
  ];
}

const routing = [
  { url: ROUTING_EXTENSIONS.healthcareService, valueReference: { reference: 'HealthcareService/vvt-1-verpleging', display: 'VVT Een Verpleging' } },
  { url: ROUTING_EXTENSIONS.location, valueReference: { reference: 'Location/vvt-1-afdeling-noord', display: 'VVT Een Afdeling Noord' } },
];

const documentInput = (kind: keyof typeof DOCUMENT_CODES, reference: string) => ({ type: { coding: [DOCUMENT_CODES[kind]] }, valueReference: { reference } });

/** The workflow Task as an EHR built to the Nictiz TA writes it. */
function workflowTask(status: string, owner: Party, input: unknown[], extra: Record<string, unknown> = {}): Resource {
  return {
    resourceType: 'Task',
    meta: { profile: [PROFILES.task] },
    status,
    intent: 'order',
    code: { coding: [TASK_CODE] },
    for: { reference: PATIENT },
    requester: { agent: { identifier: { system: URA, value: hospital.ura }, display: hospital.name } },
    owner: { identifier: { system: URA, value: owner.ura }, display: owner.name },
    input,
    ...extra,
  };
}

async function created(task: Resource): Promise<Resource> {
  const { status, body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', '/fhir/stu3/Task', task);
  expect([status, body.resourceType]).toEqual([201, 'Task']);
  return body;
}

/** The receiver's local copy of the hospital's Task, once it has the status. */
const localTaskOf = async (p: Party, remoteId: string, status: string) =>
  taskWithStatus(receiver.url, await ehrToken(receiver.url, p), localId(hospital.id, `Task/${remoteId}`), status);

/** Who read the nursing handoff at the hospital, as its AuditEvents name the person (the agent beside the organisation). */
async function handoffReadersAtSender(): Promise<{ who?: string; name?: string }[]> {
  const { body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'GET', '/fhir/AuditEvent?_sort=-date&_count=500');
  type Event = { outcome: string; agent: { who?: { identifier?: { value?: string } }; name?: string; requestor?: boolean }[]; entity?: { what?: { reference?: string } }[] };
  const events = ((body.entry as { resource: Event }[] | undefined) ?? []).map((entry) => entry.resource);
  const readsHandoff = (event: Event) => event.outcome === '0' && (event.entity ?? []).some((entity) => entity.what?.reference === NURSING_HANDOFF);
  return events.filter(readsHandoff).flatMap((event) => event.agent.slice(1).map((agent) => ({ who: agent.who?.identifier?.value, name: agent.name })));
}

const senderTask = async (id: string, status: string) => taskWithStatus(sender.url, await ehrToken(sender.url, hospital), id, status);

/** The pulls of the local Task queued at the receiver so far, delivered or not, as its database holds them. */
async function pullsQueuedFor(p: Party, task: string): Promise<number> {
  const pulls = await readStoreOf(receiver.config, (store) => store.outbox.list(p.id, { kind: OUTBOX_KINDS.pull, limit: 1000 }));
  return pulls.filter((message) => message.orderingKey === orderingKey(task)).length;
}

async function answer(p: Party, copy: Resource, change: Record<string, unknown>): Promise<void> {
  const { status, body } = await fhirCall(receiver.url, await ehrToken(receiver.url, p), 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, ...change });
  expect([status, body.status]).toEqual([200, change.status]);
}

describe('the standard EHR contract: POST and PUT of the workflow Task', () => {
  it('starts a transfer with POST Task, routed to the HealthcareService, and takes it through to completion with PUT', async () => {
    const task = await created(workflowTask('requested', vvt1, [documentInput('advanceNotice', ADVANCE_NOTICE)], { extension: routing }));
    expect(task.owner).toEqual({ identifier: { system: URA, value: vvt1.ura }, display: vvt1.name });

    const copy = await localTaskOf(vvt1, task.id!, 'requested');
    expect(copy.extension).toEqual(routing);
    const ehr1 = await ehrToken(receiver.url, vvt1);
    const advanceNotice = (copy.input as { valueReference: { reference: string } }[])[0].valueReference.reference;
    expect((await fhirCall(receiver.url, ehr1, 'GET', `/fhir/stu3/${advanceNotice}`)).status).toBe(200);

    await answer(vvt1, copy, { status: 'accepted' });
    const accepted = await senderTask(task.id!, 'accepted');
    const token = await ehrToken(sender.url, hospital);
    const handingOver = { ...accepted, status: 'in-progress', input: [...(accepted.input as unknown[]), documentInput('nursingHandoff', NURSING_HANDOFF)] };
    expect((await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task.id}`, handingOver)).status).toBe(200);

    const inProgress = await localTaskOf(vvt1, task.id!, 'in-progress');
    const handoff = (inProgress.input as { valueReference: { reference: string } }[])[1].valueReference.reference;
    expect((await fhirCall(receiver.url, ehr1, 'GET', `/fhir/stu3/${handoff}`)).body.type).toEqual({ coding: [DOCUMENT_CODES.nursingHandoff] });
    await answer(vvt1, inProgress, { status: 'completed' });
    await senderTask(task.id!, 'completed');
  });

  // Before any handoff of this sender reaches VVT Twee: a document held already is not pulled again.
  it('answers $pull only for a token that names a person, and only for a transfer offered to the tenant', async () => {
    const task = await created(workflowTask('in-progress', vvt2, [documentInput('nursingHandoff', NURSING_HANDOFF)]));
    const waiting = await localTaskOf(vvt2, task.id!, 'in-progress');
    const machine = await ehrToken(receiver.url, vvt2, null);
    expect((await fhirCall(receiver.url, machine, 'POST', `/fhir/stu3/Task/${waiting.id}/$pull`)).status).toBe(422);
    expect((await fhirCall(receiver.url, await ehrToken(receiver.url, vvt1), 'POST', `/fhir/stu3/Task/${waiting.id}/$pull`)).status).toBe(404);
    const stillWaiting = await fhirCall(receiver.url, machine, 'GET', `/fhir/stu3/Task/${waiting.id}`);
    expect(stillWaiting.body.businessStatus).toEqual(AWAITING_PERSON);
  });

  it('does not pull when the EHR reads the local Task, even with a token naming the nurse: only $pull or an update does', async () => {
    const task = await created(workflowTask('in-progress', vvt2, [documentInput('nursingHandoff', NURSING_HANDOFF)]));
    const waiting = await localTaskOf(vvt2, task.id!, 'in-progress');
    expect(waiting.businessStatus).toEqual(AWAITING_PERSON);
    const before = await pullsQueuedFor(vvt2, waiting.id!);
    expect(before).toBeGreaterThan(0);
    const nurse = await ehrToken(receiver.url, vvt2);
    const versionId = waiting.meta?.versionId;
    for (const read of [`/fhir/stu3/Task/${waiting.id}`, `/fhir/Task/${waiting.id}`, `/fhir/stu3/Task/${waiting.id}/_history/${versionId}`, `/fhir/stu3/Task?_id=${waiting.id}`]) {
      expect([read, (await fhirCall(receiver.url, nurse, 'GET', read)).status]).toEqual([read, 200]);
    }
    // A pull is queued in the transaction of what causes it: had a read caused one, it would be in the outbox by now.
    expect(await pullsQueuedFor(vvt2, waiting.id!)).toBe(before);
    expect((await fhirCall(receiver.url, nurse, 'GET', `/fhir/stu3/Task/${waiting.id}`)).body.businessStatus).toEqual(AWAITING_PERSON);
  });

  it('hands over at once in the partial workflow: the Task awaits a person, the EHR names the nurse, the handoff follows', async () => {
    const task = await created(workflowTask('in-progress', vvt2, [documentInput('nursingHandoff', NURSING_HANDOFF)]));
    // The notified pull names nobody: the sender's person policy keeps the handoff closed, the Task is there all the same.
    const waiting = await localTaskOf(vvt2, task.id!, 'in-progress');
    expect(waiting.businessStatus).toEqual(AWAITING_PERSON);
    const handoff = (waiting.input as { valueReference: { reference: string } }[])[0].valueReference.reference;
    const nurse = await ehrToken(receiver.url, vvt2);
    expect((await fhirCall(receiver.url, nurse, 'GET', `/fhir/stu3/${handoff}`)).status).toBe(404);

    const pulled = await fhirCall(receiver.url, nurse, 'POST', `/fhir/stu3/Task/${waiting.id}/$pull`);
    expect([pulled.status, (pulled.body.parameter as { name: string; resource: Resource }[])[0].resource.id]).toEqual([200, waiting.id]);
    await eventually('the handoff at the receiver', async () => ((await fhirCall(receiver.url, nurse, 'GET', `/fhir/stu3/${handoff}`)).status === 200 ? true : undefined));
    const copy = await eventually('the Task no longer awaiting a person', async () => {
      const { body } = await fhirCall(receiver.url, nurse, 'GET', `/fhir/stu3/Task/${waiting.id}`);
      return body.businessStatus === undefined ? body : undefined;
    });
    expect(await handoffReadersAtSender()).toContainEqual({ who: nurseOf(vvt2).id, name: nurseOf(vvt2).name });
    await answer(vvt2, copy, { status: 'completed' });
    await senderTask(task.id!, 'completed');
  });

  it('moves a requested Task straight to in-progress (partial workflow) when the EHR PUTs it with the handoff', async () => {
    const task = await created(workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]));
    await localTaskOf(vvt2, task.id!, 'requested');
    const handingOver = { ...task, status: 'in-progress', input: [...(task.input as unknown[]), documentInput('nursingHandoff', NURSING_HANDOFF)] };
    expect((await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'PUT', `/fhir/stu3/Task/${task.id}`, handingOver)).status).toBe(200);
    await localTaskOf(vvt2, task.id!, 'in-progress');
  });

  it("brings the receiver's refusal reason to the sender's Task", async () => {
    const task = await created(workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]));
    const copy = await localTaskOf(vvt2, task.id!, 'requested');
    const statusReason = { text: 'Geen capaciteit voor deze zorg' };
    await answer(vvt2, copy, { status: 'rejected', statusReason });
    expect((await senderTask(task.id!, 'rejected')).statusReason).toEqual(statusReason);
  });

  it('takes the workflow Task from an R4 EHR on the R4 base, and exchanges it in STU3', async () => {
    const token = await ehrToken(sender.url, hospital);
    const r4 = documentOf(examples, ADVANCE_NOTICE).map((resource) => convertResource(resource, { from: 'stu3', to: 'r4' }));
    expect((await fhirCall(sender.url, token, 'POST', '/fhir', transaction(r4))).status).toBe(200);
    const { requester: _stu3, ...common } = workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]);
    const posted = await fhirCall(sender.url, token, 'POST', '/fhir/Task', { ...common, requester: { identifier: { system: URA, value: hospital.ura } } });
    expect([posted.status, posted.body.status, posted.body.requester]).toEqual([201, 'requested', { identifier: { system: URA, value: hospital.ura } }]);
    const copy = await localTaskOf(vvt2, posted.body.id!, 'requested');
    expect(copy.requester).toEqual({ agent: { identifier: { system: URA, value: hospital.ura } } });
  });

  it('takes the owner as a reference to a stored Organization, and lets the receiver cancel what it accepted', async () => {
    const token = await ehrToken(sender.url, hospital);
    const organization = { resourceType: 'Organization', id: 'vvt-2', identifier: [{ system: URA, value: vvt2.ura }], name: vvt2.name };
    expect((await fhirCall(sender.url, token, 'PUT', '/fhir/stu3/Organization/vvt-2', organization)).status).toBe(201);
    const task = await created({ ...workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]), owner: { reference: 'Organization/vvt-2' } });
    expect(task.owner).toEqual({ identifier: { system: URA, value: vvt2.ura }, display: vvt2.name });

    await answer(vvt2, await localTaskOf(vvt2, task.id!, 'requested'), { status: 'accepted' });
    await senderTask(task.id!, 'accepted');
    await answer(vvt2, await localTaskOf(vvt2, task.id!, 'accepted'), { status: 'cancelled', statusReason: { text: 'Cliënt kiest een andere aanbieder' } });
    await senderTask(task.id!, 'cancelled');
  });

  it('cancels through PUT, and refuses a start or a move the specifications do not give the sender', async () => {
    const token = await ehrToken(sender.url, hospital);
    const refusedStart = await fhirCall(sender.url, token, 'POST', '/fhir/stu3/Task', workflowTask('accepted', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]));
    expect([refusedStart.status, refusedStart.body.resourceType]).toEqual([422, 'OperationOutcome']);
    const unknownOwner = await fhirCall(sender.url, token, 'POST', '/fhir/stu3/Task', {
      ...workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]),
      owner: { identifier: { system: URA, value: '99999999' } },
    });
    expect([unknownOwner.status, (unknownOwner.body.issue as { expression: string[] }[])[0].expression]).toEqual([422, ['Task.owner']]);
    const valid = workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]);
    const malformed = [
      { ...valid, owner: 'VVT Twee' },
      { ...valid, owner: { identifier: 'URA 33333333' } },
      { ...valid, input: [{ type: { coding: [DOCUMENT_CODES.advanceNotice] }, valueReference: { reference: 42 } }] },
      { ...valid, input: [documentInput('advanceNotice', 'Composition/not-stored')] },
      { ...valid, input: [documentInput('advanceNotice', NURSING_HANDOFF)] },
      { ...valid, for: { reference: 'Patient/someone-else' } },
      { ...valid, status: 7 },
    ];
    for (const [index, body] of malformed.entries()) {
      const refused = await fhirCall(sender.url, token, 'POST', '/fhir/stu3/Task', body);
      expect([index, refused.status >= 400 && refused.status < 500, refused.body.resourceType]).toEqual([index, true, 'OperationOutcome']);
    }

    const task = await created(workflowTask('requested', vvt2, [documentInput('advanceNotice', ADVANCE_NOTICE)]));
    const completing = await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task.id}`, { ...task, status: 'completed' });
    expect([completing.status, (completing.body.issue as { diagnostics?: string; details?: { text: string } }[])[0].details?.text]).toEqual([
      409,
      expect.stringMatching(/allowed: in-progress, cancelled/),
    ]);
    await localTaskOf(vvt2, task.id!, 'requested');
    expect((await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task.id}`, { ...task, status: 'cancelled' })).status).toBe(200);
    await localTaskOf(vvt2, task.id!, 'cancelled');
  });
});

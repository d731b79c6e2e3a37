import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { convertResource } from '../../src/fhir/convert/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { type Gateway } from '../../src/main.js';
import { ehrToken, fhirCall, nurseOf, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  nictizExamples,
  NURSING_HANDOFF,
  parametersNamed,
  renamed,
  tasks,
  transaction,
  transferRecord,
} from './support.js';

/**
 * The eOverdracht workflow between two gateways in this process (the same code paths as the two-process test, with
 * the edge cases: refusals, R4, duplicates). A hospital offers to two care providers hosted on one gateway.
 */
let hospital: Party;
let vvt1: Party;
let vvt2: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
const examples = nictizExamples();

beforeAll(async () => {
  [hospital, vvt1, vvt2] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222'), party('vvt-2', 'VVT Twee', '33333333')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'transfer-');
  const v = await newSite(
    [
      { party: vvt1, roles: ['receiver'] },
      { party: vvt2, roles: ['receiver'] },
    ],
    'transfer-',
  );
  sites = await startSites([h, v]);
  [sender, receiver] = sites.gateways;
}, 60_000);

afterAll(() => sites?.close());

const receivers = (...parties: Party[]) => parties.map((p) => ({ name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: p.ura } }));

async function offer(token: string, base = '/fhir/stu3', bundle: Resource = transaction(documentOf(examples, ADVANCE_NOTICE)), to = [vvt1, vvt2]) {
  return fhirCall(sender.url, token, 'POST', `${base}/$offer`, {
    resourceType: 'Parameters',
    parameter: [{ name: 'advanceNotice', resource: bundle }, ...receivers(...to)],
  });
}

/** The receiver's local copy of the sender's Task, found by the identifier that names the original. */
async function localTaskOf(p: Party, remoteId: string, status: string): Promise<Resource> {
  const token = await ehrToken(receiver.url, p);
  return eventually(`Task/${remoteId} ${status} at ${p.id}`, async () =>
    (await tasks(receiver.url, token)).find(
      (task) => task.status === status && (task.identifier as { value: string }[] | undefined)?.[0]?.value.endsWith(`/Task/${remoteId}`),
    ),
  );
}

async function senderTask(id: string, status: string): Promise<Resource> {
  const token = await ehrToken(sender.url, hospital);
  return eventually(`Task/${id} ${status} at the hospital`, async () => {
    const { body } = await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task/${id}`);
    return body.status === status ? body : undefined;
  });
}

/**
 * The sender's trail has the receiving organisation's reads of the handoff (`$document` or the batch pull, with DPoP-bound tokens, as
 * the harness names the sender's authorization server), each naming the organisation and the nurse whose EHR accepted.
 */
async function expectHandoffReadsBy(composition: string, receiving: Party): Promise<void> {
  const query = `/fhir/AuditEvent?entity=${composition}&_count=100`;
  const { body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'GET', query);
  type Agent = { who?: { identifier?: { value?: string }; display?: string }; role?: { text?: string }[] };
  const events = ((body.entry as { resource: { action: string; agent: Agent[] } }[] | undefined) ?? []).map((entry) => entry.resource);
  // R: a read of the Composition or what it references; E: its `$document`.
  const reads = events.filter((event) => ['R', 'E'].includes(event.action) && event.agent[0]?.who?.identifier?.value === receiving.id);
  expect(reads.length).toBeGreaterThan(0);
  const nurse = nurseOf(receiving);
  for (const event of reads) expect(event.agent[1]).toMatchObject({ who: { identifier: { value: nurse.id }, display: nurse.name }, role: [{ text: nurse.role }] });
}

describe('eOverdracht between two gateways', () => {
  it('offers, lets one reject and one accept, hands over and completes', async () => {
    const token = await ehrToken(sender.url, hospital);
    const offered = await offer(token);
    expect(offered.status).toBe(200);
    const [task1, task2] = parametersNamed(offered.body, 'task');
    expect([task1.owner, task2.owner]).toEqual([
      { identifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: vvt1.ura }, display: vvt1.name },
      { identifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: vvt2.ura }, display: vvt2.name },
    ]);
    const warnings = parametersNamed(offered.body, 'outcome').flatMap((o) => o.issue as { severity: string; details: { text: string } }[]);
    expect(warnings.some((w) => w.severity === 'warning' && /pre-2022 code http:\/\/loinc.org\|57830-2/.test(w.details.text))).toBe(true);

    const [copy1, copy2] = [await localTaskOf(vvt1, task1.id!, 'requested'), await localTaskOf(vvt2, task2.id!, 'requested')];
    const ehr2 = await ehrToken(receiver.url, vvt2);
    expect((await fhirCall(receiver.url, ehr2, 'PUT', `/fhir/stu3/Task/${copy2.id}`, { ...copy2, status: 'rejected' })).status).toBe(200);
    await senderTask(task2.id!, 'rejected');

    const ehr1 = await ehrToken(receiver.url, vvt1);
    expect((await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/Task/${copy1.id}`, { ...(await fhirCall(receiver.url, ehr1, 'GET', `/fhir/Task/${copy1.id}`)).body, status: 'accepted' })).status).toBe(200);
    await senderTask(task1.id!, 'accepted');

    const handedOver = await fhirCall(sender.url, token, 'POST', `/fhir/stu3/Task/${task1.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    const inProgress = await localTaskOf(vvt1, task1.id!, 'in-progress');
    const handoffRef = (inProgress.input as { valueReference: { reference: string } }[])[1].valueReference.reference;
    const handoffCopy = await fhirCall(receiver.url, ehr1, 'GET', `/fhir/stu3/${handoffRef}`);
    expect(handoffCopy.status).toBe(200);
    expect(handoffCopy.body.type).toEqual({ coding: [{ system: 'http://snomed.info/sct', code: '11171000146100', display: 'Nursing handoff document' }] });
    await expectHandoffReadsBy(NURSING_HANDOFF, vvt1);

    expect((await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/stu3/Task/${inProgress.id}`, { ...inProgress, status: 'completed' })).status).toBe(200);
    await senderTask(task1.id!, 'completed');
  });

  it("takes the receiving EHR's answer inside a transaction Bundle as part of that Bundle's transaction", async () => {
    const token = await ehrToken(sender.url, hospital);
    const [, task2] = parametersNamed((await offer(token)).body, 'task');
    const copy2 = await localTaskOf(vvt2, task2.id!, 'requested');
    const ehr2 = await ehrToken(receiver.url, vvt2);
    const answer = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { ...copy2, status: 'rejected' }, request: { method: 'PUT', url: `Task/${copy2.id}` } }] };
    expect((await fhirCall(receiver.url, ehr2, 'POST', '/fhir/stu3', answer)).status).toBe(200);
    await senderTask(task2.id!, 'rejected');
  });

  it('cancels the other candidates once one gets the handoff: their documents close, their Task stays readable only', async () => {
    const token = await ehrToken(sender.url, hospital);
    const [task1, task2] = parametersNamed((await offer(token)).body, 'task');
    const copy1 = await localTaskOf(vvt1, task1.id!, 'requested');
    await localTaskOf(vvt2, task2.id!, 'requested');
    const before = await organizationToken(sender.url, vvt2, hospital.id, 'eOverdracht-sender', [], {}, `${sender.url}/fhir/stu3/Task/${task2.id}`);
    expect(before.status).toBe(200);
    const pulledBefore = await fhirCall(sender.url, before.body.access_token as string, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`);
    expect(pulledBefore.status).toBe(200);

    const ehr1 = await ehrToken(receiver.url, vvt1);
    await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/stu3/Task/${copy1.id}`, { ...copy1, status: 'accepted' });
    const accepted = await senderTask(task1.id!, 'accepted');
    // The handoff resource by resource: stored with a plain transaction, then the Task is PUT in-progress.
    expect((await fhirCall(sender.url, token, 'POST', '/fhir/stu3', transaction(documentOf(examples, NURSING_HANDOFF)))).status).toBe(200);
    const handoffInput = { type: { coding: [{ system: 'http://snomed.info/sct', code: '11171000146100' }] }, valueReference: { reference: NURSING_HANDOFF } };
    const started = await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task1.id}`, {
      ...accepted,
      status: 'in-progress',
      input: [...(accepted.input as object[]), handoffInput],
    });
    expect(started.status).toBe(200);
    expect(JSON.stringify(started.body.input)).toContain(NURSING_HANDOFF);
    await senderTask(task2.id!, 'cancelled');
    await localTaskOf(vvt2, task2.id!, 'cancelled');

    // Bolt §4.2.1: the documents' access ends with the transfer; the Task stays readable (to learn of the end), not writable.
    const access = before.body.access_token as string;
    for (const key of [ADVANCE_NOTICE, 'Patient/nl-core-patient-eov-test-1-5-01', NURSING_HANDOFF]) {
      expect((await fhirCall(sender.url, access, 'GET', `/fhir/stu3/${key}`)).status).toBe(403);
    }
    const cancelled = await fhirCall(sender.url, access, 'GET', `/fhir/stu3/Task/${task2.id}`);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'cancelled' } });
    const write = await fhirCall(sender.url, access, 'PUT', `/fhir/stu3/Task/${task2.id}`, { ...cancelled.body, status: 'completed' });
    expect(write).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome' } });
  });

  it('refuses moves the state machine does not allow, naming the allowed ones', async () => {
    const token = await ehrToken(sender.url, hospital);
    const [task1] = parametersNamed((await offer(token, '/fhir/stu3', undefined, [vvt1])).body, 'task');
    const copy = await localTaskOf(vvt1, task1.id!, 'requested');
    const ehr1 = await ehrToken(receiver.url, vvt1);
    const jump = await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'completed' });
    expect(jump.status).toBe(409);
    expect(JSON.stringify(jump.body.issue)).toMatch(/allowed: received, accepted, rejected, on-hold/);
    const onHoldWithoutDate = await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'on-hold' });
    expect(onHoldWithoutDate.status).toBe(422);

    const own = (await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task/${task1.id}`)).body;
    const acceptForThem = await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task1.id}`, { ...own, status: 'accepted' });
    expect(acceptForThem.status).toBe(409);
    expect(JSON.stringify(acceptForThem.body.issue)).toMatch(/allowed: in-progress, cancelled/);
    expect((await fhirCall(sender.url, token, 'DELETE', `/fhir/stu3/Task/${task1.id}`)).status).toBe(409);

    const date = '2031-03-01T10:00:00+01:00';
    const output = [{ type: { coding: [{ system: 'http://snomed.info/sct', code: '146851000146105' }] }, valueDateTime: date }];
    expect((await fhirCall(receiver.url, ehr1, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'on-hold', output })).status).toBe(200);
    const onHold = await senderTask(task1.id!, 'on-hold');
    expect(onHold.output).toEqual([{ ...output[0], type: { coding: [{ ...output[0].type.coding[0], display: 'Alternative date' }] } }]);
    const cancelled = await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${task1.id}`, { ...onHold, status: 'cancelled' });
    expect(cancelled.status).toBe(200);
    await localTaskOf(vvt1, task1.id!, 'cancelled');
  });

  it('takes an R4 advance notice stored resource by resource, exchanges STU3 and shows the receiver both', async () => {
    const token = await ehrToken(sender.url, hospital);
    const r4 = documentOf(examples, ADVANCE_NOTICE).map((resource) => convertResource(resource, { from: 'stu3', to: 'r4' }));
    expect((await fhirCall(sender.url, token, 'POST', '/fhir', transaction(r4))).status).toBe(200);
    const offered = await fhirCall(sender.url, token, 'POST', '/fhir/$offer', {
      resourceType: 'Parameters',
      parameter: [{ name: 'composition', valueReference: { reference: ADVANCE_NOTICE } }, ...receivers(vvt1)],
    });
    expect(offered.status).toBe(200);
    const exchanged = await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`);
    expect(exchanged.body.type).toEqual({ coding: [{ system: 'http://snomed.info/sct', code: '721915006', display: 'Admission request document' }] });
    const [task] = parametersNamed(offered.body, 'task');
    expect(task.requester).toEqual({ identifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: hospital.ura }, display: hospital.name });
    const copy = await localTaskOf(vvt1, task.id!, 'requested');
    const ehr1 = await ehrToken(receiver.url, vvt1);
    const r4Copy = await fhirCall(receiver.url, ehr1, 'GET', `/fhir/Task/${copy.id}`);
    expect(r4Copy.body).toMatchObject({ resourceType: 'Task', status: 'requested', for: copy.for });
    const patient = await fhirCall(receiver.url, ehr1, 'GET', `/fhir/${(copy.for as { reference: string }).reference}`);
    expect(patient.status).toBe(200);
  });

  it('refuses offers it cannot carry out, saying why', async () => {
    const token = await ehrToken(sender.url, hospital);
    const document = renamed(documentOf(examples, ADVANCE_NOTICE), 'refused');
    const call = (parameter: object[]) => fhirCall(sender.url, token, 'POST', '/fhir/stu3/$offer', { resourceType: 'Parameters', parameter });
    const bundle = { name: 'advanceNotice', resource: transaction(document) };
    // 100,000 address lines: over the default limits.resourceElements (100,000 values).
    const crowdedAddress = [{ line: Array.from({ length: 100_000 }, (_, i) => `Straat ${i}`) }, { line: ['x'] }];
    const stranger = { name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: '99999999' } };
    const refusals = [
      [await call([bundle]), 400, /'receiver' is required/],
      [await call([bundle, { name: 'receiver', valueString: '99999999' }]), 400, /'receiver' takes one valueIdentifier/],
      [await call([bundle, ...receivers(vvt1), { name: 'receivers', valueIdentifier: {} }]), 400, /Unknown parameter 'receivers'/],
      [await call([bundle, stranger]), 422, /No trusted organisation has the identifier .*99999999/],
      [await call([...receivers(vvt1)]), 400, /either 'advanceNotice'/],
      [await call([{ name: 'advanceNotice', resource: transaction(document.filter((r) => r.resourceType !== 'Coverage')) }, ...receivers(vvt1)]), 422, /Coverage\/zib-Payer-eov-test-1-5-01-refused is referenced by the document but neither sent nor stored/],
      [await call([{ name: 'advanceNotice', resource: transaction(document.map((r) => (r.resourceType === 'Patient' ? { ...r, birthDate: 'yesterday' } : r))) }, ...receivers(vvt1)]), 422, /Patient\/nl-core-patient-eov-test-1-5-01-refused: .*yesterday/],
      [await fhirCall(receiver.url, await ehrToken(receiver.url, vvt1), 'POST', '/fhir/stu3/$offer', { resourceType: 'Parameters', parameter: [bundle] }), 403, /sender role/],
      [await call([{ name: 'advanceNotice', resource: transaction(document.map((r) => (r.resourceType === 'Patient' ? { ...r, address: crowdedAddress } : r))) }, ...receivers(vvt1)]), 422, /exceeds limits\.resourceElements \(100000\)/],
    ] as const;
    for (const [answer, status, text] of refusals) expect([answer.status, JSON.stringify(answer.body.issue)]).toEqual([status, expect.stringMatching(text)]);
    const cancelled = parametersNamed((await offer(token, '/fhir/stu3', undefined, [vvt1])).body, 'task')[0];
    expect((await fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${cancelled.id}`, { ...cancelled, status: 'cancelled' })).status).toBe(200);
    const late = await fhirCall(sender.url, token, 'POST', `/fhir/stu3/Task/${cancelled.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect([late.status, JSON.stringify(late.body.issue)]).toEqual([409, expect.stringMatching(/from 'cancelled' to 'in-progress' \(no further changes are allowed\)/)]);
  });

  it('keeps personal data out of the Task and treats repeated notifications as harmless', async () => {
    const token = await ehrToken(sender.url, hospital);
    const [task] = parametersNamed((await offer(token, '/fhir/stu3', undefined, [vvt1])).body, 'task');
    expect(Object.keys(task).sort()).toEqual(
      ['authoredOn', 'code', 'for', 'groupIdentifier', 'id', 'input', 'intent', 'lastModified', 'meta', 'owner', 'requester', 'resourceType', 'status'],
    );
    expect(task.for).toEqual({ reference: 'Patient/nl-core-patient-eov-test-1-5-01' });
    const copy = await localTaskOf(vvt1, task.id!, 'requested');
    const notifier = await organizationToken(receiver.url, hospital, vvt1.id, 'eOverdracht-receiver', []);
    for (let i = 0; i < 3; i++) {
      const again = await fhirCall(receiver.url, notifier.body.access_token as string, 'POST', `/eoverdracht/notification/Task/${task.id}`);
      expect(again.status).toBe(202);
    }
    const ehr1 = await ehrToken(receiver.url, vvt1);
    await eventually('the repeated pulls', async () => ((await fhirCall(receiver.url, ehr1, 'GET', `/fhir/stu3/Task/${copy.id}`)).body.status === 'requested' ? true : undefined));
    expect((await fhirCall(receiver.url, notifier.body.access_token as string, 'POST', `/eoverdracht/notification/Task/${task.id}/x`)).status).toBe(404);
    expect((await fhirCall(receiver.url, 'not-a-token', 'POST', `/eoverdracht/notification/Task/${task.id}`)).status).toBe(401);
  });

  it('carries the care type asked for on every Task to the receivers (both releases), and refuses one it does not know', async () => {
    const token = await ehrToken(sender.url, hospital);
    const CARE_TYPE = 'https://vervolgzorg-gateway.example/fhir/CodeSystem/care-type';
    const careType = (valueCoding: object) => ({ name: 'careType', valueCoding });
    const call = (parameter: object[], base = '/fhir/stu3') => fhirCall(sender.url, token, 'POST', `${base}/$offer`, { resourceType: 'Parameters', parameter });
    const document = renamed(documentOf(examples, ADVANCE_NOTICE), 'care-type');
    const bundle = { name: 'advanceNotice', resource: transaction(document) };
    const r4Bundle = { name: 'advanceNotice', resource: transaction(document.map((resource) => convertResource(resource, { from: 'stu3', to: 'r4' }))) };
    const elvHoog = careType({ system: CARE_TYPE, code: 'elv-hoog' });
    const refusals = [
      [await call([bundle, careType({ system: CARE_TYPE, code: 'sauna' }), ...receivers(vvt1)]), 422, 'code-invalid', /'careType' .*care-type\|sauna is not in the ValueSet/],
      [await call([bundle, careType({ system: 'http://snomed.info/sct', code: 'elv-hoog' }), ...receivers(vvt1)]), 422, 'code-invalid', /'careType' http:\/\/snomed.info\/sct\|elv-hoog is not in/],
      [await call([bundle, elvHoog, elvHoog, ...receivers(vvt1)]), 400, 'invalid', /'careType' may be given at most 1 time/],
      [await call([bundle, { name: 'careType', valueCode: 'elv-hoog' }, ...receivers(vvt1)]), 400, 'invalid', /'careType' takes one valueCoding/],
    ] as const;
    for (const [answer, status, code, text] of refusals) {
      expect([answer.status, answer.body.issue]).toEqual([status, [expect.objectContaining({ code, expression: ['careType'], details: { text: expect.stringMatching(text) } })]]);
    }

    const asked = [{ coding: [{ system: CARE_TYPE, code: 'elv-hoog', display: 'Eerstelijnsverblijf hoog complex' }] }];
    const [task] = parametersNamed((await call([bundle, elvHoog, ...receivers(vvt1)])).body, 'task');
    expect(task.performerType).toEqual(asked);
    expect((await localTaskOf(vvt1, task.id!, 'requested')).performerType).toEqual(asked);
    const [r4Task] = parametersNamed((await call([r4Bundle, elvHoog, ...receivers(vvt2)], '/fhir')).body, 'task');
    expect(r4Task.performerType).toEqual(asked);
    const copy = await localTaskOf(vvt2, r4Task.id!, 'requested');
    expect((await fhirCall(receiver.url, await ehrToken(receiver.url, vvt2), 'GET', `/fhir/Task/${copy.id}`)).body.performerType).toEqual(asked);
  });

  it("keeps a transfer's bookkeeping out of the EHR's FHIR data on either side: a Basic of the Task's id is the EHR's own", async () => {
    const token = await ehrToken(sender.url, hospital);
    const [task] = parametersNamed((await offer(token, '/fhir/stu3', transaction(renamed(documentOf(examples, ADVANCE_NOTICE), 'records')), [vvt1])).body, 'task');
    const copy = await localTaskOf(vvt1, task.id!, 'requested');
    const ehr1 = await ehrToken(receiver.url, vvt1);
    for (const [gateway, tenant, ehr, id] of [
      [sender, hospital.id, token, task.id!],
      [receiver, vvt1.id, ehr1, copy.id!],
    ] as const) {
      const record = await transferRecord(gateway.config, tenant, id);
      expect(record).toMatchObject({ task: id, side: gateway === sender ? 'outbound' : 'inbound' });
      expect((await fhirCall(gateway.url, ehr, 'GET', `/fhir/Basic/${id}`)).status).toBe(404);
      expect((await fhirCall(gateway.url, ehr, 'PUT', `/fhir/Basic/${id}`, { resourceType: 'Basic', id, code: { text: 'mine' } })).status).toBe(201);
      expect((await fhirCall(gateway.url, ehr, 'DELETE', `/fhir/Basic/${id}`)).status).toBeLessThan(300);
      expect(await transferRecord(gateway.config, tenant, id)).toEqual(record);
    }
  });

  it('issues no authorization credentials for a transfer: its access is in Consents the EHR finds as the guard does', async () => {
    const token = await ehrToken(sender.url, hospital);
    const [task] = parametersNamed((await offer(token, '/fhir/stu3', transaction(renamed(documentOf(examples, ADVANCE_NOTICE), 'credentials')), [vvt1])).body, 'task');
    const record = (await transferRecord(sender.config, hospital.id, task.id!))!;
    expect(Object.keys(record).filter((field) => /Credential/.test(field))).toEqual([]);
    const found = await fhirCall(sender.url, token, 'GET', `/fhir/Consent?data=Task/${task.id}`);
    expect(found.status).toBe(200);
    const consents = ((found.body.entry as { resource: { id: string; status: string } }[] | undefined) ?? []).map((entry) => entry.resource);
    expect(consents.map((consent) => [consent.id, consent.status])).toEqual([[`eoverdracht-task-${task.id}`, 'active']]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keyOf } from '../../src/fhir/references.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, parametersNamed, tasks, transaction } from './support.js';

/**
 * Every access to a transfer leaves its AuditEvent in the trail of the organisation whose data it is: `$offer`,
 * `$handoff`, `$document`, Task reads (read, vread, search) and writes, allowed or refused. An operation's event
 * names the operation, the patient, the requester (and the person behind a remote request), and the outcome.
 */
let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
const examples = nictizExamples();
const PATIENT = 'Patient/nl-core-patient-eov-test-1-5-01';
const NURSE = { id: 'nurse-7', name: 'N. Verpleegkundige', role: 'nurse' };

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  sites = await startSites([await newSite([{ party: hospital, roles: ['sender'] }], 'audit-'), await newSite([{ party: vvt, roles: ['receiver'] }], 'audit-')]);
  [sender, receiver] = sites.gateways;
}, 60_000);
afterAll(() => sites?.close());

interface AuditEvent extends Resource {
  type: { code: string };
  subtype: { code: string }[];
  action: string;
  outcome: string;
  outcomeDesc?: string;
  agent: { who?: { identifier?: { value?: string }; display?: string }; role?: { text?: string }[] }[];
  entity: { what?: { reference?: string; identifier?: { system?: string; value?: string } }; name?: string; query?: string }[];
}

const requester = (event: AuditEvent) => event.agent[0]?.who?.identifier?.value;
const references = (event: AuditEvent) => event.entity.flatMap((entity) => (entity.what?.reference ? [entity.what.reference] : [])).sort();
const operationOf = (event: AuditEvent) => event.entity.find((entity) => entity.what?.identifier?.system === 'urn:ietf:rfc:3986')?.name;
/** Reading the trail is an access to patient data too; those events are not what a test looks for. */
const readsTrail = (event: AuditEvent) => event.entity.some((entity) => entity.query && Buffer.from(entity.query, 'base64').toString().startsWith('/AuditEvent'));

/** The REST events of a tenant's trail, newest first, as its EHR reads them. */
async function trail(gateway: Gateway, p: Party): Promise<AuditEvent[]> {
  const { status, body } = await fhirCall(gateway.url, await ehrToken(gateway.url, p), 'GET', '/fhir/AuditEvent?_sort=-date&_count=500');
  expect(status).toBe(200);
  const events = ((body.entry as { resource: AuditEvent }[] | undefined) ?? []).map((entry) => entry.resource);
  return events.filter((event) => event.type.code === 'rest' && !readsTrail(event));
}

/**
 * What `action` answered, and the events it added to the tenant's trail on behalf of `by` (an EHR client id or an
 * organisation id); `subtype` leaves out what the receiving gateway may read meanwhile (a pull reads the Task).
 */
async function during<T>(gateway: Gateway, p: Party, by: string, action: () => Promise<T>, subtype?: string): Promise<{ answer: T; events: AuditEvent[] }> {
  const before = new Set((await trail(gateway, p)).map((event) => event.id));
  const answer = await action();
  const events = (await trail(gateway, p)).filter((event) => !before.has(event.id) && requester(event) === by && (!subtype || event.subtype[0]?.code === subtype));
  return { answer, events };
}

async function localCopy(taskId: string, status: string): Promise<Resource> {
  const token = await ehrToken(receiver.url, vvt);
  return eventually(`Task/${taskId} ${status} at the receiver`, async () =>
    (await tasks(receiver.url, token)).find((task) => task.status === status && JSON.stringify(task.identifier).includes(`/Task/${taskId}`)),
  );
}

/** The receiving organisation's token at the sender, with the nurse behind it: for the sender's Task (RFC 8707 resource, as receivers ask), or for nothing; the Consents decide either way. */
async function receiverToken(senderTask: string | undefined): Promise<string> {
  const resource = senderTask === undefined ? undefined : `${sender.url}/fhir/stu3/Task/${senderTask}`;
  const { status, body } = await organizationToken(sender.url, vvt, hospital.id, 'eOverdracht-sender', [], { usi: NURSE }, resource);
  expect(status).toBe(200);
  return body.access_token as string;
}

const receivers = [{ name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: '22222222' } }];

describe('the audit trail of a transfer', () => {
  let taskId: string;
  let copy: Resource;

  it('records $offer once: the operation, the patient, the Task it made, the EHR, the outcome', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const { answer: offered, events } = await during(sender, hospital, hospital.ehr.clientId, () =>
      fhirCall(sender.url, ehr, 'POST', '/fhir/stu3/$offer', {
        resourceType: 'Parameters',
        parameter: [{ name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) }, ...receivers],
      }),
    );
    expect(offered.status).toBe(200);
    taskId = parametersNamed(offered.body, 'task')[0].id!;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subtype: [{ code: 'operation' }], action: 'E', outcome: '0' });
    expect(operationOf(events[0]!)).toBe('$offer');
    expect(references(events[0]!)).toEqual([PATIENT, `Task/${taskId}`].sort());
    copy = await localCopy(taskId, 'requested');
  });

  it('records each Task read, vread and search on the STU3 base once, naming the patient', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const read = await fhirCall(sender.url, ehr, 'GET', `/fhir/stu3/Task/${taskId}`);
    const version = (read.body.meta as { versionId: string }).versionId;
    const interactions = [
      ['read', `/fhir/stu3/Task/${taskId}`, [PATIENT, `Task/${taskId}`]],
      ['vread', `/fhir/stu3/Task/${taskId}/_history/${version}`, [PATIENT, `Task/${taskId}`]],
      ['search-type', `/fhir/stu3/Task?_id=${taskId}`, [PATIENT]],
    ] as const;
    for (const [code, path, named] of interactions) {
      const { answer, events } = await during(sender, hospital, hospital.ehr.clientId, () => fhirCall(sender.url, ehr, 'GET', path));
      expect(answer.status).toBe(200);
      expect({ code, events: events.length }).toEqual({ code, events: 1 });
      expect(events[0]).toMatchObject({ subtype: [{ code }], action: 'R', outcome: '0' });
      expect(references(events[0]!)).toEqual([...named].sort());
    }
  });

  it('records a refused read of a Task no Consent names, and its 403', async () => {
    const token = await receiverToken(undefined);
    const { answer, events } = await during(sender, hospital, vvt.id, () => fhirCall(sender.url, token, 'GET', '/fhir/stu3/Task/not-offered'));
    expect(answer).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome' } });
    // Only the refusal: a pull of the receiving gateway (allowed) may read the Task meanwhile.
    const refusals = events.filter((event) => event.outcome !== '0');
    expect(refusals).toHaveLength(1);
    const [refusal] = refusals;
    expect(refusal).toMatchObject({ subtype: [{ code: 'read' }], outcome: '4', outcomeDesc: expect.stringContaining('no active eoverdracht Consent names Task/not-offered') });
    expect(references(refusal!)).toEqual(['Task/not-offered']);
  });

  it("records the receiver's Task write once, under the receiving organisation", async () => {
    const ehr = await ehrToken(receiver.url, vvt);
    expect((await fhirCall(receiver.url, ehr, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'accepted' })).status).toBe(200);
    const senderEhr = await ehrToken(sender.url, hospital);
    await eventually(`Task/${taskId} accepted`, async () => ((await fhirCall(sender.url, senderEhr, 'GET', `/fhir/stu3/Task/${taskId}`)).body.status === 'accepted' ? true : undefined));
    const updates = (await trail(sender, hospital)).filter((event) => requester(event) === vvt.id && event.subtype[0]?.code === 'update');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ action: 'U', outcome: '0' });
    expect(references(updates[0]!)).toEqual([PATIENT, `Task/${taskId}`].sort());
  });

  it('records $handoff once, naming the Task and the patient', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const { answer, events } = await during(sender, hospital, hospital.ehr.clientId, () =>
      fhirCall(sender.url, ehr, 'POST', `/fhir/stu3/Task/${taskId}/$handoff`, {
        resourceType: 'Parameters',
        parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
      }),
    );
    expect(answer.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subtype: [{ code: 'operation' }], action: 'E', outcome: '0' });
    expect(operationOf(events[0]!)).toBe('$handoff');
    expect(references(events[0]!)).toEqual([PATIENT, `Task/${taskId}`].sort());
    copy = await localCopy(taskId, 'in-progress');
  });

  it('serves the receiver the nursing handoff as one $document, audited with the nurse behind the request', async () => {
    const token = await receiverToken(taskId);
    const { answer, events } = await during(sender, hospital, vvt.id, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}/$document`), 'operation');
    expect(answer.status).toBe(200);
    const keys = (answer.body.entry as { resource: Resource }[]).map((entry) => keyOf(entry.resource));
    expect(keys[0]).toBe(NURSING_HANDOFF);
    expect([...keys].sort()).toEqual(documentOf(examples, NURSING_HANDOFF).map(keyOf).sort());
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subtype: [{ code: 'operation' }], action: 'E', outcome: '0', purposeOfEvent: [{ text: 'eOverdracht-sender' }] });
    expect(operationOf(events[0]!)).toBe('$document');
    expect(references(events[0]!)).toEqual([NURSING_HANDOFF, PATIENT].sort());
    expect(events[0]!.agent[1]).toMatchObject({ who: { identifier: { value: NURSE.id }, display: NURSE.name }, role: [{ text: NURSE.role }] });
  });

  it('refuses $document of a Composition no active Consent names (403, whether or not it exists), and audits it', async () => {
    const token = await receiverToken(taskId);
    const { answer, events } = await during(
      sender,
      hospital,
      vvt.id,
      async () => [await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}/$document`), await fhirCall(sender.url, token, 'GET', '/fhir/stu3/Composition/not-there/$document')],
      'operation',
    );
    expect(answer).toMatchObject([
      { status: 403, body: { resourceType: 'OperationOutcome' } },
      { status: 403, body: { resourceType: 'OperationOutcome' } },
    ]);
    expect(events).toHaveLength(2);
    expect(events.map((event) => [event.outcome, operationOf(event), references(event)])).toEqual([
      ['4', '$document', ['Composition/not-there']],
      ['4', '$document', [ADVANCE_NOTICE]],
    ]);
  });

  it('refuses the whole document, not a part, when one resource of it is not granted', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const patient = (await fhirCall(sender.url, ehr, 'GET', `/fhir/stu3/${PATIENT}`)).body;
    const added = { resourceType: 'Practitioner', id: 'gp-added', name: [{ family: 'Huisarts' }] };
    expect((await fhirCall(sender.url, ehr, 'PUT', '/fhir/stu3/Practitioner/gp-added', added)).status).toBe(201);
    expect((await fhirCall(sender.url, ehr, 'PUT', `/fhir/stu3/${PATIENT}`, { ...patient, generalPractitioner: [{ reference: 'Practitioner/gp-added' }] })).status).toBe(200);
    const inDocument = await fhirCall(sender.url, ehr, 'GET', `/fhir/stu3/${NURSING_HANDOFF}/$document`);
    expect((inDocument.body.entry as { resource: Resource }[]).map((entry) => keyOf(entry.resource))).toContain('Practitioner/gp-added');

    const token = await receiverToken(taskId);
    const { answer, events } = await during(sender, hospital, vvt.id, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}/$document`), 'operation');
    expect(answer).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome' } });
    expect(JSON.stringify(answer.body.issue)).toMatch(/may not read \(Practitioner\/gp-added\); it is not served in part/);
    expect(events.map((event) => [event.outcome, operationOf(event), references(event)])).toEqual([['4', '$document', [NURSING_HANDOFF]]]);
  });

  it('records a refused $offer in the trail of the tenant that tried it', async () => {
    const ehr = await ehrToken(receiver.url, vvt);
    const { answer, events } = await during(receiver, vvt, vvt.ehr.clientId, () =>
      fhirCall(receiver.url, ehr, 'POST', '/fhir/stu3/$offer', {
        resourceType: 'Parameters',
        parameter: [{ name: 'composition', valueReference: { reference: ADVANCE_NOTICE } }, ...receivers],
      }),
    );
    expect(answer).toMatchObject({ status: 403, body: { resourceType: 'OperationOutcome' } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ subtype: [{ code: 'operation' }], outcome: '4', outcomeDesc: expect.stringContaining('sender role') });
    expect(operationOf(events[0]!)).toBe('$offer');
    expect(references(events[0]!)).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { ehrToken, fhirCall, nurseOf, organizationToken } from '../harness/calls.js';
import { REFUSAL_REASON_SYSTEM } from '../../src/vocabulary/canonical.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, parametersNamed, tasks, transaction } from './support.js';

/**
 * The sender authorizes a receiver's pull by the Consents it records (issue #14 item 2): they appear with the
 * offer, change with the status, and every remote access they do not allow — no Consent, another organisation, an
 * ended transfer, an interaction other than a read, `$document` or the Task's update — is a 403 with an
 * OperationOutcome and an AuditEvent in the sender's trail.
 */
let hospital: Party;
let vvt: Party;
let other: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
const examples = nictizExamples();
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const SCOPE = { system: 'http://nuts-foundation.github.io/nl-generic-functions-ig/CodeSystem/nl-gf-consent-scope', code: 'eoverdracht' };

beforeAll(async () => {
  [hospital, vvt, other] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222'), party('vvt-other', 'VVT Twee', '33333333')]);
  sites = await startSites([
    await newSite([{ party: hospital, roles: ['sender'] }], 'consent-'),
    await newSite([{ party: vvt, roles: ['receiver'] }, { party: other, roles: ['receiver'] }], 'consent-'),
  ]);
  [sender, receiver] = sites.gateways;
}, 60_000);
afterAll(() => sites?.close());

interface AuditEvent extends Resource {
  type: { code: string };
  subtype: { code: string }[];
  outcome: string;
  outcomeDesc?: string;
  agent: { who?: { identifier?: { value?: string } } }[];
}

interface Consent extends Resource {
  status: string;
  provision: { action: { coding: { code: string }[] }[]; data: { reference: { reference: string } }[]; period?: { end?: string } };
}

/** A Consent of the hospital, as its EHR reads it on the R4 base (undefined when there is none). */
async function consent(id: string): Promise<Consent | undefined> {
  const { status, body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'GET', `/fhir/Consent/${id}`);
  if (status === 404) return undefined;
  expect(status).toBe(200);
  return body as Consent;
}
const dataOf = (c: Consent | undefined) => c?.provision.data.map((entry) => entry.reference.reference) ?? [];
const actionsOf = (c: Consent | undefined) => c?.provision.action.map((entry) => entry.coding[0]?.code) ?? [];

/** A receiver's token at the hospital on behalf of its nurse (the sender opens the nursing handoff only to a named person). */
async function pullToken(p: Party): Promise<string> {
  const { status, body } = await organizationToken(sender.url, p, hospital.id, 'eOverdracht-sender', [], { usi: nurseOf(p) });
  expect(status).toBe(200);
  return body.access_token as string;
}

/** The refusals the sender's trail holds for `by` since `since` (ids seen before), newest first. */
async function refusalsOf(by: string, since: Set<string>): Promise<AuditEvent[]> {
  const { body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'GET', '/fhir/AuditEvent?_sort=-date&_count=500');
  const events = ((body.entry as { resource: AuditEvent }[] | undefined) ?? []).map((entry) => entry.resource);
  return events.filter((event) => !since.has(event.id!) && event.type.code === 'rest' && event.outcome !== '0' && event.agent[0]?.who?.identifier?.value === by);
}
async function trailIds(): Promise<Set<string>> {
  const { body } = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'GET', '/fhir/AuditEvent?_count=500');
  return new Set(((body.entry as { resource: AuditEvent }[] | undefined) ?? []).map((entry) => entry.resource.id!));
}

/** A refused call: 403 with an OperationOutcome saying why, and exactly one refusal AuditEvent naming the reason. */
async function expectRefused(by: Party, call: () => Promise<{ status: number; body: Record<string, unknown> }>, why: RegExp): Promise<void> {
  const before = await trailIds();
  const answer = await call();
  expect(answer.status).toBe(403);
  expect(answer.body.resourceType).toBe('OperationOutcome');
  expect(JSON.stringify(answer.body.issue)).toMatch(why);
  const refusals = await refusalsOf(by.id, before);
  expect(refusals).toHaveLength(1);
  expect(refusals[0]).toMatchObject({ outcome: '4', outcomeDesc: expect.stringMatching(why) });
}

async function localCopy(taskId: string, status: string): Promise<Resource> {
  const token = await ehrToken(receiver.url, vvt);
  return eventually(`Task/${taskId} ${status} at the receiver`, async () =>
    (await tasks(receiver.url, token)).find((task) => task.status === status && JSON.stringify(task.identifier).includes(`/Task/${taskId}`)),
  );
}

let taskId: string;

describe('Consents at the sender', () => {
  it('records them with the offer: the Task (access, correct) and the advance notice with what it references', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const offered = await fhirCall(sender.url, ehr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [{ name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) }, { name: 'receiver', valueIdentifier: { system: URA, value: vvt.ura } }],
    });
    expect(offered.status).toBe(200);
    taskId = parametersNamed(offered.body, 'task')[0].id!;
    const [task, notice, handoff] = await Promise.all([
      consent(`eoverdracht-task-${taskId}`),
      consent(`eoverdracht-advancenotice-${taskId}`),
      consent(`eoverdracht-handoff-${taskId}`),
    ]);
    for (const c of [task, notice]) {
      expect(c).toMatchObject({
        resourceType: 'Consent',
        status: 'active',
        scope: { coding: [SCOPE] },
        organization: [{ identifier: { system: URA, value: hospital.ura } }],
        provision: { type: 'permit', actor: [{ reference: { identifier: { system: URA, value: vvt.ura } } }] },
      });
    }
    expect([dataOf(task), actionsOf(task)]).toEqual([[`Task/${taskId}`], ['access', 'correct']]);
    expect(dataOf(notice).sort()).toEqual(documentOf(examples, ADVANCE_NOTICE).map((r) => `${r.resourceType}/${r.id}`).sort());
    expect(actionsOf(notice)).toEqual(['access']);
    expect(handoff).toBeUndefined();
    for (const c of [task, notice]) {
      const { meta: _meta, ...written } = c!;
      const validated = await fhirCall(sender.url, ehr, 'POST', '/fhir/Consent/$validate', written);
      expect([c!.id, validated.status, (validated.body.issue as { severity: string }[]).filter((issue) => issue.severity === 'error')]).toEqual([c!.id, 200, []]);
    }
    await localCopy(taskId, 'requested');
  });

  it('lets the receiver read what they name and call $document on the advance notice', async () => {
    const token = await pullToken(vvt);
    expect((await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task/${taskId}`)).status).toBe(200);
    expect((await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`)).status).toBe(200);
    expect((await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}/$document`)).status).toBe(200);
  });

  it("lets the tenant's EHR find them by what they name, by the receiver and by scope and status", async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const ids = async (query: string) => {
      const { status, body } = await fhirCall(sender.url, ehr, 'GET', `/fhir/Consent?${query}`);
      expect([query, status]).toEqual([query, 200]);
      return ((body.entry as { resource: Resource }[] | undefined) ?? []).map((entry) => entry.resource.id).sort();
    };
    const ofTask = [`eoverdracht-advancenotice-${taskId}`, `eoverdracht-task-${taskId}`];
    expect(await ids(`data=Task/${taskId}`)).toEqual([`eoverdracht-task-${taskId}`]);
    expect(await ids(`data=${ADVANCE_NOTICE}`)).toEqual([`eoverdracht-advancenotice-${taskId}`]);
    expect(await ids(`actor:identifier=${encodeURIComponent(`${URA}|${vvt.ura}`)}`)).toEqual(ofTask);
    expect(await ids(`actor:identifier=${encodeURIComponent(`${URA}|${other.ura}`)}`)).toEqual([]);
    expect(await ids(`scope=${encodeURIComponent(`${SCOPE.system}|${SCOPE.code}`)}&status=active`)).toEqual(ofTask);
  });
});

describe('every refused remote access: a 403 with an OperationOutcome and an AuditEvent', () => {
  it('no Consent: a resource of the transfer no Consent names yet', async () => {
    const token = await pullToken(vvt);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}`), /no active eoverdracht Consent names Composition\//);
  });

  it('wrong organisation: the Task and the document of a transfer to another organisation', async () => {
    const stranger = await pullToken(other);
    await expectRefused(other, () => fhirCall(sender.url, stranger, 'GET', `/fhir/stu3/Task/${taskId}`), /no active eoverdracht Consent names Task\//);
    await expectRefused(other, () => fhirCall(sender.url, stranger, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}/$document`), /no active eoverdracht Consent names Composition\//);
  });

  it('wrong interaction: a search, a delete, an update of anything but the Task', async () => {
    const token = await pullToken(vvt);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task?_id=${taskId}`), /may only read, call \$document on a Composition, or update its Task/);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'DELETE', `/fhir/stu3/Task/${taskId}`), /may only read/);
    const composition = (await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`)).body;
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'PUT', `/fhir/stu3/${ADVANCE_NOTICE}`, composition), /may only read/);
  });
});

describe('Consents follow the status', () => {
  it('moves the access from the advance notice to the handoff on in-progress', async () => {
    const copy = await localCopy(taskId, 'requested');
    expect((await fhirCall(receiver.url, await ehrToken(receiver.url, vvt), 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'accepted' })).status).toBe(200);
    const ehr = await ehrToken(sender.url, hospital);
    await eventually('accepted at the hospital', async () => ((await fhirCall(sender.url, ehr, 'GET', `/fhir/stu3/Task/${taskId}`)).body.status === 'accepted' ? true : undefined));
    const handedOff = await fhirCall(sender.url, ehr, 'POST', `/fhir/stu3/Task/${taskId}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOff.status).toBe(200);
    const [notice, handoff] = await Promise.all([consent(`eoverdracht-advancenotice-${taskId}`), consent(`eoverdracht-handoff-${taskId}`)]);
    expect(notice?.status).toBe('inactive');
    expect(handoff?.status).toBe('active');
    expect(dataOf(handoff)).toContain(NURSING_HANDOFF);
    const token = await pullToken(vvt);
    expect((await fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}/$document`)).status).toBe(200);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`), /no active eoverdracht Consent names Composition\//);
  });

  it('opens the handoff only to a token that names a person, the Task to one that names nobody (the default person policy)', async () => {
    const { body } = await organizationToken(sender.url, vvt, hospital.id, 'eOverdracht-sender', []);
    const machine = body.access_token as string;
    expect((await fhirCall(sender.url, machine, 'GET', `/fhir/stu3/Task/${taskId}`)).status).toBe(200);
    for (const path of [NURSING_HANDOFF, `${NURSING_HANDOFF}/$document`]) {
      await expectRefused(vvt, () => fhirCall(sender.url, machine, 'GET', `/fhir/stu3/${path}`), /requires a user identity/);
    }
    const refused = await fhirCall(sender.url, machine, 'GET', `/fhir/stu3/${NURSING_HANDOFF}`);
    expect((refused.body.issue as { details: { coding: unknown[] } }[])[0].details.coding).toContainEqual({ system: REFUSAL_REASON_SYSTEM, code: 'user-identity-required' });
  });

  it('ends the document access with the transfer and keeps only the Task readable to its receiver (Bolt §4.2.1)', async () => {
    const ehr = await ehrToken(sender.url, hospital);
    const current = (await fhirCall(sender.url, ehr, 'GET', `/fhir/stu3/Task/${taskId}`)).body;
    expect((await fhirCall(sender.url, ehr, 'PUT', `/fhir/stu3/Task/${taskId}`, { ...current, status: 'cancelled' })).status).toBe(200);
    const [task, handoff] = await Promise.all([consent(`eoverdracht-task-${taskId}`), consent(`eoverdracht-handoff-${taskId}`)]);
    expect(handoff?.status).toBe('inactive');
    expect(task?.status).toBe('active');
    expect(actionsOf(task)).toEqual(['access']);
    expect(Date.parse(task!.provision.period!.end!)).toBeGreaterThan(Date.now() + 300 * 24 * 3600 * 1000);
    const read = await fhirCall(sender.url, await pullToken(vvt), 'GET', `/fhir/stu3/Task/${taskId}`);
    expect(read).toMatchObject({ status: 200, body: { status: 'cancelled' } });
  });

  it('ended transfer: refuses the document, its $document and the update of the Task (403, OperationOutcome, AuditEvent)', async () => {
    const token = await pullToken(vvt);
    const task = (await fhirCall(sender.url, token, 'GET', `/fhir/stu3/Task/${taskId}`)).body;
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}`), /no active eoverdracht Consent names Composition\//);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'GET', `/fhir/stu3/${NURSING_HANDOFF}/$document`), /no active eoverdracht Consent names Composition\//);
    await expectRefused(vvt, () => fhirCall(sender.url, token, 'PUT', `/fhir/stu3/Task/${taskId}`, { ...task, status: 'completed' }), /no longer allows its update \(the transfer has ended\)/);
  });
});

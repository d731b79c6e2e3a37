import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { type Gateway } from '../../src/main.js';
import { localId } from '../../src/transfer/receiver.js';
import { backends, POSTGRES_URL } from '../store/backends.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { removeFolder } from '../harness/folders.js';
import { freePort, newSite, siteConfig, startSite } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  nictizExamples,
  NURSING_HANDOFF,
  parametersNamed,
  taskWithStatus,
  transaction,
} from './support.js';

/**
 * Two `$handoff`s of one transfer at the same moment, for the two candidates that both accepted: exactly one wins,
 * the other is refused with a 409 saying the transfer was already handed off, and only the winner's receiver gets
 * the nursing handoff. On SQLite one sending gateway; on PostgreSQL two instances of it on one schema (as behind a
 * load balancer), each taking one of the two requests.
 */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';

/** A Consent of the sender's tenant, read by its EHR on the R4 base. */
async function consentOf(url: string, token: string, id: string) {
  const response = await fhirCall(url, token, 'GET', `/fhir/Consent/${id}`);
  expect(response.status).toBe(200);
  return response.body;
}
const consentData = (consent: unknown) => (consent as { provision: { data: { reference: { reference: string } }[] } }).provision.data.map((entry) => entry.reference.reference);
const examples = nictizExamples();

describe.each(backends.map(([name]) => name))('two $handoffs of one transfer at once (%s)', (backend) => {
  const schema = `handoff_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const dirs: string[] = [];
  let hospital: Party;
  let vvt1: Party;
  let vvt2: Party;
  let senders: Gateway[] = [];
  let receiver: Gateway;

  beforeAll(async () => {
    [hospital, vvt1, vvt2] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222'), party('vvt-2', 'VVT Twee', '33333333')]);
    const h = await newSite([{ party: hospital, roles: ['sender'] }], 'handoff-');
    const v = await newSite(
      [
        { party: vvt1, roles: ['receiver'] },
        { party: vvt2, roles: ['receiver'] },
      ],
      'handoff-',
    );
    dirs.push(h.dataDir, v.dataDir);
    const database = (suffix: string) => (backend === 'postgres' ? { databaseUrl: POSTGRES_URL, databaseSchema: `${schema}_${suffix}` } : {});
    const senderConfig = { ...(await siteConfig(h, [v])), ...database('h') };
    // PostgreSQL: a second instance on its own port, answering for the same public URL.
    const ports = backend === 'postgres' ? [h.port, await freePort()] : [h.port];
    senders = await Promise.all(ports.map((port) => startSite(h, { ...senderConfig, port })));
    receiver = await startSite(v, { ...(await siteConfig(v, [h])), ...database('v') });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...senders, receiver].map((gateway) => gateway?.close()));
    for (const dir of dirs) removeFolder(dir);
    if (backend !== 'postgres') return;
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    for (const suffix of ['h', 'v']) await client.query(`drop schema if exists ${schema}_${suffix} cascade`);
    await client.end();
  });

  /** An offer to the parties; the Task ids. */
  async function offerTo(token: string, parties: Party[]): Promise<string[]> {
    const offered = await fhirCall(senders[0].url, token, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) },
        ...parties.map((p) => ({ name: 'receiver', valueIdentifier: { system: URA, value: p.ura } })),
      ],
    });
    expect(offered.status).toBe(200);
    return parametersNamed(offered.body, 'task').map((task) => task.id!);
  }

  /** An offer to the parties, accepted by each of them (their EHRs answer at the receiving gateway); the Task ids. */
  async function acceptedOffer(token: string, parties: Party[]): Promise<string[]> {
    const taskIds = await offerTo(token, parties);
    await Promise.all(parties.map((p, index) => accept(p, taskIds[index])));
    await Promise.all(taskIds.map((id) => taskWithStatus(senders[0].url, token, id, 'accepted')));
    return taskIds;
  }

  async function accept(p: Party, remoteTask: string): Promise<void> {
    const token = await ehrToken(receiver.url, p);
    const id = localId(hospital.id, `Task/${remoteTask}`);
    const copy = await taskWithStatus(receiver.url, token, id, 'requested');
    expect((await fhirCall(receiver.url, token, 'PUT', `/fhir/stu3/Task/${id}`, { ...copy, status: 'accepted' })).status).toBe(200);
  }

  /** Each clinician sends a handoff of their own (its Composition id names the Task); the Patient and the rest are shared. */
  const handoffOf = (taskId: string) => `${NURSING_HANDOFF}-${taskId.slice(0, 8)}`;
  const handoff = (gateway: Gateway, token: string, taskId: string, composition = handoffOf(taskId)) => {
    const document = documentOf(examples, NURSING_HANDOFF).map((resource) =>
      resource.resourceType === 'Composition' ? { ...resource, id: composition.replace('Composition/', '') } : resource,
    );
    return fhirCall(gateway.url, token, 'POST', `/fhir/stu3/Task/${taskId}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(document) }],
    });
  };
  const copyAtReceiver = (composition: string) => `/fhir/stu3/Composition/${localId(hospital.id, composition)}`;

  it('hands over to exactly one candidate; the other gets a 409 and neither its credentials nor the handoff', async () => {
    const token = await ehrToken(senders[0].url, hospital);
    const [task1, task2] = await acceptedOffer(token, [vvt1, vvt2]);

    const answers = await Promise.all([handoff(senders[0], token, task1), handoff(senders[senders.length - 1], token, task2)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const [won, lost] = answers[0].status === 200 ? [[task1, vvt1], [task2, vvt2]] as const : [[task2, vvt2], [task1, vvt1]] as const;
    const refusal = answers.find((answer) => answer.status === 409)!.body;
    expect(refusal.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(refusal.issue)).toMatch(new RegExp(`already handed off.*Task/${won[0]}`));

    await taskWithStatus(senders[0].url, token, won[0], 'in-progress');
    await taskWithStatus(senders[0].url, token, lost[0], 'cancelled');
    // The sender's Consents, as its EHR reads them: the winner's handoff opened, the loser's documents closed.
    const winnerHandoff = await consentOf(senders[0].url, token, `eoverdracht-handoff-${won[0]}`);
    expect(winnerHandoff.status).toBe('active');
    expect(consentData(winnerHandoff)).toContain(handoffOf(won[0]));
    expect((await consentOf(senders[0].url, token, `eoverdracht-advancenotice-${lost[0]}`)).status).toBe('inactive');
    expect((await fhirCall(senders[0].url, token, 'GET', `/fhir/Consent/eoverdracht-handoff-${lost[0]}`)).status).toBe(404);

    // At the receivers: the winner pulls the handoff, the loser learns of the cancellation and never sees it.
    const [winnerEhr, loserEhr] = await Promise.all([ehrToken(receiver.url, won[1]), ehrToken(receiver.url, lost[1])]);
    const handoffCopy = copyAtReceiver(handoffOf(won[0]));
    await eventually('the handoff at the winner', async () => ((await fhirCall(receiver.url, winnerEhr, 'GET', handoffCopy)).status === 200 ? true : undefined));
    await taskWithStatus(receiver.url, loserEhr, localId(hospital.id, `Task/${lost[0]}`), 'cancelled');
    expect((await fhirCall(receiver.url, loserEhr, 'GET', copyAtReceiver(handoffOf(lost[0])))).status).toBe(404);
  }, 60_000);

  it('changes nothing on a repeated $handoff, and moves the access to another handoff document when given one', async () => {
    const token = await ehrToken(senders[0].url, hospital);
    const [task] = await acceptedOffer(token, [vvt1]);
    const first = await handoff(senders[0], token, task);
    expect(first.status).toBe(200);
    const again = await handoff(senders[senders.length - 1], token, task);
    expect(again.status).toBe(200);
    expect(parametersNamed(again.body, 'task')[0].meta).toEqual(parametersNamed(first.body, 'task')[0].meta);

    // A Bundle of POST entries gives the Composition a new id every time: the Task and the credential follow it.
    const other = `${NURSING_HANDOFF}-other`;
    expect((await handoff(senders[0], token, task, other)).status).toBe(200);
    const handoffConsent = consentData(await consentOf(senders[0].url, token, `eoverdracht-handoff-${task}`));
    expect([handoffConsent.includes(other), handoffConsent.includes(handoffOf(task))]).toEqual([true, false]);
    const ehr = await ehrToken(receiver.url, vvt1);
    await eventually('the other handoff at the receiver', async () => ((await fhirCall(receiver.url, ehr, 'GET', copyAtReceiver(other))).status === 200 ? true : undefined));
  }, 60_000);

  it('applies one of two answers the receiving EHR gives at once, and refuses the other with a 409', async () => {
    const [task] = await offerTo(await ehrToken(senders[0].url, hospital), [vvt1]);
    const ehr = await ehrToken(receiver.url, vvt1);
    const id = localId(hospital.id, `Task/${task}`);
    const copy = await taskWithStatus(receiver.url, ehr, id, 'requested');
    const answers = await Promise.all(['accepted', 'rejected'].map((status) => fhirCall(receiver.url, ehr, 'PUT', `/fhir/stu3/Task/${id}`, { ...copy, status })));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const applied = answers.find((answer) => answer.status === 200)!.body.status as string;
    await taskWithStatus(senders[0].url, await ehrToken(senders[0].url, hospital), task, applied);
  }, 60_000);
});

import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { toXml } from '../../src/fhir/xml.js';
import { localId } from '../../src/transfer/receiver.js';
import { keyOf } from '../../src/transfer/references.js';
import { ehrToken, fhirCall, nurseOf, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, siteConfig, startProcess, stopProcess, type Site } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import {
  ADVANCE_NOTICE,
  documentOf,
  nictizExamples,
  NURSING_HANDOFF,
  tasks,
  transaction,
} from './support.js';

/**
 * The done-when: two gateway processes on loopback (`node src/main.ts` with their own configuration, SQLite
 * store and keys, trusting each other). A hospital offers the Nictiz patient 1.5 advance notice (sent as XML) to two
 * care providers hosted on the other gateway while that gateway is down, and is itself restarted (stopped while the
 * other is down, both started again together): the notifications queued before the restart still arrive. One provider rejects, one accepts, the handoff is pulled, the
 * transfer completes; afterwards neither provider's credentials open anything.
 */
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';
const examples = nictizExamples();
let hospital: Party;
let vvt1: Party;
let vvt2: Party;
let h: Site;
let v: Site;
const running = new Map<Site, ChildProcess>();

async function start(target: Site): Promise<void> {
  running.set(target, await startProcess(target));
}

async function stop(target: Site): Promise<void> {
  const child = running.get(target);
  running.delete(target);
  await stopProcess(child);
}

beforeAll(async () => {
  [hospital, vvt1, vvt2] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt-1', 'VVT Een', '22222222'), party('vvt-2', 'VVT Twee', '33333333')]);
  h = await newSite([{ party: hospital, roles: ['sender'] }], 'transfer-e2e-');
  v = await newSite(
    [
      { party: vvt1, roles: ['receiver'] },
      { party: vvt2, roles: ['receiver'] },
    ],
    'transfer-e2e-',
  );
  writeFileSync(path.join(h.dataDir, 'config.json'), JSON.stringify(await siteConfig(h, [v])));
  writeFileSync(path.join(v.dataDir, 'config.json'), JSON.stringify(await siteConfig(v, [h])));
  await Promise.all([start(h), start(v)]);
}, 90_000);

afterAll(async () => {
  await Promise.all([...running.keys()].map(stop));
  for (const site of [h, v]) if (site) rmSync(site.dataDir, { recursive: true, force: true });
});

const localCopy = (p: Party, remoteTask: string, status: string) =>
  eventually(`Task/${remoteTask} ${status} at ${p.id}`, async () => {
    const list = await tasks(v.url, await ehrToken(v.url, p));
    return list.find((task) => task.id === localId(hospital.id, `Task/${remoteTask}`) && task.status === status);
  }, 30_000);

const atHospital = (taskId: string, status: string) =>
  eventually(`Task/${taskId} ${status} at the hospital`, async () => {
    const { body } = await fhirCall(h.url, await ehrToken(h.url, hospital), 'GET', `/fhir/stu3/Task/${taskId}`);
    return body.status === status ? body : undefined;
  });

/**
 * A receiver's token at the hospital, asked for the Task as receivers do (RFC 8707 resource) on behalf of its nurse
 * (the sender opens the handoff only to a named person); the Consents decide.
 */
async function pullToken(p: Party, remoteTask: string): Promise<string> {
  const pull = await organizationToken(h.url, p, hospital.id, 'eOverdracht-sender', [], { usi: nurseOf(p) }, `${h.url}/fhir/stu3/Task/${remoteTask}`);
  expect(pull.status).toBe(200);
  return pull.body.access_token as string;
}

async function answer(p: Party, remoteTask: string, status: string, base = '/fhir/stu3'): Promise<void> {
  const token = await ehrToken(v.url, p);
  const id = localId(hospital.id, `Task/${remoteTask}`);
  const { body: current } = await fhirCall(v.url, token, 'GET', `${base}/Task/${id}`);
  const { status: code } = await fhirCall(v.url, token, 'PUT', `${base}/Task/${id}`, { ...current, status });
  expect(code).toBe(200);
}

describe('eOverdracht across two gateway processes', () => {
  let task1: Resource;
  let task2: Resource;
  let pullToken2: string;

  it('delivers the offer to receivers that were down, across a restart of the sender', async () => {
    await stop(v);
    const offer = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) },
        { name: 'receiver', valueIdentifier: { system: URA, value: vvt1.ura } },
        { name: 'receiver', valueIdentifier: { system: URA, value: vvt2.ura } },
      ],
    };
    const response = await fetch(`${h.url}/fhir/stu3/$offer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await ehrToken(h.url, hospital)}`, 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' },
      body: toXml('stu3', offer),
    });
    expect(response.status).toBe(200);
    const offered = (await response.json()) as { parameter: { name: string; resource: Resource }[] };
    [task1, task2] = offered.parameter.filter((p) => p.name === 'task').map((p) => p.resource);

    await stop(h);
    await Promise.all([start(h), start(v)]);
    await Promise.all([localCopy(vvt1, task1.id!, 'requested'), localCopy(vvt2, task2.id!, 'requested')]);
    pullToken2 = await pullToken(vvt2, task2.id!);
    expect((await fhirCall(h.url, pullToken2, 'GET', `/fhir/stu3/${ADVANCE_NOTICE}`)).status).toBe(200);
  }, 120_000);

  it('lets one receiver reject and the other accept, hands over, completes, and then only the Tasks stay readable', async () => {
    await answer(vvt2, task2.id!, 'rejected');
    await answer(vvt1, task1.id!, 'accepted', '/fhir');
    await atHospital(task2.id!, 'rejected');
    await atHospital(task1.id!, 'accepted');

    const handoff = documentOf(examples, NURSING_HANDOFF);
    const handedOver = await fhirCall(h.url, await ehrToken(h.url, hospital), 'POST', `/fhir/stu3/Task/${task1.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(handoff) }],
    });
    expect(handedOver.status).toBe(200);
    await localCopy(vvt1, task1.id!, 'in-progress');
    const ehr1 = await ehrToken(v.url, vvt1);
    for (const resource of handoff) {
      const copy = await fhirCall(v.url, ehr1, 'GET', `/fhir/stu3/${resource.resourceType}/${localId(hospital.id, keyOf(resource))}`);
      expect([keyOf(resource), copy.status]).toEqual([keyOf(resource), 200]);
    }
    const pullToken1 = await pullToken(vvt1, task1.id!);
    expect((await fhirCall(h.url, pullToken1, 'GET', `/fhir/stu3/${NURSING_HANDOFF}`)).status).toBe(200);
    await answer(vvt1, task1.id!, 'completed');
    await atHospital(task1.id!, 'completed');

    // Bolt §4.2.1: once a transfer ended its documents close; its Task stays readable to its receiver (only to it).
    const ended = [
      [pullToken2, [ADVANCE_NOTICE, 'Patient/nl-core-patient-eov-test-1-5-01', `Task/${task1.id}`], `Task/${task2.id}`],
      [pullToken1, [NURSING_HANDOFF, ADVANCE_NOTICE, 'Patient/nl-core-patient-eov-test-1-5-01', `Task/${task2.id}`], `Task/${task1.id}`],
    ] as const;
    for (const [token, closed, task] of ended) {
      for (const key of closed) expect([key, (await fhirCall(h.url, token, 'GET', `/fhir/stu3/${key}`)).status]).toEqual([key, 403]);
      expect([task, (await fhirCall(h.url, token, 'GET', `/fhir/stu3/${task}`)).status]).toEqual([task, 200]);
    }
  }, 60_000);
});

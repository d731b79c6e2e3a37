import type { Resource } from '../../src/fhir/version.js';
import { localId } from '../../src/transfer/receiver.js';
import { keyOf } from '../../src/transfer/references.js';
import { ehrToken, fhirCall, organizationToken, type Answer } from '../../test/harness/calls.js';
import { eventually } from '../../test/harness/eventually.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, tasks, transaction } from '../../test/transfer/support.js';
import { maasInput, rotteInput, type ProviderInput } from './capacity-input.js';
import type { Gateway, Region } from './sites.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * DESIGN §2 in one run, every call over HTTP between the four gateway processes as the EHRs and organisations would
 * make it: the providers publish capacity; the hospital asks the coordination point who can take an ELV-hoog
 * patient near 3011, offers the eOverdracht transfer to the candidates, one rejects and one accepts (its count drops
 * on the board), the hospital hands the nursing data over, the provider pulls it and completes.
 */
export const CARE_TYPE = 'elv-hoog';
export const POSTCODE = '3011';

export interface Candidate {
  name: string;
  ura: string;
  available?: number;
  total?: number;
  distance?: number;
}

export interface Offered {
  provider: Gateway;
  task: string;
  /** The Task's status at the hospital at the end. */
  finalStatus?: string;
}

export interface StoryResult {
  before: Candidate[];
  afterAccept: Candidate[];
  after: Candidate[];
  offered: Offered[];
  accepted: Gateway;
  rejected: Gateway;
  advanceNoticeResources: number;
  handoffResources: number;
  handoffPulled: number;
  inputs: Map<Gateway, ProviderInput>;
}

type Progress = (line: string) => void;

function expectStatus(answer: Answer, allowed: number[], what: string): Answer {
  if (!allowed.includes(answer.status)) throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 600)}`);
  return answer;
}

const part = (candidate: { name: string; [key: string]: unknown }[], name: string) => candidate.find((item) => item.name === name);

/** The hospital asks the coordination point (Nuts-style token, purpose capacity-subscription). */
async function match(region: Region): Promise<Candidate[]> {
  const { coordinationPoint: cp, hospital } = region;
  const grant = await organizationToken(cp.url, hospital.party, cp.party.id, 'capacity-subscription', []);
  if (grant.status !== 200) throw new Error(`the coordination point refused the hospital a token: ${JSON.stringify(grant.body)}`);
  const { body } = expectStatus(
    await fhirCall(cp.url, grant.body.access_token as string, 'GET', `/fhir/MeasureReport/$match-capacity?care-type=${CARE_TYPE}&postcode=${POSTCODE}&include-unknown=true`),
    [200],
    '$match-capacity',
  );
  const candidates = ((body.parameter as { name: string; part: { name: string; [key: string]: unknown }[] }[]) ?? []).filter((p) => p.name === 'candidate');
  return candidates.map(({ part: parts }) => ({
    name: part(parts, 'name')?.valueString as string,
    ura: ((parts.filter((p) => p.name === 'provider').map((p) => p.valueIdentifier) as { system: string; value: string }[]).find((i) => i.system === URA_SYSTEM)?.value ?? '?'),
    available: part(parts, 'available')?.valueInteger as number | undefined,
    total: part(parts, 'total')?.valueInteger as number | undefined,
    distance: part(parts, 'distance')?.valueInteger as number | undefined,
  }));
}

async function publishCapacity(region: Region, progress: Progress): Promise<Map<Gateway, ProviderInput>> {
  const inputs = new Map<Gateway, ProviderInput>([
    [region.providers[0], maasInput(region.providers[0].party)],
    [region.providers[1], rotteInput(region.providers[1].party)],
  ]);
  for (const [provider, input] of inputs) {
    const ehr = await ehrToken(provider.url, provider.party);
    expectStatus(await fhirCall(provider.url, ehr, 'PUT', '/fhir/Organization/self', input.organization), [200, 201], `${provider.party.name} directory entry`);
    expectStatus(await fhirCall(provider.url, ehr, 'POST', input.capacity.path, input.capacity.resource), [201], `${provider.party.name} capacity`);
    progress(`${provider.party.name}: EHR posted ${input.capacity.path.endsWith('$census') ? 'its bed census' : 'a MeasureReport'} (with ${input.internal.length} internal values: tariffs, contracts, client stops, ...)`);
  }
  return inputs;
}

/** The receiving EHR's copy of the hospital's Task, once its gateway has pulled it in the given status. */
async function localTask(provider: Gateway, hospitalId: string, taskId: string, status: string): Promise<Resource> {
  const token = await ehrToken(provider.url, provider.party);
  return eventually(`Task/${taskId} ${status} at ${provider.party.name}`, async () =>
    (await tasks(provider.url, token)).find((task) => task.id === localId(hospitalId, `Task/${taskId}`) && task.status === status),
  );
}

async function answer(provider: Gateway, task: Resource, status: string): Promise<void> {
  const ehr = await ehrToken(provider.url, provider.party);
  expectStatus(await fhirCall(provider.url, ehr, 'PUT', `/fhir/stu3/Task/${task.id}`, { ...task, status }), [200], `${provider.party.name} ${status}`);
}

async function hospitalTask(region: Region, taskId: string, status: string): Promise<Resource> {
  const token = await ehrToken(region.hospital.url, region.hospital.party);
  return eventually(`Task/${taskId} ${status} at the hospital`, async () => {
    const { body } = await fhirCall(region.hospital.url, token, 'GET', `/fhir/stu3/Task/${taskId}`);
    return body.status === status ? body : undefined;
  });
}

const availableAt = (candidates: Candidate[], provider: Gateway) => candidates.find((c) => c.ura === provider.party.ura)?.available;

export async function runStory(region: Region, progress: Progress): Promise<StoryResult> {
  const [maas, rotte] = region.providers;
  const hospital = region.hospital;
  const inputs = await publishCapacity(region, progress);

  const before = await eventually('both providers on the coordination point’s board', async () => {
    const found = await match(region);
    return availableAt(found, maas) === 2 && availableAt(found, rotte) === 1 ? found : undefined;
  });
  progress(`Hospital asks ${region.coordinationPoint.party.name}: who can take an ${CARE_TYPE} patient near ${POSTCODE}? ${before.length} candidates`);

  const examples = nictizExamples();
  const advanceNotice = documentOf(examples, ADVANCE_NOTICE);
  const candidates = before.filter((candidate) => (candidate.available ?? 0) > 0);
  const hospitalEhr = await ehrToken(hospital.url, hospital.party);
  const offer = expectStatus(
    await fhirCall(hospital.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(advanceNotice) },
        { name: 'careType', valueCoding: { system: CARE_TYPE_SYSTEM, code: CARE_TYPE } },
        ...candidates.map((candidate) => ({ name: 'receiver', valueIdentifier: { system: URA_SYSTEM, value: candidate.ura } })),
      ],
    }),
    [200],
    '$offer',
  );
  const offeredTasks = ((offer.body.parameter as { name: string; resource: Resource }[]) ?? []).filter((p) => p.name === 'task').map((p) => p.resource);
  const offered: Offered[] = offeredTasks.map((task) => ({
    provider: region.providers.find((p) => p.party.ura === (task.owner as { identifier: { value: string } }).identifier.value)!,
    task: task.id as string,
  }));
  progress(`Hospital offered the transfer (advance notice: ${advanceNotice.length} resources) to ${offered.map((o) => o.provider.party.name).join(' and ')}`);

  const taskOf = (provider: Gateway) => offered.find((o) => o.provider === provider)!.task;
  const [maasCopy, rotteCopy] = await Promise.all([
    localTask(maas, hospital.party.id, taskOf(maas), 'requested'),
    localTask(rotte, hospital.party.id, taskOf(rotte), 'requested'),
  ]);
  progress('Both providers were notified and pulled the Task and the advance notice with their credentials');

  await answer(rotte, rotteCopy, 'rejected');
  await hospitalTask(region, taskOf(rotte), 'rejected');
  progress(`${rotte.party.name} rejected`);
  await answer(maas, maasCopy, 'accepted');
  await hospitalTask(region, taskOf(maas), 'accepted');
  const afterAccept = await eventually(`${maas.party.name}'s place taken on the board`, async () => {
    const found = await match(region);
    return availableAt(found, maas) === 1 ? found : undefined;
  });
  progress(`${maas.party.name} accepted: its ${CARE_TYPE} count on the board dropped to ${availableAt(afterAccept, maas)}`);

  const handoff = documentOf(examples, NURSING_HANDOFF);
  expectStatus(
    await fhirCall(hospital.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${taskOf(maas)}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(handoff) }],
    }),
    [200],
    '$handoff',
  );
  const inProgress = await localTask(maas, hospital.party.id, taskOf(maas), 'in-progress');
  const maasEhr = await ehrToken(maas.url, maas.party);
  const pulled = await eventually('the nursing handoff at the provider', async () => {
    const copies = await Promise.all(
      handoff.map(async (resource) => (await fhirCall(maas.url, maasEhr, 'GET', `/fhir/stu3/${resource.resourceType}/${localId(hospital.party.id, keyOf(resource))}`)).status),
    );
    const present = copies.filter((status) => status === 200).length;
    return present === handoff.length ? present : undefined;
  });
  progress(`Hospital handed the nursing data over (${handoff.length} resources); ${maas.party.name} pulled all ${pulled}`);

  await answer(maas, inProgress, 'completed');
  await hospitalTask(region, taskOf(maas), 'completed');
  progress(`${maas.party.name} completed the transfer`);
  for (const entry of offered) {
    const { body } = await fhirCall(hospital.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${entry.task}`);
    entry.finalStatus = body.status as string;
  }
  const after = await match(region);
  return {
    before,
    afterAccept,
    after,
    offered,
    accepted: maas,
    rejected: rotte,
    advanceNoticeResources: advanceNotice.length,
    handoffResources: handoff.length,
    handoffPulled: pulled,
    inputs,
  };
}

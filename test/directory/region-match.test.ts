import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { POPULATION_SYSTEM } from '../../src/capacity/canonical.js';
import { PAYLOAD_TYPES } from '../../src/directory/payload-types.js';
import type { Gateway } from '../../src/main.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';
import { party, type Party } from '../harness/parties.js';
import { advanceNoticeTask, publishInRoot, transferBetween } from './support.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, transaction } from '../transfer/support.js';

/**
 * The whole story in a region the hospital knows only through the directory: its configuration holds its own
 * organisation, the root directory's URL and the coordination point's URA, nothing else (no `trusted[]`). Its EHR
 * asks its own gateway `$match-capacity`, offers to the first candidate's HealthcareService with a standard POST
 * Task, the provider accepts, the hospital hands off, the provider completes. The coordination point, its capacity
 * endpoint, the provider, and everyone's keys are found through the directory; the provider publishes its
 * availability to the coordination point it too knows only by URA.
 */
const examples = nictizExamples();
let zcc: Party;
let hospital: Party;
let vvt: Party;
let root: McsdDirectories;
let sites: RunningSites;
let point: Gateway;
let sender: Gateway;
let receiver: Gateway;

async function syncDirectory(gateway: Gateway, p: Party): Promise<void> {
  expect((await fhirCall(gateway.url, await ehrToken(gateway.url, p), 'POST', '/fhir/$directory-update')).status).toBe(200);
}

function availability(available: number): Record<string, unknown> {
  const now = new Date().toISOString();
  const population = (code: string, count: number) => ({ code: { coding: [{ system: POPULATION_SYSTEM, code }] }, count });
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: 'https://vervolgzorg-gateway.example/fhir/Measure/care-availability',
    date: now,
    period: { start: now, end: now },
    group: [{ code: { coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }, population: [population('available', available), population('total', 10)] }],
  };
}

beforeAll(async () => {
  [zcc, hospital, vvt] = await Promise.all([party('zcc', 'ZCC Rijnmond', '44444444'), party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  const cpSite = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'region-match-');
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'region-match-');
  const v = await newSite([{ party: vvt, roles: ['receiver'] }], 'region-match-');
  root = await new McsdDirectories().start();
  for (const [site, p] of [[cpSite, zcc], [h, hospital], [v, vvt]] as const) publishInRoot(root, p, `${site.url}/mcsd/${p.id}`);
  // No `trusted[]`: only the own organisation, the root directory and (hospital, provider) the coordination point's URA.
  sites = await startSites([cpSite, h, v], ({ trusted: _none, ...raw }) => ({
    ...raw,
    directory: { roots: [root.base('region')], schedule: '0 0 1 1 *' },
    ...(raw.port === cpSite.port ? {} : { coordinationPoint: { ura: zcc.ura }, capacity: { publishDebounceMs: 20 } }),
  }));
  [point, sender, receiver] = sites.gateways;

  const vvtEhr = await ehrToken(receiver.url, vvt);
  const service = {
    resourceType: 'HealthcareService',
    id: 'elv-hoog',
    active: true,
    name: 'ELV hoog Een',
    providedBy: { reference: 'Organization/gateway-organization' },
    type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }],
  };
  expect((await fhirCall(receiver.url, vvtEhr, 'PUT', '/fhir/HealthcareService/elv-hoog', service)).status).toBe(201);
  for (const [gateway, p] of [[point, zcc], [sender, hospital], [receiver, vvt]] as const) await syncDirectory(gateway, p);
  expect((await fhirCall(receiver.url, vvtEhr, 'POST', '/fhir/MeasureReport', availability(3))).status).toBe(201);
}, 90_000);

afterAll(async () => {
  await sites?.close();
  await root?.close();
});

const transfer = () => transferBetween({ gateway: sender, party: hospital }, { gateway: receiver, party: vvt });

type Part = { name: string; valueReference?: { reference: string }; valueString?: string };

async function firstCandidate(): Promise<Part[]> {
  const token = await ehrToken(sender.url, hospital);
  return eventually('a candidate with its HealthcareService', async () => {
    const found = await fhirCall(sender.url, token, 'GET', '/fhir/MeasureReport/$match-capacity?care-type=elv-hoog&postcode=3011AB');
    expect([found.status, found.body.issue]).toEqual([200, undefined]);
    const [candidate] = (found.body.parameter as { name: string; part?: Part[] }[]).filter((parameter) => parameter.name === 'candidate');
    return candidate?.part?.some((part) => part.name === 'healthcareService') ? candidate.part : undefined;
  });
}

describe('a hospital configured with only the root directory and the coordination point’s URA', () => {
  it('finds the coordination point’s R4 base in its directory, an Endpoint only a coordination point publishes', async () => {
    const capacityEndpoints = async (gateway: Gateway, p: Party) => {
      const bundle = (await (await fetch(`${gateway.url}/mcsd/${p.id}/Endpoint`)).json()) as { entry?: { resource: { payloadType: { coding: { code: string }[] }[]; address: string } }[] };
      return (bundle.entry ?? []).filter((entry) => entry.resource.payloadType[0]!.coding[0]!.code === PAYLOAD_TYPES.capacityCoordination).map((entry) => entry.resource.address);
    };
    expect(await capacityEndpoints(point, zcc)).toEqual([`${point.config.publicBaseUrl}/fhir`]);
    expect(await capacityEndpoints(sender, hospital)).toEqual([]);
  });

  it('matches, offers to the first candidate, and the transfer runs to completion', async () => {
    const candidate = await firstCandidate();
    expect(candidate.find((part) => part.name === 'name')?.valueString).toBe(vvt.name);
    const owner = candidate.find((part) => part.name === 'healthcareService')!.valueReference!;

    const hospitalEhr = await ehrToken(sender.url, hospital);
    expect((await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3', transaction(documentOf(examples, ADVANCE_NOTICE)))).status).toBe(200);
    const created = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/Task', advanceNoticeTask(hospital, owner.reference));
    expect([created.status, created.body.owner]).toEqual([201, expect.objectContaining({ identifier: { system: URA_SYSTEM, value: vvt.ura } })]);
    const task = created.body.id as string;

    await transfer().copyAtProvider(task, 'requested');
    await transfer().answer(task, 'accepted');
    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    await transfer().copyAtProvider(task, 'in-progress');
    await transfer().answer(task, 'completed');
  }, 90_000);
});

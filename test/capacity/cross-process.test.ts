import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { BED_STATUS_SYSTEM, POPULATION_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { localId } from '../../src/transfer/receiver.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, siteConfig, startProcess, stopProcess, type Site } from '../harness/gateways.js';
import { party, trustedOrganization, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, transaction } from '../transfer/support.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * The issue's done-when across processes on loopback: a provider gateway (`node src/main.ts`, hosting two VVT
 * providers) publishes to a coordination point's gateway (another process), and a hospital's gateway (a third) offers
 * transfers. Both providers show on the board, a new count reaches the board, a provider that goes silent turns
 * unknown, and nothing of the internal data that came with the reports (tariffs, contracts, notes, narrative) is
 * there. A transfer offered for a care type and accepted by a provider takes one place of that type off the board;
 * cancelled, it gives the place back. How fast a count reaches the board is measured by `npm run bench -- capacity`, not
 * asserted here: on a loaded machine the processes are slow in ways that say nothing about the gateway.
 */
const MARK = '§intern';
let vvt1: Party;
let vvt2: Party;
let zcc: Party;
let hospital: Party;
let cp: Site;
let provider: Site;
let hospitalSite: Site;
const running: ChildProcess[] = [];

async function launch(site: Site, config: Record<string, unknown>): Promise<void> {
  writeFileSync(path.join(site.dataDir, 'config.json'), JSON.stringify(config));
  running.push(await startProcess(site));
}

beforeAll(async () => {
  [vvt1, vvt2, zcc, hospital] = await Promise.all([
    party('vvt-1', 'Zorggroep Maas', '22222222'),
    party('vvt-2', 'Huize Rotte', '33333333'),
    party('zcc', 'ZCC Rijnmond', '44444444'),
    party('hospital', 'Ziekenhuis Zuid', '11111111'),
  ]);
  cp = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'capacity-e2e-');
  provider = await newSite(
    [
      { party: vvt1, roles: ['receiver'] },
      { party: vvt2, roles: ['receiver'] },
    ],
    'capacity-e2e-',
  );
  hospitalSite = await newSite([{ party: hospital, roles: ['sender'] }], 'capacity-e2e-');
  const providerConfig = await siteConfig(provider, [hospitalSite]);
  const coordinationPoint = await trustedOrganization(zcc, { oauth: `${cp.url}/oauth2/token`, fhir: `${cp.url}/fhir` });
  await Promise.all([
    launch(cp, { ...(await siteConfig(cp, [provider, hospitalSite])), capacity: { staleAfterMinutes: 1 } }),
    launch(provider, {
      ...providerConfig,
      trusted: [...(providerConfig.trusted as unknown[]), coordinationPoint],
      coordinationPoint: { organization: zcc.id },
      capacity: { publishDebounceMs: 50 },
    }),
    launch(hospitalSite, await siteConfig(hospitalSite, [provider])),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all(running.map(stopProcess));
  for (const site of [cp, provider, hospitalSite]) if (site) rmSync(site.dataDir, { recursive: true, force: true });
});

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function report(groups: [string, number, number][]): Resource {
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: 'https://vervolgzorg-gateway.example/fhir/Measure/care-availability',
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${MARK} tarief ELV hoog 312,50</div>` },
    contained: [{ resourceType: 'Basic', id: 'contract', code: { text: `${MARK} contract 2025` } }],
    extension: [{ url: 'http://vvt.example/fhir/StructureDefinition/omzetplafond', valueString: `${MARK} 1,2 mln` }],
    date: ago(0),
    period: { start: ago(1000), end: ago(1000) },
    group: groups.map(([careType, available, total]) => ({
      code: { coding: [{ system: CARE_TYPE_SYSTEM, code: careType, display: `${MARK} display` }] },
      population: [
        { code: { coding: [{ system: POPULATION_SYSTEM, code: 'available' }] }, count: available },
        { code: { coding: [{ system: POPULATION_SYSTEM, code: 'total' }] }, count: total },
      ],
    })),
  };
}

/** A token of the hospital for the coordination point's board (purpose capacity-subscription). */
async function boardToken(): Promise<string> {
  const grant = await organizationToken(cp.url, hospital, zcc.id, 'capacity-subscription', []);
  expect(grant.status).toBe(200);
  return grant.body.access_token as string;
}

async function match(query: string, token?: string): Promise<Record<string, unknown>[][]> {
  const { status, body } = await fhirCall(cp.url, token ?? (await boardToken()), 'GET', `/fhir/MeasureReport/$match-capacity?${query}`);
  expect(status).toBe(200);
  return ((body.parameter as { name: string; part?: Record<string, unknown>[] }[]) ?? []).filter((p) => p.name === 'candidate').map((p) => p.part!);
}

const part = (candidate: Record<string, unknown>[], name: string) => candidate.find((item) => item.name === name);

describe('capacity exchange across gateway processes', () => {
  it('two providers publish; the coordination point shows both, with none of their internal data', async () => {
    const ehr1 = await ehrToken(provider.url, vvt1);
    const directory = await fhirCall(provider.url, ehr1, 'PUT', '/fhir/Organization/self', {
      resourceType: 'Organization',
      id: 'self',
      identifier: [{ system: URA_SYSTEM, value: vvt1.ura }, { system: 'http://verzekeraar.example/contract', value: `${MARK}-K7` }],
      name: vvt1.name,
      extension: [{ url: ZORGREGIO_EXTENSION, valueId: 'rijnmond' }, { url: 'http://vvt.example/clientstop', valueString: `${MARK} verzekeraar A` }],
      address: [{ line: [`${MARK} Zorgstraat 1`], postalCode: '3011 AB', city: 'Rotterdam' }],
    });
    expect(directory.status).toBeLessThan(300);
    expect((await fhirCall(provider.url, ehr1, 'POST', '/fhir/MeasureReport', report([['elv-hoog', 3, 10], ['grz', 1, 6]]))).status).toBe(201);

    const beds = ['U', 'U', 'O'].map((status, index) => ({
      resource: {
        resourceType: 'Location',
        id: `bed-${index}`,
        status: 'active',
        operationalStatus: { system: BED_STATUS_SYSTEM, code: status },
        type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }],
        physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] },
        extension: [{ url: 'http://vvt.example/bedtarief', valueString: `${MARK} 250` }],
      },
    }));
    // vvt-2's census was counted 55 s ago: with a staleness period of one minute it turns unknown in a few seconds
    const census = { resourceType: 'Bundle', type: 'collection', timestamp: ago(55_000), entry: beds };
    expect((await fhirCall(provider.url, await ehrToken(provider.url, vvt2), 'POST', '/fhir/Location/$census', census)).status).toBe(201);

    const candidates = await eventually('both providers on the board', async () => {
      const found = await match('care-type=elv-hoog&postcode=3012&include-unknown=true');
      return found.length === 2 ? found : undefined;
    });
    expect(candidates.map((candidate) => part(candidate, 'name'))).toEqual([
      expect.objectContaining({ valueString: vvt1.name }),
      expect.objectContaining({ valueString: vvt2.name }),
    ]);
    expect(part(candidates[0], 'available')).toMatchObject({ valueInteger: 3 });
    const stored = await fhirCall(cp.url, await ehrToken(cp.url, zcc), 'GET', '/fhir/MeasureReport');
    expect((stored.body.entry as unknown[]).length).toBe(2);
    expect(JSON.stringify([candidates, stored.body])).not.toContain(MARK);
  }, 60_000);

  it('a new count reaches the board', async () => {
    await fhirCall(provider.url, await ehrToken(provider.url, vvt1), 'POST', '/fhir/MeasureReport', report([['elv-hoog', 2, 10], ['grz', 1, 6]]));
    await eventually('the new count', async () => {
      const [first] = await match('care-type=elv-hoog&region=rijnmond');
      return (part(first ?? [], 'available') as { valueInteger?: number } | undefined)?.valueInteger === 2 ? true : undefined;
    });
  }, 30_000);

  it('a provider silent longer than the staleness period shows as unknown, never with its old numbers', async () => {
    const stale = await eventually('vvt-2 to turn stale', async () => {
      const found = await match('care-type=elv-hoog&postcode=3012&include-unknown=true');
      const candidate = found.find((item) => (part(item, 'name') as { valueString: string }).valueString === vvt2.name);
      return candidate && (part(candidate, 'stale') as { valueBoolean: boolean }).valueBoolean ? candidate : undefined;
    }, 15_000);
    expect(part(stale, 'available')).toEqual({ name: 'available', _valueInteger: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } });
    const withoutUnknown = await match('care-type=elv-hoog&postcode=3012');
    expect(withoutUnknown.map((candidate) => (part(candidate, 'name') as { valueString: string }).valueString)).toEqual([vvt1.name]);
  }, 30_000);

  it('what left the provider is recorded, and is exactly what the coordination point holds', async () => {
    const ehr1 = await ehrToken(provider.url, vvt1);
    const audit = await fhirCall(provider.url, ehr1, 'GET', '/fhir/AuditEvent?_count=100');
    const payloads = ((audit.body.entry as { resource: Resource }[]) ?? [])
      .flatMap(({ resource }) => (resource.entity as { detail?: { type: string; valueBase64Binary?: string }[] }[] | undefined) ?? [])
      .flatMap((entity) => entity.detail ?? [])
      .filter((detail) => detail.type === 'payload')
      .map((detail) => JSON.parse(Buffer.from(detail.valueBase64Binary!, 'base64').toString('utf8')) as Resource);
    expect(payloads.length).toBeGreaterThanOrEqual(2);
    const held = await fhirCall(cp.url, await ehrToken(cp.url, zcc), 'GET', `/fhir/MeasureReport/ura-${vvt1.ura}`);
    const { meta, id, ...stored } = held.body;
    expect(id).toBe(`ura-${vvt1.ura}`);
    expect(payloads.map(({ meta: _meta, ...payload }) => payload)).toContainEqual(stored);
    expect(meta).toMatchObject({ profile: [expect.stringMatching(/availability-report$/)] });
  }, 30_000);

  it('a transfer offered for a care type and accepted takes one place off the board; cancelled, it is free again', async () => {
    const token = await boardToken();
    const vvt1Available = async (careType: string) => {
      const candidate = (await match(`care-type=${careType}&region=rijnmond`, token)).find((item) => JSON.stringify(part(item, 'provider')).includes(vvt1.ura));
      return (part(candidate ?? [], 'available') as { valueInteger?: number } | undefined)?.valueInteger;
    };
    const showing = (careType: string, count: number) => async () => ((await vvt1Available(careType)) === count ? true : undefined);
    const ehr1 = await ehrToken(provider.url, vvt1);
    expect((await fhirCall(provider.url, ehr1, 'POST', '/fhir/MeasureReport', report([['elv-hoog', 4, 10], ['grz', 1, 6]]))).status).toBe(201);
    await eventually('the census of 4 on the board', showing('elv-hoog', 4));

    // The hospital offers to the best candidate for ELV hoog complex, as $match-capacity names it, for that care type.
    const [best] = await match('care-type=elv-hoog&region=rijnmond', token);
    const hospitalEhr = await ehrToken(hospitalSite.url, hospital);
    const offered = await fhirCall(hospitalSite.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(documentOf(nictizExamples(), ADVANCE_NOTICE)) },
        { name: 'receiver', valueIdentifier: (part(best, 'provider') as { valueIdentifier: object }).valueIdentifier },
        { name: 'careType', valueCoding: { system: CARE_TYPE_SYSTEM, code: 'elv-hoog' } },
      ],
    });
    expect(offered.status).toBe(200);
    const task = (offered.body.parameter as { name: string; resource: Resource }[]).find((p) => p.name === 'task')!.resource;
    expect(task.owner).toMatchObject({ identifier: { system: URA_SYSTEM, value: vvt1.ura } });
    const localTask = `/fhir/stu3/Task/${localId(hospital.id, `Task/${task.id}`)}`;
    const requested = await eventually('the offer at the provider', async () => {
      const { status, body } = await fhirCall(provider.url, ehr1, 'GET', localTask);
      return status === 200 ? body : undefined;
    });
    expect(requested.performerType).toEqual([{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog', display: 'Eerstelijnsverblijf hoog complex' }] }]);

    expect((await fhirCall(provider.url, ehr1, 'PUT', localTask, { ...requested, status: 'accepted' })).status).toBe(200);
    await eventually('one place of ELV hoog complex taken on the board', showing('elv-hoog', 3), 10_000);
    expect(await vvt1Available('grz')).toBe(1);

    const atHospital = await eventually('the acceptance at the hospital', async () => {
      const { body } = await fhirCall(hospitalSite.url, hospitalEhr, 'GET', `/fhir/stu3/Task/${task.id}`);
      return body.status === 'accepted' ? body : undefined;
    });
    expect((await fhirCall(hospitalSite.url, hospitalEhr, 'PUT', `/fhir/stu3/Task/${task.id}`, { ...atHospital, status: 'cancelled' })).status).toBe(200);
    await eventually('the place free again on the board', showing('elv-hoog', 4), 10_000);
    expect((await fhirCall(provider.url, ehr1, 'GET', localTask)).body.status).toBe('cancelled');
  }, 60_000);
});

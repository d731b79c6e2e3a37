import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { importSigningKey } from '../../src/auth/jwk.js';
import type { Resource } from '../../src/fhir/version.js';
import { BED_STATUS_SYSTEM, CARE_TYPE_SYSTEM, POPULATION_SYSTEM, URA_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { ehrToken, eventually, fhirCall, freePort, organizationToken, party, type Party } from '../transfer/support.js';

/**
 * The done-when across processes on loopback: a provider gateway (`node src/main.ts`, hosting two VVT
 * providers) publishes to a coordination point's gateway (another process). Both providers show on the board, a new
 * count shows within a second, a provider that goes silent turns unknown, and nothing of the internal data that came
 * with the reports (tariffs, contracts, notes, narrative) is there.
 */
const MARK = '§intern';
let vvt1: Party;
let vvt2: Party;
let zcc: Party;
let hospital: Party;
const sites: { url: string; dataDir: string; child?: ChildProcess }[] = [];
let provider: { url: string };
let cp: { url: string };

const publicJwk = async (owner: string, jwk: Party['jwk']) => (await importSigningKey(owner, jwk)).publicJwk;

async function hosted(p: Party, roles: string[]) {
  return { id: p.id, name: p.name, ura: p.ura, roles, keys: [{ jwk: p.jwk }], ehrClients: [{ clientId: p.ehr.clientId, jwks: { keys: [await publicJwk(p.ehr.clientId, p.ehr.jwk)] } }] };
}

async function trusted(p: Party, endpoints: Record<string, string> = {}) {
  return { id: p.id, name: p.name, ura: p.ura, jwks: { keys: [await publicJwk(p.id, p.jwk)] }, endpoints };
}

async function start(config: (url: string, dataDir: string) => Promise<Record<string, unknown>>): Promise<{ url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'capacity-e2e-'));
  writeFileSync(path.join(dataDir, 'config.json'), JSON.stringify({ mode: 'production', port, publicBaseUrl: url, dataDir, ...(await config(url, dataDir)) }));
  const log = openSync(path.join(dataDir, 'gateway.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, GATEWAY_CONFIG: path.join(dataDir, 'config.json'), LOG_LEVEL: 'warn' },
    stdio: ['ignore', log, log],
  });
  sites.push({ url, dataDir, child });
  await eventually(`${url} to be ready`, async () => {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}; see ${dataDir}/gateway.log`);
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    return ready?.ok ? true : undefined;
  }, 60_000);
  return { url };
}

beforeAll(async () => {
  [vvt1, vvt2, zcc, hospital] = await Promise.all([
    party('vvt-1', 'Zorggroep Maas', '22222222'),
    party('vvt-2', 'Huize Rotte', '33333333'),
    party('zcc', 'ZCC Rijnmond', '44444444'),
    party('hospital', 'Ziekenhuis Zuid', '11111111'),
  ]);
  cp = await start(async () => ({
    organizations: [await hosted(zcc, ['coordination-point'])],
    trusted: [await trusted(vvt1), await trusted(vvt2), await trusted(hospital)],
    capacity: { staleAfterMinutes: 1 },
  }));
  provider = await start(async () => ({
    organizations: [await hosted(vvt1, ['receiver']), await hosted(vvt2, ['receiver'])],
    trusted: [await trusted(zcc, { oauth: `${cp.url}/oauth2/token`, fhir: `${cp.url}/fhir` })],
    coordinationPoint: { organization: zcc.id },
    capacity: { publishDebounceMs: 50 },
  }));
}, 120_000);

afterAll(async () => {
  for (const site of sites) {
    if (site.child && site.child.exitCode === null) {
      const exited = new Promise((resolve) => site.child!.once('exit', resolve));
      site.child.kill('SIGTERM');
      await exited;
    }
    rmSync(site.dataDir, { recursive: true, force: true });
  }
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

async function match(query: string): Promise<Record<string, unknown>[][]> {
  const grant = await organizationToken(cp.url, hospital, zcc.id, 'capacity-subscription', []);
  expect(grant.status).toBe(200);
  const { status, body } = await fhirCall(cp.url, grant.body.access_token as string, 'GET', `/fhir/MeasureReport/$match-capacity?${query}`);
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

  it('a new count is on the board within a second', async () => {
    const started = Date.now();
    await fhirCall(provider.url, await ehrToken(provider.url, vvt1), 'POST', '/fhir/MeasureReport', report([['elv-hoog', 2, 10], ['grz', 1, 6]]));
    await eventually('the new count', async () => {
      const [first] = await match('care-type=elv-hoog&region=rijnmond');
      return (part(first ?? [], 'available') as { valueInteger?: number } | undefined)?.valueInteger === 2 ? true : undefined;
    });
    expect(Date.now() - started).toBeLessThan(1000 + 500);
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
});

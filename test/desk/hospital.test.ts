import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { party, trustedOrganization, type Party } from '../harness/parties.js';
import { publication } from '../subscriptions/support.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, parametersNamed, taskWithStatus, tasks, transaction } from '../transfer/support.js';

/**
 * The desk of a hospital (pages over HTTP; its gateway in development mode, so the demo user signs in): the overview of
 * its own transfers, offered with `$offer` to two care providers on another gateway, one of which accepts; and the
 * match search at the region's coordination point, a third gateway, called with the hospital's own token.
 */
let hospital: Party;
let vvt1: Party;
let vvt2: Party;
let zcc: Party;
let h: Site;
let v: Site;
let cp: Site;
let sites: RunningSites;
const examples = nictizExamples();
const advanceNotice = documentOf(examples, ADVANCE_NOTICE);

beforeAll(async () => {
  [hospital, vvt1, vvt2, zcc] = await Promise.all([
    party('hospital', 'Ziekenhuis Zuid', '11111111'),
    party('vvt-1', 'Zorggroep Maas', '22222222'),
    party('vvt-2', 'Zorggroep Rotte', '33333333'),
    party('zcc', 'ZCC Rijnmond', '44444444'),
  ]);
  h = await newSite([{ party: hospital, roles: ['sender'] }], 'desk-');
  v = await newSite(
    [
      { party: vvt1, roles: ['receiver'] },
      { party: vvt2, roles: ['receiver'] },
    ],
    'desk-',
  );
  cp = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'desk-');
  const coordinationPoint = await trustedOrganization(zcc, { oauth: `${cp.url}/oauth2/token`, fhir: `${cp.url}/fhir` });
  sites = await startSites([h, v, cp], (raw) => {
    if (raw.port !== h.port) return raw;
    const others = (raw.trusted as { id: string }[]).filter((organization) => organization.id !== zcc.id);
    return { ...raw, mode: 'development', trusted: [...others, coordinationPoint], coordinationPoint: { organization: zcc.id } };
  });
}, 60_000);

afterAll(() => sites?.close());

const get = (path: string, cookie: string) => fetch(`${h.url}${path}`, { redirect: 'manual', headers: { cookie } });

async function signIn(): Promise<string> {
  const answer = await fetch(`${h.url}/desk/sign-in/demo`, { method: 'POST', redirect: 'manual' });
  return answer.headers.getSetCookie().find((cookie) => cookie.startsWith('desk_session='))!.split(';')[0];
}

/** The rows of the transfer overview: the cells of each body row, tags removed. */
function rowsOf(page: string): string[][] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(page)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...row[1].matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((cell) => cell[1].replace(/<[^>]+>/g, '').trim()));
}

describe("a hospital's transfers", () => {
  let offered: Resource[];

  beforeAll(async () => {
    const token = await ehrToken(h.url, hospital);
    const answer = await fhirCall(h.url, token, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(advanceNotice) },
        ...[vvt1, vvt2].map((p) => ({ name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: p.ura } })),
      ],
    });
    expect(answer.status).toBe(200);
    offered = parametersNamed(answer.body, 'task');
    // vvt-1 accepts through its own copy of the Task
    const ehr1 = await ehrToken(v.url, vvt1);
    const copy = await eventually('the offer at vvt-1', async () =>
      (await tasks(v.url, ehr1)).find((task) => (task.identifier as { value: string }[] | undefined)?.[0]?.value.endsWith(`/Task/${offered[0].id}`)),
    );
    expect((await fhirCall(v.url, ehr1, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status: 'accepted' })).status).toBe(200);
    await taskWithStatus(h.url, token, offered[0].id!, 'accepted');
  }, 60_000);

  it('shows to whom each was offered, its status, who accepted and when it changed', async () => {
    const page = await (await get('/desk/transfers', await signIn())).text();
    const rows = rowsOf(page);
    expect(rows).toHaveLength(2);
    const byTask = new Map(rows.map((row) => [row[0], row]));
    const [accepted, open] = offered.map((task) => byTask.get(task.id!)!);
    expect(accepted.slice(1, 4)).toEqual([vvt1.name, 'accepted', 'ja']);
    expect(open.slice(1, 4)).toEqual([vvt2.name, 'requested', 'nee']);
    const times = [...page.matchAll(/<time datetime="([^"]+)">/g)].map((match) => match[1]);
    expect(times).toHaveLength(2);
    for (const time of times) expect(Date.now() - Date.parse(time)).toBeLessThan(10 * 60_000);
  });

  it('shows no patient data', async () => {
    const page = await (await get('/desk/transfers', await signIn())).text();
    const patient = advanceNotice.find((resource) => resource.resourceType === 'Patient')!;
    const bsn = (patient.identifier as { system: string; value: string }[]).find((identifier) => identifier.system === 'http://fhir.nl/fhir/NamingSystem/bsn')!.value;
    const names = (patient.name as { family: string; given?: string[] }[]).flatMap((name) => [name.family, ...(name.given ?? [])]);
    const birthDate = patient.birthDate as string;
    expect([bsn, birthDate, ...names].every((value) => value.length > 0)).toBe(true);
    for (const value of [bsn, birthDate, birthDate.split('-').reverse().join('-'), ...names]) expect(page).not.toContain(value);
    expect(page).not.toContain('Patient/');
  });
});

describe("a hospital's search at the region's coordination point", () => {
  beforeAll(async () => {
    for (const [provider, available] of [[vvt1, 3], [vvt2, 0]] as const) {
      const { body: grant } = await organizationToken(cp.url, provider, zcc.id, 'capacity-publication', []);
      const answer = await fhirCall(cp.url, grant.access_token as string, 'POST', '/fhir/MeasureReport', publication(provider, 'rijnmond', [['elv-hoog', available]]));
      expect(answer.status).toBe(201);
    }
  }, 60_000);

  it("shows the coordination point's candidates, found with the hospital's token", async () => {
    const cookie = await signIn();
    const page = await (await get('/desk/match?care-type=elv-hoog&postcode=3012', cookie)).text();
    const results = /<section id="results"[\s\S]*<\/section>/.exec(page)![0];
    expect(results).toContain(vvt1.name);
    expect(results).toContain(`URA ${vvt1.ura}`);
    expect(results).not.toContain(vvt2.name); // no place free
    const cpEhr = await ehrToken(cp.url, zcc);
    const audit = await fhirCall(cp.url, cpEhr, 'GET', '/fhir/AuditEvent?_count=100');
    // the token the hospital's gateway asked for the search names the person behind it (usi)
    const tokens = (audit.body.entry as { resource: Resource }[]).map((entry) => JSON.stringify(entry.resource)).filter((event) => event.includes('capacity-subscription'));
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toContain(hospital.id);
    expect(tokens[0]).toContain('demo');
  });

  it("shows the coordination point's refusal of a search", async () => {
    const page = await (await get('/desk/match?care-type=elv-hoog&postcode=not-a-postcode', await signIn())).text();
    expect(page).toContain('role="alert"');
    expect(page).not.toContain(vvt1.name);
  });
});

import { beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { Principal } from '../../src/fhir/principal.js';
import type { TrustedOrganization } from '../../src/config/config.js';
import type { Resource } from '../../src/fhir/version.js';
import { foreignIdentityClaim, knownIdentity } from '../../src/capacity/coordination/identity.js';
import { CoordinationPoint, listedPublishers } from '../../src/capacity/coordination/service.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import type { Availability } from '../../src/capacity/model.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { backends, freshTenant, useBackend } from '../store/backends.js';
import { MOMENT, organization, source, type ProviderSample } from './samples.js';
import { AGB_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/**
 * Finding 6 of issue 12: what a publication says about whose availability it is must be the publishing organisation
 * as the coordination point's trust registry knows it (URA, AGB, name). A provider listing a competitor's URA or name
 * is refused, naming the element, and nothing of it reaches the board or `$match-capacity`.
 */
const own: ProviderSample = { ura: '66666666', name: 'Zorggroep Maas', postalCode: '3011 AB', region: 'rijnmond', endpoints: [{ role: 'notification', address: 'https://maas.example/notify' }] };
const competitor: ProviderSample = { ...own, ura: '77777777', name: 'Huize Rotte', postalCode: '3012 AB' };
const trusted: TrustedOrganization[] = [
  { id: 'vvt-maas', name: own.name, ura: own.ura, agb: '01234567', endpoints: {} },
  { id: 'vvt-rotte', name: competitor.name, ura: competitor.ura, endpoints: {} },
];
const elvHoog: Availability = { measuredAt: new Date(MOMENT.getTime() - 60_000).toISOString(), groups: [{ careType: 'elv-hoog', available: 4 }] };
const maas = knownIdentity(trusted[0]);

/** The report a provider gateway sends, built from the allowlist, with `change` applied to what it sends. */
function sent(sample: ProviderSample, change: (payload: Resource & Record<string, any>) => void = () => {}): Resource {
  const payload = structuredClone(buildAvailabilityPayload(source(sample, elvHoog))) as Resource & Record<string, any>;
  change(payload);
  return payload;
}

const competitorUra = { system: URA_SYSTEM, value: competitor.ura };

describe('a publication names only its publisher', () => {
  it('takes what a provider says of itself: its URA, its AGB, its name in any case and spacing', () => {
    expect(foreignIdentityClaim(sent(own), maas)).toBeUndefined();
    const withAgb = sent(own, (payload) => {
      payload.contained[0].identifier.push({ system: AGB_SYSTEM, value: '01234567' });
      payload.contained[0].name = '  zorggroep   MAAS ';
    });
    expect(foreignIdentityClaim(withAgb, maas)).toBeUndefined();
  });

  it.each<[string, (payload: Record<string, any>) => void, string]>([
    ["a competitor's URA before its own", (payload) => payload.contained[0].identifier.unshift(competitorUra), 'MeasureReport.contained[0].identifier[0]'],
    ["a competitor's URA after its own", (payload) => payload.contained[0].identifier.push(competitorUra), 'MeasureReport.contained[0].identifier[1]'],
    ["a competitor's URA as an OID", (payload) => payload.contained[0].identifier.push({ system: 'urn:oid:2.16.528.1.1007.3.3', value: competitor.ura }), 'MeasureReport.contained[0].identifier[1]'],
    ['an AGB the trust registry does not know', (payload) => payload.contained[0].identifier.push({ system: AGB_SYSTEM, value: '07654321' }), 'MeasureReport.contained[0].identifier[1]'],
    ["a competitor's name", (payload) => (payload.contained[0].name = competitor.name), 'MeasureReport.contained[0].name'],
    ["a competitor's name as an alias", (payload) => (payload.contained[0].alias = [own.name, competitor.name]), 'MeasureReport.contained[0].alias[1]'],
    ["a competitor as the reporter", (payload) => (payload.reporter.identifier = competitorUra), 'MeasureReport.reporter.identifier'],
    ["a competitor's name as the reporter's", (payload) => (payload.reporter.display = competitor.name), 'MeasureReport.reporter.display'],
    ['a competitor as the subject', (payload) => (payload.subject = { identifier: competitorUra }), 'MeasureReport.subject.identifier'],
    ["a competitor's name as the subject's", (payload) => (payload.subject = { display: competitor.name }), 'MeasureReport.subject.display'],
    ['a second Organization, of a competitor', (payload) => payload.contained.push({ ...organization(competitor), id: 'other' }), 'MeasureReport.contained[2].identifier[0]'],
    [
      'a HealthcareService provided by a competitor',
      (payload) => payload.contained.push({ resourceType: 'HealthcareService', id: 'hs', providedBy: { identifier: competitorUra } }),
      'MeasureReport.contained[2].providedBy.identifier',
    ],
    [
      "a HealthcareService under a competitor's name",
      (payload) => payload.contained.push({ resourceType: 'HealthcareService', id: 'hs', providedBy: { reference: '#provider', display: competitor.name } }),
      'MeasureReport.contained[2].providedBy.display',
    ],
    [
      'a Location managed by a competitor',
      (payload) => payload.contained.push({ resourceType: 'Location', id: 'site', managingOrganization: { display: competitor.name } }),
      'MeasureReport.contained[2].managingOrganization.display',
    ],
    [
      'an Endpoint managed by a competitor',
      (payload) => (payload.contained[1].managingOrganization = { identifier: competitorUra }),
      'MeasureReport.contained[1].managingOrganization.identifier',
    ],
    [
      "a competitor's URA in an extension",
      (payload) => (payload.extension = [{ url: 'http://example.org/partner', valueIdentifier: competitorUra }]),
      'MeasureReport.extension[0].valueIdentifier',
    ],
  ])('refuses %s, naming the element', (_what, change, at) => {
    expect(foreignIdentityClaim(sent(own, change), maas)).toMatchObject({ at });
  });
});

describe('a claim that is no string', () => {
  it.each<[string, unknown, string]>([
    ['an object with no prototype', Object.create(null), '{}'],
    ['a number', 42, '42'],
    ['an array', ['a'], '["a"]'],
  ])('is refused and quoted as JSON when a name is %s, never thrown on', (_what, name, quoted) => {
    const claim = foreignIdentityClaim(sent(own, (payload) => (payload.contained[0].alias = [name])), maas);
    expect(claim).toEqual({ at: 'MeasureReport.contained[0].alias[0]', claim: quoted });
  });
});

describe.each(backends)('coordination point on %s: a provider claiming a competitor', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;
  let tenant: string;
  let scope: Scope;
  let point: CoordinationPoint;
  const principal = (requester: string): Principal => ({ tenant, kind: 'organization', requester, purposeOfUse: 'capacity-publication', resources: [] });
  const logger = pino({ level: 'silent' });
  const candidates = async () => {
    const [, answer] = await point.match(store, scope, { 'care-type': ['elv-hoog'], postcode: ['3011 AB'] }, MOMENT);
    return (answer!.parameter as { name: string; part?: { name: string; valueString?: string; valueIdentifier?: { value: string } }[] }[])
      .filter((parameter) => parameter.name === 'candidate')
      .map((candidate) => candidate.part!.flatMap((part) => part.valueString ?? part.valueIdentifier?.value ?? []));
  };

  beforeAll(async () => {
    store = await backend.open();
    tenant = freshTenant('zcc');
    scope = { tenant, version: 'r4' };
    point = new CoordinationPoint({ publishers: listedPublishers(trusted), staleAfterMs: 3_600_000, logger });
    expect((await point.receive(store, scope, principal('vvt-rotte'), sent(competitor), MOMENT))[0].id).toBe('created');
  });

  it("is refused with 403 naming the element; the competitor's entry stays as the competitor published it", async () => {
    const claimed = sent(own, (payload) => {
      payload.contained[0].identifier.unshift(competitorUra);
      payload.contained[0].name = competitor.name;
    });
    const [outcome, stored] = await point.receive(store, scope, principal('vvt-maas'), claimed, MOMENT);
    expect(stored).toBeUndefined();
    expect(outcome).toMatchObject({
      id: 'forbidden',
      issue: [{ code: 'forbidden', expression: ['MeasureReport.contained[0].identifier[0]'], details: { text: expect.stringContaining(`${URA_SYSTEM}|${competitor.ura}`) } }],
    });
    const [candidate, ...others] = await candidates();
    expect(others).toEqual([]);
    expect(candidate).toEqual(expect.arrayContaining([competitor.ura, competitor.name]));
    expect(candidate).not.toContain(own.ura);
    expect(await store.resources.read(scope, 'MeasureReport', `ura-${competitor.ura}`)).toMatchObject({ meta: { versionId: '1' } });
  });

  it("refuses a competitor's name under its own URA, and takes the provider's own report", async () => {
    const named = sent(own, (payload) => (payload.contained[0].name = competitor.name));
    expect((await point.receive(store, scope, principal('vvt-maas'), named, MOMENT))[0]).toMatchObject({
      id: 'forbidden',
      issue: [{ expression: ['MeasureReport.contained[0].name'] }],
    });
    expect((await point.receive(store, scope, principal('vvt-maas'), sent(own), MOMENT))[0].id).toBe('created');
    expect((await candidates()).map((parts) => parts.filter((part) => part === own.name || part === competitor.name))).toEqual([[own.name], [competitor.name]]);
  });

  it('leaves a report stored before publications were bound (a claimed competitor) off a rebuilt board', async () => {
    const claimed = buildAvailabilityPayload({
      ...source(own, elvHoog),
      organization: { ...organization(own), identifier: [competitorUra, { system: URA_SYSTEM, value: own.ura }], name: competitor.name },
    });
    const poisoned = freshTenant('zcc');
    const poisonedScope: Scope = { tenant: poisoned, version: 'r4' };
    await store.resources.update(poisonedScope, { ...claimed, id: `ura-${competitor.ura}` });
    await store.resources.create(poisonedScope, sent(own));
    const restarted = new CoordinationPoint({ publishers: listedPublishers(trusted), staleAfterMs: 3_600_000, logger });
    await restarted.rebuild(store, [poisoned], MOMENT);
    expect(restarted.board(poisoned).allRows(MOMENT)).toEqual([]);
  });
});

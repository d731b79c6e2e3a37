import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { didDocument } from '../../src/auth/did.js';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from '../../src/directory/payload-types.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { CAPACITY_CHANGED_TOPIC } from '../../src/subscriptions/index.js';
import { CARE_TYPE_SYSTEM, ORGANIZATION_ID_SYSTEM, URA_SYSTEM, URI_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';
import { party, type Party } from '../harness/parties.js';
import { publishInRoot } from './support.js';
import { publication, receiver, statusOf, topicSubscription, type Receiver } from '../subscriptions/support.js';

/**
 * The coordination point as the region's directory. Nobody has `trusted[]`: the coordination point knows the hospital
 * and the provider (hosted on one gateway) and a regional hub (a directory and a did:web document of its own, no
 * gateway) only through the root directory. Hospitals and hubs search its query directory through the egress
 * allowlist (purpose care-services-query); the hub finds the SubscriptionTopics, subscribes and is notified.
 */
const FORBIDDEN = 'tarief-312-euro';
let zcc: Party;
let hospital: Party;
let vvt: Party;
let hub: Party;
let root: McsdDirectories;
let hooks: Receiver;
let sites: RunningSites;
let point: Gateway;
let provider: Gateway;

/**
 * The hub's own directory: its Organization (URA, the id it signs with, its did:web), its notification Endpoint and
 * its RFC003 token endpoint (where the coordination point, which has no X509Credential, gets the token it delivers
 * notifications with).
 */
function hubDirectory(did: string): void {
  const endpoint = (id: string, code: string, address: string) => ({
    resourceType: 'Endpoint',
    id,
    status: 'active',
    connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
    payloadType: [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code }] }],
    address,
  });
  root.put('hub', endpoint('hub-notification', PAYLOAD_TYPES.twiinNotification, `${hooks.url}/hub`));
  root.put('hub', endpoint('hub-oauth', PAYLOAD_TYPES.rfc003Token, `${hooks.url}/hub/oauth2/token`));
  root.put('hub', {
    resourceType: 'Organization',
    id: 'hub',
    name: hub.name,
    identifier: [
      { system: URA_SYSTEM, value: hub.ura },
      { system: ORGANIZATION_ID_SYSTEM, value: hub.id },
      { system: URI_SYSTEM, value: did },
    ],
    endpoint: [{ reference: 'Endpoint/hub-notification' }, { reference: 'Endpoint/hub-oauth' }],
  });
}

/** The provider's EHR's directory entries, each with an element the coordination point must never show. */
async function providerEntries(): Promise<void> {
  const token = await ehrToken(provider.url, vvt);
  const entries = [
    {
      resourceType: 'Location',
      id: 'noord',
      status: 'active',
      name: 'Locatie Noord',
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'si' }] },
      address: { line: [FORBIDDEN], city: 'Rotterdam', postalCode: '3011 AB' },
      telecom: [{ system: 'phone', value: FORBIDDEN }],
      managingOrganization: { reference: 'Organization/gateway-organization' },
    },
    {
      resourceType: 'HealthcareService',
      id: 'elv-hoog',
      active: true,
      name: 'ELV hoog',
      providedBy: { reference: 'Organization/gateway-organization' },
      type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog', display: FORBIDDEN }], text: FORBIDDEN }],
      location: [{ reference: 'Location/noord' }],
      endpoint: [{ reference: 'Endpoint/gateway-notification' }],
      telecom: [{ system: 'phone', value: FORBIDDEN }],
      characteristic: [{ text: FORBIDDEN }],
      identifier: [{ system: 'http://vvt.example/contract', value: FORBIDDEN }],
    },
  ];
  for (const entry of entries) {
    const { status, body } = await fhirCall(provider.url, token, 'PUT', `/fhir/${entry.resourceType}/${entry.id}`, entry);
    expect([status, body.issue]).toEqual([201, undefined]);
  }
}

beforeAll(async () => {
  [zcc, hospital, vvt, hub] = await Promise.all([
    party('zcc', 'ZCC Rijnmond', '44444444'),
    party('hospital', 'Ziekenhuis', '11111111'),
    party('vvt', 'VVT Een', '22222222'),
    party('hub', 'Regionale hub', '33333333'),
  ]);
  root = await new McsdDirectories().start();
  hooks = await receiver();
  const hubDid = `did:web:${encodeURIComponent(new URL(hooks.url).host)}:hub`;
  hooks.answer = async (request) => {
    if (request.path === '/hub/did.json') return { status: 200, json: didDocument(hubDid, [{ ...hub.jwk, kid: hub.kid, alg: 'ES256' }]) };
    if (request.path === '/hub/oauth2/token') return { status: 200, json: { access_token: 'issued-by-the-hub', token_type: 'bearer', expires_in: 60 } };
    return 200;
  };
  const cpSite: Site = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'region-');
  const others: Site = await newSite([{ party: hospital, roles: ['sender'] }, { party: vvt, roles: ['receiver'] }], 'region-');
  publishInRoot(root, hospital, `${others.url}/mcsd/${hospital.id}`);
  publishInRoot(root, vvt, `${others.url}/mcsd/${vvt.id}`);
  publishInRoot(root, hub, root.base('hub'));
  hubDirectory(hubDid);
  sites = await startSites([cpSite, others], (raw) => ({
    ...raw,
    trusted: [],
    directory: { roots: [root.base('region')], schedule: '0 0 1 1 *' },
    // Plain http on loopback for the hub's receiver; whose endpoint it is, the directory says.
    ...(raw.port === cpSite.port ? { subscriptions: { allowedEndpoints: [`${hooks.url}/hub`] } } : {}),
  }));
  [point, provider] = sites.gateways;
  await providerEntries();
  expect((await fhirCall(point.url, await ehrToken(point.url, zcc), 'POST', '/fhir/$directory-update')).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await sites?.close();
  await root?.close();
  await hooks?.close();
});

async function tokenAt(requester: Party, purposeOfUse: string): Promise<string> {
  const { status, body } = await organizationToken(point.url, requester, zcc.id, purposeOfUse, []);
  expect([status, body.error]).toEqual([200, undefined]);
  return body.access_token as string;
}

const resources = (bundle: Record<string, unknown>) => ((bundle.entry ?? []) as { resource: Resource }[]).map((entry) => entry.resource);
const fromProvider = (found: Resource[], name: string) => found.find((resource) => resource.name === name);
const storeMeta = { versionId: expect.any(String), lastUpdated: expect.any(String) };

describe('the coordination point as the region’s directory', () => {
  it.each([
    ['a hospital', () => hospital],
    ['a hub known only through the directory', () => hub],
  ])('%s searches each directory type of the query directory and gets exactly the allowed elements', async (_who, requester) => {
    const token = await tokenAt(requester(), 'care-services-query');
    const search = async (path: string) => {
      const answer = await fhirCall(point.url, token, 'GET', `/mcsd-query/${path}`);
      expect(answer.status).toBe(200);
      expect(JSON.stringify(answer.body)).not.toContain(FORBIDDEN);
      return resources(answer.body);
    };

    const organizations = await search('Organization');
    const organization = fromProvider(organizations, vvt.name)!;
    expect(organization).toEqual({
      resourceType: 'Organization',
      id: organization.id,
      meta: { ...storeMeta, profile: [expect.stringContaining('provider-organization')] },
      identifier: [{ system: URA_SYSTEM, value: vvt.ura }],
      name: vvt.name,
    });
    expect(fromProvider(organizations, hub.name)).toMatchObject({ identifier: [{ system: URA_SYSTEM, value: hub.ura }] });

    const [location] = await search('Location');
    expect(location).toEqual({
      resourceType: 'Location',
      id: location!.id,
      meta: storeMeta,
      status: 'active',
      name: 'Locatie Noord',
      address: { postalCode: '3011 AB' },
      physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'si' }] },
      managingOrganization: { reference: `Organization/${organization.id}` },
    });

    const [service] = await search('HealthcareService?service-type=elv-hoog');
    expect(service).toEqual({
      resourceType: 'HealthcareService',
      id: service!.id,
      meta: storeMeta,
      active: true,
      providedBy: { reference: `Organization/${organization.id}` },
      type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }],
      location: [{ reference: `Location/${location!.id}` }],
      name: 'ELV hoog',
      endpoint: [{ reference: expect.stringMatching(/^Endpoint\//) }],
    });

    const endpoints = await search('Endpoint');
    const notification = endpoints.find((endpoint) => endpoint.id === (service!.endpoint as { reference: string }[])[0]!.reference.slice('Endpoint/'.length));
    expect(notification).toEqual({
      resourceType: 'Endpoint',
      id: notification!.id,
      meta: { ...storeMeta, profile: [expect.stringContaining('eoverdracht-endpoint')] },
      status: 'active',
      connectionType: { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7-fhir-rest' },
      payloadType: [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code: PAYLOAD_TYPES.twiinNotification }] }],
      address: `${provider.url}/eoverdracht/notification`,
    });
    expect(endpoints.map((endpoint) => endpoint.address)).toContain(`${hooks.url}/hub`);
  });

  it('allows the query directory only to that purpose, and that purpose nothing else', async () => {
    const subscriber = await tokenAt(hub, 'capacity-subscription');
    expect((await fhirCall(point.url, subscriber, 'GET', '/mcsd-query/Organization')).status).toBe(403);
    const reader = await tokenAt(hospital, 'care-services-query');
    expect((await fhirCall(point.url, reader, 'GET', '/fhir/Organization')).status).toBe(403);
    expect((await fhirCall(point.url, reader, 'GET', '/mcsd-query/Basic')).status).toBe(403);
  });

  it('lets a hub found only in the directory discover the capacity topic, subscribe and be notified of a change', async () => {
    const token = await tokenAt(hub, 'capacity-subscription');
    const topics = await fhirCall(point.url, token, 'GET', '/fhir/Basic?code=SubscriptionTopic');
    expect(topics.status).toBe(200);
    expect(resources(topics.body).filter((topic) => JSON.stringify(topic).includes(CAPACITY_CHANGED_TOPIC))).toHaveLength(1);

    const endpoint = `${hooks.url}/hub/capacity`;
    const created = await fhirCall(point.url, token, 'POST', '/fhir/Subscription', topicSubscription({ endpoint }));
    expect(created.status).toBe(201);
    await eventually('the subscription active', async () => ((await fhirCall(point.url, token, 'GET', `/fhir/Subscription/${created.body.id}`)).body.status === 'active' ? true : undefined));

    const grant = await tokenAt(vvt, 'capacity-publication');
    expect((await fhirCall(point.url, grant, 'POST', '/fhir/MeasureReport', publication(vvt, 'rijnmond', [['elv-hoog', 3]]))).status).toBe(201);
    await eventually('the hub notified', async () =>
      hooks.at('/hub/capacity').some((request) => statusOf(request.body).type === 'event-notification') ? true : undefined,
    );
  }, 30_000);
});

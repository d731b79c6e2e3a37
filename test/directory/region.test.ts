import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall, tokenAuditEvents } from '../harness/calls.js';
import { newSite, startSites, type RunningSites, type Site } from '../harness/gateways.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';
import { party, type Party } from '../harness/parties.js';
import { advanceNoticeTask, publishInRoot, transferBetween } from './support.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, offerTo, transaction } from '../transfer/support.js';

/**
 * A region whose gateways know each other only through the directory: no `trusted[]` at all, only the root
 * directory's URL. The root names each organisation's own directory (the /mcsd/{id} its gateway publishes); each
 * gateway's update client reads them, and the offer, the notification, the pull and the handoff find their
 * counterparty by URA, its endpoints from its Endpoints and its keys from its did:web document.
 */
const examples = nictizExamples();
let hospital: Party;
let vvt: Party;
let h: Site;
let v: Site;
let root: McsdDirectories;
let sites: RunningSites;
let sender: Gateway;
let receiver: Gateway;

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  h = await newSite([{ party: hospital, roles: ['sender'] }], 'region-');
  v = await newSite([{ party: vvt, roles: ['receiver'] }], 'region-');
  root = await new McsdDirectories().start();
  publishInRoot(root, hospital, `${h.url}/mcsd/${hospital.id}`);
  publishInRoot(root, vvt, `${v.url}/mcsd/${vvt.id}`);
  sites = await startSites([h, v], (raw) => ({ ...raw, trusted: [], directory: { roots: [root.base('region')], schedule: '0 0 1 1 *' } }));
  [sender, receiver] = sites.gateways;
  for (const [gateway, p] of [
    [sender, hospital],
    [receiver, vvt],
  ] as const) {
    const update = await fhirCall(gateway.url, await ehrToken(gateway.url, p), 'POST', '/fhir/$directory-update');
    expect(update.status).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  await sites?.close();
  await root?.close();
});

const transfer = () => transferBetween({ gateway: sender, party: hospital }, { gateway: receiver, party: vvt });

describe('a region found through its directory', () => {
  it('offers to a provider named only by its URA, which is notified, pulls, accepts, gets the handoff and completes', async () => {
    const task = await offerTo(sender.url, await ehrToken(sender.url, hospital), vvt.ura);
    await transfer().copyAtProvider(task.id!, 'requested');
    await transfer().answer(task.id!, 'accepted');
    const handedOver = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', `/fhir/stu3/Task/${task.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    await transfer().copyAtProvider(task.id!, 'in-progress');
    await transfer().answer(task.id!, 'completed');
  }, 60_000);

  it('starts a transfer with a standard POST Task whose owner is a HealthcareService the hospital’s EHR found in the query directory', async () => {
    const vvtEhr = await ehrToken(receiver.url, vvt);
    const service = { resourceType: 'HealthcareService', id: 'elv-hoog', name: 'ELV hoog Een', providedBy: { reference: 'Organization/gateway-organization' } };
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', '/fhir/HealthcareService/elv-hoog', service)).status).toBe(201);
    const hospitalEhr = await ehrToken(sender.url, hospital);
    expect((await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/$directory-update')).status).toBe(200);
    const found = await fhirCall(sender.url, hospitalEhr, 'GET', '/mcsd-query/HealthcareService?name=ELV');
    expect(found.status).toBe(200);
    const [entry] = found.body.entry as { resource: Resource }[];
    expect(entry!.resource.meta?.source).toBe(`${receiver.config.publicBaseUrl}/mcsd/vvt/HealthcareService/elv-hoog`);
    expect((await fhirCall(receiver.url, vvtEhr, 'GET', '/mcsd-query/HealthcareService')).status).toBe(200);

    expect((await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3', transaction(documentOf(examples, ADVANCE_NOTICE)))).status).toBe(200);
    const task = advanceNoticeTask(hospital, `HealthcareService/${entry!.resource.id}`);
    const created = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/Task', task);
    const body = created.body as { id: string; owner?: { identifier?: unknown } };
    expect([created.status, body.owner?.identifier]).toEqual([201, { system: URA_SYSTEM, value: vvt.ura }]);
    await transfer().copyAtProvider(body.id, 'requested');
  }, 60_000);

  it('asked every token with the RFC003 grant: neither organisation has an X509Credential to present to the other’s v6 authorization server', async () => {
    for (const [gateway, tenant, requester] of [
      [receiver, vvt, hospital],
      [sender, hospital, vvt],
    ] as const) {
      const logins = await tokenAuditEvents(gateway.url, tenant, requester);
      expect(logins.length).toBeGreaterThan(0);
      expect(logins.map((login) => [login.outcome, login.entity[0]?.detail?.[0]])).toEqual(logins.map(() => ['0', { type: 'grant_type', valueString: 'rfc003' }]));
    }
  });

  it('keeps the query directory to the hosted organisations’ own EHRs', async () => {
    expect((await fhirCall(sender.url, 'not-a-token', 'GET', '/mcsd-query/Organization')).status).toBe(401);
  });

  it('still refuses a receiver that neither the configuration nor the directory knows', async () => {
    const offered = await fhirCall(sender.url, await ehrToken(sender.url, hospital), 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) },
        { name: 'receiver', valueIdentifier: { system: URA_SYSTEM, value: '99999999' } },
      ],
    });
    expect(offered.status).toBe(422);
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gateway } from '../../src/main.js';
import { auditTrail, ehrToken, fhirCall, nurseOf } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import type { RunningSites } from '../harness/gateways.js';
import { party, type Party } from '../harness/parties.js';
import { documentOf, nictizExamples, NURSING_HANDOFF, offerTo, tasks, taskWithStatus, transaction } from './support.js';
import { expectOnlyV6Tokens, startV6Sites } from './v6-sites.js';

/**
 * Issue #15's done-when: two gateways complete a whole transfer using only Nuts v6 grants with DPoP (v6-sites.ts: each
 * names the other's authorization server by its Nuts v6 issuer, X509Credentials under a test UZI CA both trust, and
 * both accept nothing but vp_token-bearer): an RFC003 grant or jwt-bearer would be refused, so the transfer completing
 * proves they were not used, and every token AuditEvent names its grant (vp_token-bearer) and binding (DPoP). The
 * sender's AuditEvents of the handoff reads name the nurse whose EHR accepted, as the employee credential in the
 * presentation named them.
 */
let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
const examples = nictizExamples();
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  sites = await startV6Sites(hospital, vvt, 'transfer-v6-');
  [sender, receiver] = sites.gateways;
}, 90_000);
afterAll(() => sites?.close());

const localCopy = (remoteTask: string, status: string) =>
  eventually(`Task/${remoteTask} ${status} at the receiver`, async () => {
    const list = await tasks(receiver.url, await ehrToken(receiver.url, vvt));
    return list.find((task) => task.status === status && JSON.stringify(task.identifier).includes(`/Task/${remoteTask}`));
  }, 30_000);

describe('a transfer between two gateways that accept only Nuts v6 grants', () => {
  it('offers, accepts, hands over and completes, with the nurse named in the sender trail of the handoff reads', async () => {
    const hospitalEhr = await ehrToken(sender.url, hospital);
    const task = await offerTo(sender.url, hospitalEhr, vvt.ura);

    const vvtEhr = await ehrToken(receiver.url, vvt);
    const requested = await localCopy(task.id!, 'requested');
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${requested.id}`, { ...requested, status: 'accepted' })).status).toBe(200);
    await taskWithStatus(sender.url, hospitalEhr, task.id!, 'accepted');

    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    const inProgress = await localCopy(task.id!, 'in-progress');
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${inProgress.id}`, { ...inProgress, status: 'completed' })).status).toBe(200);
    await taskWithStatus(sender.url, hospitalEhr, task.id!, 'completed');

    // R: a read of the Composition or what it references; E: its $document.
    const nurse = nurseOf(vvt);
    const reads = (await auditTrail(sender.url, hospital, `&entity=${NURSING_HANDOFF}`)).filter((event) => ['R', 'E'].includes(event.action) && event.agent[0]?.who?.identifier?.value === vvt.id);
    expect(reads.length).toBeGreaterThan(0);
    for (const event of reads) {
      expect(event.agent[0]).toMatchObject({ altId: `${URA}|${vvt.ura}` });
      expect(event.agent[1]).toMatchObject({ who: { identifier: { value: nurse.id }, display: nurse.name }, role: [{ text: nurse.role }] });
    }
  });

  it("issued each side's tokens with vp_token-bearer, DPoP-bound, on the X509Credential of the other (its URA), and refused none", async () => {
    const sides = [
      [sender, hospital, vvt],
      [receiver, vvt, hospital],
    ] as const;
    await expectOnlyV6Tokens(sides, (login, requester) => expect(login.agent[0]).toMatchObject({ altId: `${URA}|${requester.ura}` }));
  });
});

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createCertificateAuthority } from '../../src/auth/credentials/certificateAuthority.js';
import type { Gateway } from '../../src/main.js';
import { auditTrail, ehrToken, fhirCall, nurseOf, tokenAuditEvents } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { newSite, startSites, type RunningSites } from '../harness/gateways.js';
import { party, uziCertificateFiles, type Party } from '../harness/parties.js';
import { ADVANCE_NOTICE, documentOf, nictizExamples, NURSING_HANDOFF, parametersNamed, tasks, taskWithStatus, transaction } from './support.js';

/**
 * Issue #15's done-when: two gateways complete a whole transfer using only Nuts v6 grants with DPoP. Each names the
 * other's authorization server by its Nuts v6 issuer (`{url}/oauth2/{organisation}`), each organisation has an
 * X509Credential under a test UZI CA both trust, and both accept nothing but vp_token-bearer (`nuts.acceptedGrants`):
 * an RFC003 grant or jwt-bearer would be refused, so the transfer completing proves they were not used, and every
 * token AuditEvent names its grant (vp_token-bearer) and binding (DPoP). The sender's
 * AuditEvents of the handoff reads name the nurse whose EHR accepted, as the employee credential in the presentation
 * named them.
 */
let hospital: Party;
let vvt: Party;
let sender: Gateway;
let receiver: Gateway;
let sites: RunningSites;
const examples = nictizExamples();
const URA = 'http://fhir.nl/fhir/NamingSystem/ura';

/** A site's configuration turned Nuts v6 only: its organisations' X509Credentials, the CA, the peers' v6 issuers. */
function v6Only(caFile: string, x509: Map<string, { certificateFile: string; keyFile: string }>) {
  return (raw: Record<string, unknown>) => {
    const organizations = (raw.organizations as { id: string }[]).map((organization) => ({ ...organization, x509: x509.get(organization.id) }));
    const trusted = (raw.trusted as { id: string; endpoints: Record<string, string> }[]).map((organization) => ({
      ...organization,
      endpoints: { ...organization.endpoints, authorizationServer: `${organization.endpoints.authorizationServer}/oauth2/${organization.id}` },
    }));
    return { ...raw, mode: 'development', organizations, trusted, nuts: { trustedCaFiles: [caFile], acceptedGrants: ['vp_token-bearer'] } };
  };
}

beforeAll(async () => {
  [hospital, vvt] = await Promise.all([party('hospital', 'Ziekenhuis', '11111111'), party('vvt', 'VVT Een', '22222222')]);
  const h = await newSite([{ party: hospital, roles: ['sender'] }], 'transfer-v6-');
  const v = await newSite([{ party: vvt, roles: ['receiver'] }], 'transfer-v6-');
  const ca = await createCertificateAuthority('Test UZI Server CA');
  const caFile = path.join(h.dataDir, 'uzi-ca.pem');
  writeFileSync(caFile, ca.pem);
  const x509 = new Map([
    [hospital.id, await uziCertificateFiles(h.dataDir, ca, hospital)],
    [vvt.id, await uziCertificateFiles(v.dataDir, ca, vvt)],
  ]);
  sites = await startSites([h, v], v6Only(caFile, x509));
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
    const offered = await fhirCall(sender.url, hospitalEhr, 'POST', '/fhir/stu3/$offer', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'advanceNotice', resource: transaction(documentOf(examples, ADVANCE_NOTICE)) },
        { name: 'receiver', valueIdentifier: { system: URA, value: vvt.ura } },
      ],
    });
    expect(offered.status).toBe(200);
    const [task] = parametersNamed(offered.body, 'task');

    const vvtEhr = await ehrToken(receiver.url, vvt);
    const requested = await localCopy(task!.id!, 'requested');
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${requested.id}`, { ...requested, status: 'accepted' })).status).toBe(200);
    await taskWithStatus(sender.url, hospitalEhr, task!.id!, 'accepted');

    const handedOver = await fhirCall(sender.url, hospitalEhr, 'POST', `/fhir/stu3/Task/${task!.id}/$handoff`, {
      resourceType: 'Parameters',
      parameter: [{ name: 'nursingHandoff', resource: transaction(documentOf(examples, NURSING_HANDOFF)) }],
    });
    expect(handedOver.status).toBe(200);
    const inProgress = await localCopy(task!.id!, 'in-progress');
    expect((await fhirCall(receiver.url, vvtEhr, 'PUT', `/fhir/stu3/Task/${inProgress.id}`, { ...inProgress, status: 'completed' })).status).toBe(200);
    await taskWithStatus(sender.url, hospitalEhr, task!.id!, 'completed');

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
    for (const [gateway, tenant, requester] of [
      [sender, hospital, vvt],
      [receiver, vvt, hospital],
    ] as const) {
      const logins = await tokenAuditEvents(gateway.url, tenant, requester);
      expect(logins.length).toBeGreaterThan(0);
      for (const login of logins) {
        expect(login.outcome).toBe('0');
        expect(login.agent[0]).toMatchObject({ altId: `${URA}|${requester.ura}` });
        expect(login.entity[0]?.detail).toEqual([
          { type: 'grant_type', valueString: 'vp_token-bearer' },
          { type: 'token_type', valueString: 'DPoP' },
        ]);
      }
    }
  });
});

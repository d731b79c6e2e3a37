import { expect } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from '../../src/directory/payload-types.js';
import { DOCUMENT_CODES, PROFILES, TASK_CODE } from '../../src/transfer/codes.js';
import { localId } from '../../src/transfer/receiver.js';
import { ADVANCE_NOTICE } from '../transfer/support.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import type { McsdDirectories } from '../harness/mcsd-directories.js';
import type { Party } from '../harness/parties.js';

/** Names an organisation (by URA) and its own directory (`directory`) in the root directory `region`. */
export function publishInRoot(root: McsdDirectories, p: Party, directory: string): void {
  const payloadType = [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code: PAYLOAD_TYPES.adminDirectory }] }];
  root.put('region', { resourceType: 'Endpoint', id: `${p.id}-directory`, status: 'active', payloadType, address: directory });
  root.put('region', { resourceType: 'Organization', id: p.id, identifier: [{ system: URA_SYSTEM, value: p.ura }], endpoint: [{ reference: `Endpoint/${p.id}-directory` }] });
}

interface Side {
  gateway: Gateway;
  party: Party;
}

/** A transfer seen from both ends: the provider's copy of the hospital's Task, and the provider's EHR answering it. */
export function transferBetween(hospital: Side, provider: Side) {
  const localTaskId = (remoteTask: string) => localId(hospital.party.id, `Task/${remoteTask}`);

  async function copyAtProvider(remoteTask: string, status: string): Promise<Resource> {
    const token = await ehrToken(provider.gateway.url, provider.party);
    return eventually(`Task/${remoteTask} ${status} at the provider`, async () => {
      const { status: code, body } = await fhirCall(provider.gateway.url, token, 'GET', `/fhir/stu3/Task/${localTaskId(remoteTask)}`);
      return code === 200 && body.status === status ? body : undefined;
    });
  }

  async function answer(remoteTask: string, status: string): Promise<void> {
    const ehr = await ehrToken(provider.gateway.url, provider.party);
    const { body: copy } = await fhirCall(provider.gateway.url, ehr, 'GET', `/fhir/stu3/Task/${localTaskId(remoteTask)}`);
    expect((await fhirCall(provider.gateway.url, ehr, 'PUT', `/fhir/stu3/Task/${copy.id}`, { ...copy, status })).status).toBe(200);
    const token = await ehrToken(hospital.gateway.url, hospital.party);
    await eventually(`Task/${remoteTask} ${status} at the hospital`, async () =>
      (await fhirCall(hospital.gateway.url, token, 'GET', `/fhir/stu3/Task/${remoteTask}`)).body.status === status ? true : undefined,
    );
  }

  return { copyAtProvider, answer };
}

/** The standard `POST Task` that starts a transfer of the Nictiz example patient, owned by `owner` (e.g. a HealthcareService). */
export function advanceNoticeTask(requester: Party, owner: string): Resource {
  return {
    resourceType: 'Task',
    meta: { profile: [PROFILES.task] },
    status: 'requested',
    intent: 'order',
    code: { coding: [TASK_CODE] },
    for: { reference: 'Patient/nl-core-patient-eov-test-1-5-01' },
    requester: { agent: { identifier: { system: URA_SYSTEM, value: requester.ura } } },
    owner: { reference: owner },
    input: [{ type: { coding: [DOCUMENT_CODES.advanceNotice] }, valueReference: { reference: ADVANCE_NOTICE } }],
  } as Resource;
}

import { createHash } from 'node:crypto';
import type { OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import type { AuditTrail, Scope } from '../../store/repository.js';
import { buildAvailabilityPayload, type AvailabilitySource } from './payload.js';
import { egressPolicy, type EgressPolicy } from './policy.js';

export interface Release {
  /** Where the payload goes: a URL, or the id of the organisation that asked for it. */
  destination: string;
  source: AvailabilitySource;
  at: Date;
}

export interface Released {
  payload: Resource;
  /** SHA-256 (hex) of the payload exactly as serialised for sending (`body`). */
  hash: string;
  body: string;
  record: Resource;
}

/**
 * The one way availability leaves a provider's gateway (push, subscription, search by another organisation):
 * builds the payload from the allowlist and records it (hash, destination, time, the payload itself) as an
 * AuditEvent in the tenant's audit trail. Send `body`, the bytes that were hashed.
 */
export async function releaseAvailability(
  trail: Pick<AuditTrail, 'append'>,
  scope: Scope,
  release: Release,
  policy: EgressPolicy = egressPolicy(),
): Promise<Released | OperationOutcome> {
  const payload = buildAvailabilityPayload(release.source, policy);
  if (payload.resourceType === 'OperationOutcome') return payload as OperationOutcome;
  const body = JSON.stringify(payload);
  const hash = createHash('sha256').update(body).digest('hex');
  const record = await trail.append(scope.tenant, egressAuditEvent(scope.tenant, release, body, hash, policy.version));
  return { payload, hash, body, record };
}

function egressAuditEvent(tenant: string, release: Release, body: string, hash: string, policyVersion: string): Resource {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
    action: 'R',
    recorded: release.at.toISOString(),
    outcome: '0',
    agent: [{ who: { identifier: { value: tenant } }, requestor: true }],
    source: { observer: { display: 'vervolgzorg-gateway capacity egress' } },
    entity: [
      {
        type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
        name: 'availability payload',
        description: `built from egress policy ${policyVersion}`,
        detail: [
          { type: 'destination', valueString: release.destination },
          { type: 'sha256', valueString: hash },
          { type: 'payload', valueBase64Binary: Buffer.from(body).toString('base64') },
        ],
      },
    ],
  };
}

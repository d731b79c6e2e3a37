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

/** Bytes that carry availability out of the gateway, exactly as they are sent. */
export interface Sent {
  /** Where they go: a URL, or who asked for them. */
  destination: string;
  at: Date;
  body: string;
}

/**
 * The one way a provider's own availability leaves its gateway (push to the coordination point): builds the payload
 * from the allowlist and records it (hash, destination, time, the payload itself) as an AuditEvent in the tenant's
 * audit trail. Send `body`, the bytes that were hashed.
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
  const { hashes, record } = await recordEgress(trail, scope.tenant, [{ destination: release.destination, at: release.at, body }], policy.version, body);
  return { payload, hash: hashes[0], body, record };
}

/**
 * Records that each `sent.body` left for its `sent.destination`: one Export AuditEvent in the tenant's audit trail, an
 * entity per body with its destination and the SHA-256 of exactly those bytes (so an auditor can check what left and
 * to whom), recorded at the time of the first; and `kept`, the availability the bodies carry, when the record is the
 * one to keep it (see StoredReportEgress).
 */
export async function recordEgress(
  trail: Pick<AuditTrail, 'append'>,
  tenant: string,
  sent: Sent[],
  policyVersion: string,
  kept: string | undefined,
): Promise<{ hashes: string[]; record: Resource }> {
  const hashes = sent.map(({ body }) => createHash('sha256').update(body).digest('hex'));
  const record = await trail.append(tenant, egressAuditEvent(tenant, sent, hashes, policyVersion, kept));
  return { hashes, record };
}

function egressAuditEvent(tenant: string, sent: Sent[], hashes: string[], policyVersion: string, kept: string | undefined): Resource {
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110106', display: 'Export' },
    action: 'R',
    recorded: sent[0].at.toISOString(),
    outcome: '0',
    agent: [{ who: { identifier: { value: tenant } }, requestor: true }],
    source: { observer: { display: 'vervolgzorg-gateway capacity egress' } },
    entity: sent.map(({ destination }, index) => ({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      name: 'availability payload',
      description: `built from egress policy ${policyVersion}`,
      detail: [
        { type: 'destination', valueString: destination },
        { type: 'sha256', valueString: hashes[index] },
        ...(kept === undefined || index > 0 ? [] : [{ type: 'payload', valueBase64Binary: Buffer.from(kept).toString('base64') }]),
      ],
    })),
  };
}

import type { AuditOutcome, Auditor } from '../audit/auditor.js';
import { isPatientData, patientReferences } from '../audit/patientData.js';
import { isOk, type OperationOutcome } from '../fhir/outcome.js';
import type { FhirVersion } from '../fhir/version.js';
import type { AccessEvent } from '../rest/types.js';
import type { FhirApiAuditor } from './fhir-api.js';

/**
 * Turns the accesses of a FHIR request into audit trail entries: every access (allowed or refused) to a resource
 * type in the patient compartment, and every operation whose route is audited ($offer, $handoff, $document), naming
 * the patients it concerns. The entries of one request are recorded together, so they share one group commit.
 */
export function auditPatientData(auditor: Auditor): FhirApiAuditor {
  return async ({ principal, version, accesses }) => {
    await Promise.all(
      accesses.filter((access) => concernsPatientData(access, version)).map((access) =>
        auditor.record({
          type: 'access',
          principal,
          request: access.request,
          outcome: auditOutcome(access.outcome),
          patients: [...new Set(access.resources.flatMap(patientReferences))],
          ...(access.operation ? { operation: access.operation } : {}),
          ...touched(access),
        }),
      ),
    );
  };
}

/** Operations reach the auditor only from routes that declare them audited (router.ts); interactions by their type. */
function concernsPatientData(access: AccessEvent, version: FhirVersion): boolean {
  if (access.operation) return true;
  const type = access.request.resourceType;
  return type !== undefined && isPatientData(type, version);
}

function auditOutcome(result: OperationOutcome): AuditOutcome {
  if (isOk(result)) return 'success';
  return result.id === 'forbidden' || result.id === 'unauthorized' ? 'refused' : 'error';
}

/** The instance a path names (`/Task/1`, `/Task/1/$handoff`, `/Task/1/_history/2`). */
const instanceOf = (path: string) => /^\/([A-Za-z]+\/[A-Za-z0-9\-.]+)/.exec(path)?.[1];

/**
 * A search names its query. An operation names the instance it was invoked on, or else what it made (`$offer`: the
 * Tasks); anything else names the resource (for a create: the id the server gave it).
 */
function touched(access: AccessEvent): { resources?: string[]; query?: string; description?: string } {
  const description = isOk(access.outcome) ? undefined : access.outcome.issue.map((issue) => issue.details?.text ?? issue.code).join('; ');
  const withDescription = description ? { description } : {};
  if (access.query !== undefined) return { query: access.query, ...withDescription };
  const resources = access.operation ? operationResources(access) : resourceOf(access);
  return resources.length > 0 ? { resources, ...withDescription } : withDescription;
}

function resourceOf(access: AccessEvent): string[] {
  const [resource] = access.resources;
  const instance = resource?.id ? `${resource.resourceType}/${resource.id}` : instanceOf(access.request.path);
  return instance ? [instance] : [];
}

function operationResources(access: AccessEvent): string[] {
  const instance = instanceOf(access.request.path);
  if (instance) return [instance];
  return access.resources.filter((resource) => resource.id && resource.resourceType !== 'OperationOutcome').map((resource) => `${resource.resourceType}/${resource.id}`);
}

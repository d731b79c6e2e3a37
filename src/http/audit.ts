import type { AuditOutcome, Auditor } from '../audit/auditor.js';
import { isPatientData, patientReferences } from '../audit/patientData.js';
import { isOk, type OperationOutcome } from '../fhir/outcome.js';
import type { AccessEvent } from '../rest/types.js';
import type { FhirApiAuditor } from './fhir-api.js';

/**
 * Turns the accesses of a FHIR request into audit trail entries: every access (allowed or refused) to a resource
 * type in the patient compartment, naming the patients it concerns.
 */
export function auditPatientData(auditor: Auditor): FhirApiAuditor {
  return async ({ principal, version, accesses }) => {
    for (const access of accesses) {
      const type = access.request.resourceType;
      // The only operation served, $validate, looks at the body it is given and touches no stored data.
      if (access.request.operation === 'operation' || !type || !isPatientData(type, version)) continue;
      await auditor.record({
        type: 'access',
        principal,
        request: access.request,
        outcome: auditOutcome(access.outcome),
        patients: [...new Set(access.resources.flatMap(patientReferences))],
        ...touched(access),
      });
    }
  };
}

function auditOutcome(result: OperationOutcome): AuditOutcome {
  if (isOk(result)) return 'success';
  return result.id === 'forbidden' || result.id === 'unauthorized' ? 'refused' : 'error';
}

/** A search names its query; anything else names the resource (for a create: the id the server gave it). */
function touched(access: AccessEvent): { resource?: string; query?: string; description?: string } {
  const description = isOk(access.outcome) ? undefined : access.outcome.issue.map((issue) => issue.details?.text ?? issue.code).join('; ');
  const withDescription = description ? { description } : {};
  if (access.query !== undefined) return { query: access.query, ...withDescription };
  const [resource] = access.resources;
  const instance = resource?.id ? `${resource.resourceType}/${resource.id}` : /^\/([A-Za-z]+\/[A-Za-z0-9\-.]+)/.exec(access.request.path)?.[1];
  return instance ? { resource: instance, ...withDescription } : withDescription;
}

import { badRequest, notAllowed, notFound, OperationOutcomeError } from '../fhir/outcome.js';
import type { AuditTrail, ResourceRepository, Scope } from './repository.js';

const AUDIT_EVENT = 'AuditEvent';

const refuse = (text: string): never => {
  throw new OperationOutcomeError(notAllowed(text));
};
const refuseWrite = (): never =>
  refuse('AuditEvent: the audit trail is append-only; the gateway records every event itself, none can be written, changed or deleted');

/** AuditEvents are R4 (auditor.ts); on the STU3 base none is stored. */
function onR4Only(scope: Scope): void {
  if (scope.version !== 'r4') throw new OperationOutcomeError(notFound('The audit trail is kept as R4 AuditEvents: read and search it on the R4 base (/fhir/AuditEvent)'));
}

/**
 * The resource repository with the audit trail as its AuditEvent type: read, vread and search come from the trail,
 * every write of an AuditEvent is refused (405), and so is a type history (an event has one version). A
 * `_revinclude` of AuditEvents from another type is refused too: their references are not in the resource index.
 */
export function withAuditTrail(resources: ResourceRepository, trail: AuditTrail): ResourceRepository {
  return {
    create: async (scope, resource) => (resource.resourceType === AUDIT_EVENT ? refuseWrite() : resources.create(scope, resource)),
    update: async (scope, resource, options) => (resource.resourceType === AUDIT_EVENT ? refuseWrite() : resources.update(scope, resource, options)),
    delete: async (scope, type, id, options) => (type === AUDIT_EVENT ? refuseWrite() : resources.delete(scope, type, id, options)),
    async read(scope, type, id) {
      if (type !== AUDIT_EVENT) return resources.read(scope, type, id);
      onR4Only(scope);
      return trail.read(scope.tenant, id);
    },
    async vread(scope, type, id, versionId) {
      if (type !== AUDIT_EVENT) return resources.vread(scope, type, id, versionId);
      onR4Only(scope);
      const event = await trail.read(scope.tenant, id);
      if (versionId !== '1') throw new OperationOutcomeError(notFound(`AuditEvent/${id} has only version 1`));
      return event;
    },
    history: async (scope, request, budget) =>
      request.resourceType === AUDIT_EVENT
        ? refuse('AuditEvent: an audit event never changes; search AuditEvent by date instead of its history')
        : resources.history(scope, request, budget),
    async search(scope, request, budget) {
      if (request.resourceType === AUDIT_EVENT) {
        onR4Only(scope);
        return trail.search(scope.tenant, request);
      }
      if (request.revinclude.some((target) => target.startsWith(`${AUDIT_EVENT}:`))) {
        throw new OperationOutcomeError(badRequest(`_revinclude of AuditEvent is not supported: search AuditEvent?entity=${request.resourceType}/<id> instead`, '_revinclude'));
      }
      return resources.search(scope, request, budget);
    },
  };
}

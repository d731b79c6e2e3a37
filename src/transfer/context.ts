import { AGB_SYSTEM, ORGANIZATION_ID_SYSTEM, URA_SYSTEM } from '../vocabulary/canonical.js';
import { isObject } from '../vocabulary/json.js';
import type { CredentialService } from '../auth/credentials.js';
import type { TrustRegistry } from '../auth/trust.js';
import type { Role } from '../config/config.js';
import { forbidden, OperationOutcomeError } from '../fhir/outcome.js';
import type { ResourceValidator } from '../rest/types.js';
import { isReference, type FhirVersion } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import type { TaskStatusChange, TaskStatusListener } from './events.js';
import type { PersonPolicy } from './person-policy.js';

/** What the sender and receiver services share. */
export interface TransferContext {
  store: UnitOfWork;
  registry: TrustRegistry;
  credentials: CredentialService;
  /** Which of a transfer's resources a receiver reads only with a person in its token (conformance/person-policy.json). */
  personPolicy: PersonPolicy;
  validators: Record<FhirVersion, ResourceValidator>;
  onTaskStatusChange?: TaskStatusListener;
  clock: () => number;
}

/** Outbox kinds of the transfer workflow; messages of one Task share an ordering key, so they go out in order. */
export const OUTBOX_KINDS = {
  /** Sender → receiver: POST to the notification endpoint. */
  notify: 'transfer.notify',
  /** Receiver ← sender: GET the Task and the document its status opens. */
  pull: 'transfer.pull',
  /** Receiver → sender: PUT the EHR's answer to the sender's Task. */
  answer: 'transfer.answer',
} as const;

export const orderingKey = (taskId: string) => `eoverdracht:${taskId}`;

/** Refuses unless the tenant is hosted here with the role (configuration `organizations[].roles`). */
export function requireRole(context: TransferContext, tenant: string, role: Role): void {
  if (!context.registry.hosted(tenant)?.organization.roles.includes(role)) {
    throw new OperationOutcomeError(forbidden(`Organisation '${tenant}' does not have the eOverdracht ${role} role here`));
  }
}

/** A logical reference to an organisation: its URA when known, else its gateway id. */
export function organizationReference(organization: { id: string; name: string; ura?: string }): LogicalReference {
  const identifier = organization.ura ? { system: URA_SYSTEM, value: organization.ura } : { system: ORGANIZATION_ID_SYSTEM, value: organization.id };
  return { identifier, display: organization.name };
}

export interface LogicalReference {
  identifier: { system: string; value: string };
  display: string;
}

export function referencesOrganization(reference: unknown, organization: { id: string; ura?: string; agb?: string }): boolean {
  return isReference(reference) && identifiesOrganization(reference.identifier, organization);
}

/**
 * True when the identifier names the organisation: its URA or its AGB-Z (the two identifiers Dutch care providers are
 * known by; the Nictiz test organisations mostly carry an AGB-Z), or its gateway organisation id.
 */
export function identifiesOrganization(identifier: unknown, organization: { id: string; ura?: string; agb?: string }): boolean {
  if (!isObject(identifier)) return false;
  const { system, value } = identifier;
  return (
    (system === URA_SYSTEM && organization.ura !== undefined && value === organization.ura) ||
    (system === AGB_SYSTEM && organization.agb !== undefined && value === organization.agb) ||
    (system === ORGANIZATION_ID_SYSTEM && value === organization.id)
  );
}

/** The context working through `store` (a request's unit of work, or a transaction's `tx`), credential records included. */
export function withUnitOfWork(context: TransferContext, store: UnitOfWork): TransferContext {
  return { ...context, store, credentials: context.credentials.over(store.credentials) };
}

/** Runs `work` in one transaction (joining the context's, when it is a transaction's), on that transaction's context. */
export function inTransaction<T>(context: TransferContext, work: (context: TransferContext) => Promise<T>): Promise<T> {
  return context.store.transaction((tx) => work(withUnitOfWork(context, tx)));
}

export async function announceStatus(context: TransferContext, change: TaskStatusChange): Promise<void> {
  if (change.previousStatus === change.task.status) return;
  await context.onTaskStatusChange?.(change, context.store);
}

export const nowInstant = (context: TransferContext) => new Date(context.clock()).toISOString();

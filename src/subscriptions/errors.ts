import { OperationOutcomeError, type OutcomeKind } from '../fhir/outcome.js';

/** True for an OperationOutcomeError of one of the given kinds (the outcome's id names its kind). */
export function isOperationOutcomeError(error: unknown, ...kinds: OutcomeKind[]): error is OperationOutcomeError {
  return error instanceof OperationOutcomeError && kinds.includes(error.outcome.id as OutcomeKind);
}

import { GatewayError } from '../errors.js';
import type { Resource } from './version.js';

/**
 * OperationOutcome builders. The outcome's `id` names the kind of result (as Medplum does), and
 * `rest/status.ts` is the one place that turns that kind into an HTTP status.
 */
export type OutcomeKind =
  | 'ok'
  | 'created'
  | 'accepted'
  | 'not-modified'
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'not-allowed'
  | 'not-acceptable'
  | 'conflict'
  | 'gone'
  | 'precondition-failed'
  | 'too-large'
  | 'headers-too-large'
  | 'unsupported-media-type'
  | 'unprocessable'
  | 'too-many-requests'
  | 'server-error';

export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface OperationOutcomeIssue {
  severity: IssueSeverity;
  /** FHIR issue-type code, e.g. invalid, structure, required, value, invariant, not-found, conflict. */
  code: string;
  details?: { text?: string; coding?: { system?: string; code?: string; display?: string }[] };
  diagnostics?: string;
  /** FHIRPath to the element the issue is about (R4); STU3 serialisation also fills `location`. */
  expression?: string[];
  location?: string[];
}

export interface OperationOutcome extends Resource {
  resourceType: 'OperationOutcome';
  id: OutcomeKind | string;
  issue: OperationOutcomeIssue[];
}

export function outcome(kind: OutcomeKind, issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', id: kind, issue: issues };
}

export function issue(
  severity: IssueSeverity,
  code: string,
  text: string,
  expression?: string | string[],
): OperationOutcomeIssue {
  const result: OperationOutcomeIssue = { severity, code, details: { text } };
  if (expression !== undefined) result.expression = Array.isArray(expression) ? expression : [expression];
  return result;
}

const informational = (kind: OutcomeKind, text: string) => outcome(kind, [issue('information', 'informational', text)]);
const failure = (kind: OutcomeKind, code: string, text: string, expression?: string | string[]) =>
  outcome(kind, [issue('error', code, text, expression)]);

export const allOk = informational('ok', 'All OK');
export const created = informational('created', 'Created');
export const accepted = (text = 'Accepted') => informational('accepted', text);
export const notModified = informational('not-modified', 'Not modified');

export const badRequest = (text: string, expression?: string | string[]) => failure('bad-request', 'invalid', text, expression);
export const unauthorized = (text = 'Authentication required') => failure('unauthorized', 'login', text);
export const forbidden = (text = 'Forbidden') => failure('forbidden', 'forbidden', text);
export const notFound = (text = 'Not found') => failure('not-found', 'not-found', text);
export const notAllowed = (text: string) => failure('not-allowed', 'not-supported', text);
export const notAcceptable = (text: string) => failure('not-acceptable', 'not-supported', text);
export const conflict = (text: string, expression?: string | string[]) => failure('conflict', 'conflict', text, expression);
export const gone = (text = 'Deleted') => failure('gone', 'deleted', text);
export const preconditionFailed = (text: string) => failure('precondition-failed', 'conflict', text);
export const tooLarge = (text: string) => failure('too-large', 'too-costly', text);
export const headersTooLarge = (text: string) => failure('headers-too-large', 'too-costly', text);
export const unsupportedMediaType = (text: string) => failure('unsupported-media-type', 'not-supported', text);
export const unprocessable = (text: string, expression?: string | string[]) =>
  failure('unprocessable', 'processing', text, expression);
export const tooManyRequests = (text = 'Too many requests') => failure('too-many-requests', 'throttled', text);
export const serverError = (text = 'Internal error') => failure('server-error', 'exception', text);

export function isOk(result: OperationOutcome): boolean {
  return ['ok', 'created', 'accepted', 'not-modified'].includes(result.id);
}

export function hasErrors(result: OperationOutcome): boolean {
  return result.issue.some((i) => i.severity === 'error' || i.severity === 'fatal');
}

/**
 * An outcome thrown through layers that cannot return one (store, codec, validation inside a transaction).
 * The HTTP layer catches it and answers with its outcome.
 */
export class OperationOutcomeError extends GatewayError {
  static override readonly code: string = 'ERR_OPERATION_OUTCOME';

  constructor(readonly outcome: OperationOutcome) {
    super(outcome.issue.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; '));
  }
}

/** True for an OperationOutcomeError of one of the given kinds (the outcome's id names its kind). */
export function isOperationOutcomeError(error: unknown, ...kinds: OutcomeKind[]): error is OperationOutcomeError {
  return error instanceof OperationOutcomeError && kinds.includes(error.outcome.id as OutcomeKind);
}

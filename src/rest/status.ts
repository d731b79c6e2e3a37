import { hasErrors, type OperationOutcome, type OutcomeKind } from '../fhir/outcome.js';

/** The one place where the kind of an outcome (its `id`) becomes an HTTP status. */
const STATUS: Record<OutcomeKind, number> = {
  ok: 200,
  created: 201,
  accepted: 202,
  'not-modified': 304,
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  'not-allowed': 405,
  'not-acceptable': 406,
  conflict: 409,
  gone: 410,
  'precondition-failed': 412,
  'too-large': 413,
  'headers-too-large': 431,
  'unsupported-media-type': 415,
  unprocessable: 422,
  'too-many-requests': 429,
  'server-error': 500,
};

const REASON: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
};

/** An outcome whose id is not a known kind (e.g. one built elsewhere) counts as bad input if it has errors. */
export function httpStatus(outcome: OperationOutcome): number {
  return STATUS[outcome.id as OutcomeKind] ?? (hasErrors(outcome) ? 400 : 200);
}

/** The status as a Bundle entry's `response.status` gives it: "201 Created". */
export function statusLine(outcome: OperationOutcome): string {
  const status = httpStatus(outcome);
  return `${status} ${REASON[status]}`;
}

/** The outcome kind for an HTTP status raised outside the FHIR layer (e.g. by the body reader). */
export function outcomeKindFor(status: number): OutcomeKind {
  const kind = (Object.keys(STATUS) as OutcomeKind[]).find((candidate) => STATUS[candidate] === status);
  if (kind) return kind;
  return status >= 500 ? 'server-error' : 'bad-request';
}

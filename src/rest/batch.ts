import type { Bundle, BundleEntry } from '../fhir/bundle.js';
import type { Operation } from '../fhir/principal.js';
import { allOk, badRequest, isOk, issue, OperationOutcomeError, tooLarge, type OperationOutcome } from '../fhir/outcome.js';
import { statusLine } from './status.js';
import { responseMeta } from './headers.js';
import { queryValues } from './query.js';
import type { FhirHandler, FhirRequest, FhirResponse, HttpMethod, RestContext } from './types.js';

/**
 * `POST [base]` with a batch or transaction Bundle of at most `limits.bundleEntries` entries. The Bundle itself is
 * authorized as a batch or transaction (the route's access), then each entry goes through the router as if it were
 * its own request (type check, authorization, validation, audit). All entries' answers share the request's response
 * budget. A batch answers entry by entry, and once the budget is spent answers the rest without running them; a
 * transaction runs inside `store.transaction`: every entry succeeds or nothing is written, and `urn:` fullUrls are
 * replaced by the ids the server assigns, in every reference and request URL that uses them.
 */
export const processBundle: FhirHandler = async (request, context) => {
  const bundle = request.body as Partial<Bundle> | undefined;
  if (!bundle || bundle.resourceType !== 'Bundle') throw new OperationOutcomeError(badRequest('POST to the base takes a Bundle', 'resourceType'));
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw new OperationOutcomeError(badRequest(`Bundle.type must be batch or transaction, not '${bundle.type}'`, 'Bundle.type'));
  }
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as BundleEntry[]) : [];
  const limit = context.services.limits.bundleEntries;
  if (entries.length > limit) {
    throw new OperationOutcomeError(tooLarge(`The Bundle has ${entries.length} entries; it exceeds limits.bundleEntries (${limit})`));
  }
  return bundle.type === 'batch' ? processBatch(entries, context) : processTransaction(entries, context);
};

/** What a Bundle posted to the base asks for: a transaction when it says so, else a batch (anything else is refused). */
export const bundleInteraction = (request: FhirRequest): Operation =>
  (request.body as Partial<Bundle> | undefined)?.type === 'transaction' ? 'transaction' : 'batch';

async function processBatch(entries: BundleEntry[], context: RestContext): Promise<FhirResponse> {
  const responses: BundleEntry[] = [];
  for (const [index, entry] of entries.entries()) {
    let response: FhirResponse;
    try {
      response = await runEntry(entryRequest(entry, index, context.baseUrl), index, context);
    } catch (error) {
      if (!(error instanceof OperationOutcomeError)) throw error;
      response = [error.outcome];
    }
    responses.push(responseEntry(response, context.baseUrl));
  }
  return [allOk, { resourceType: 'Bundle', type: 'batch-response', entry: responses } satisfies Bundle];
}

/**
 * One entry through the router, within the response budget: refused (too-costly) once the entries before it spent
 * it. A search counts what it gathers as it reads; what a read or an operation answers is counted here. A create or
 * update answers with the resource it was sent, which the body limit already bounds.
 */
async function runEntry(request: FhirRequest, index: number, context: RestContext): Promise<FhirResponse> {
  const { budget } = context;
  if (budget.exhausted) {
    return [tooLarge(`Bundle.entry[${index}] was not run: the answers before it used up ${budget.describe()}`)];
  }
  const spentBefore = budget.spent;
  const response = await context.services.router.handle(request, context);
  if (budget.spent === spentBefore && response[1] && !echoesItsBody(request)) budget.spend(Buffer.byteLength(JSON.stringify(response[1])));
  return response;
}

const echoesItsBody = (request: FhirRequest) => request.method === 'PUT' || (request.method === 'POST' && !request.pathname.includes('$'));

/** FHIR's processing order for a transaction; the response keeps the order of the request. */
const TRANSACTION_ORDER: HttpMethod[] = ['DELETE', 'POST', 'PUT', 'GET'];

interface PendingEntry {
  index: number;
  request: FhirRequest;
  fullUrl?: string;
}

async function processTransaction(entries: BundleEntry[], context: RestContext): Promise<FhirResponse> {
  const pending = entries.map((entry, index) => ({ index, request: entryRequest(entry, index, context.baseUrl), fullUrl: entry.fullUrl }));
  const accessesBefore = context.accesses.length;
  try {
    const responses = await context.store.transaction((store) => runTransaction(pending, { ...context, store }));
    return [allOk, { resourceType: 'Bundle', type: 'transaction-response', entry: responses } satisfies Bundle];
  } catch (error) {
    // Rolled back: nothing was written or returned, but refused attempts stay on the audit trail.
    const attempted = context.accesses.splice(accessesBefore);
    context.accesses.push(...attempted.filter((access) => !isOk(access.outcome)));
    throw error;
  }
}

async function runTransaction(pending: PendingEntry[], context: RestContext): Promise<BundleEntry[]> {
  const assigned = new Map<string, string>(placeholdersOfKnownIds(pending));
  const responses: BundleEntry[] = new Array(pending.length);
  for (const method of TRANSACTION_ORDER) {
    const group = pending.filter((entry) => entry.request.method === method);
    for (const entry of method === 'POST' ? inReferenceOrder(group) : group) {
      const response = await runEntry(withAssignedIds(entry.request, assigned), entry.index, context);
      if (!isOk(response[0])) throw new OperationOutcomeError(entryFailure(response[0], entry.index));
      const created = response[1];
      if (entry.fullUrl?.startsWith('urn:') && created?.id) assigned.set(entry.fullUrl, `${created.resourceType}/${created.id}`);
      responses[entry.index] = responseEntry(response, context.baseUrl);
    }
  }
  return responses;
}

/** PUT entries carry their id in the URL, so a `urn:` fullUrl on them is known before anything runs. */
function placeholdersOfKnownIds(pending: PendingEntry[]): [string, string][] {
  return pending
    .filter((entry) => entry.fullUrl?.startsWith('urn:') && entry.request.method === 'PUT')
    .map((entry) => [entry.fullUrl!, entry.request.pathname]);
}

/**
 * New resources are created after the ones they reference, so each reference can be rewritten to a real id before
 * the referring resource is validated and stored. Entries that reference each other in a cycle cannot be ordered.
 */
function inReferenceOrder(group: PendingEntry[]): PendingEntry[] {
  const placeholders = new Set(group.flatMap((entry) => (entry.fullUrl?.startsWith('urn:') ? [entry.fullUrl] : [])));
  const waitingFor = new Map(group.map((entry) => [entry, new Set(placeholdersIn(entry.request.body, placeholders))]));
  for (const [entry, needs] of waitingFor) if (entry.fullUrl) needs.delete(entry.fullUrl);
  const ordered: PendingEntry[] = [];
  while (waitingFor.size > 0) {
    const ready = [...waitingFor.keys()].find((entry) => waitingFor.get(entry)!.size === 0);
    if (!ready) {
      const stuck = [...waitingFor.keys()].map((entry) => `Bundle.entry[${entry.index}]`);
      throw new OperationOutcomeError(badRequest(`Entries reference each other in a cycle and cannot be created: ${stuck.join(', ')}`, stuck));
    }
    ordered.push(ready);
    waitingFor.delete(ready);
    for (const needs of waitingFor.values()) if (ready.fullUrl) needs.delete(ready.fullUrl);
  }
  return ordered;
}

function placeholdersIn(value: unknown, placeholders: Set<string>): string[] {
  const found: string[] = [];
  visitStrings(value, (text) => {
    if (placeholders.has(text)) found.push(text);
    return text;
  });
  return found;
}

function withAssignedIds(request: FhirRequest, assigned: Map<string, string>): FhirRequest {
  if (assigned.size === 0) return request;
  const rewrite = (text: string) => assigned.get(text) ?? text;
  const query = Object.fromEntries(
    Object.entries(request.query).map(([name, values]) => [name, Array.isArray(values) ? values.map(rewrite) : rewrite(values)]),
  );
  return { ...request, query, body: visitStrings(structuredClone(request.body), rewrite) };
}

/** Replaces every string in a JSON tree with what `change` makes of it (in place; returns the tree). */
function visitStrings(value: unknown, change: (text: string) => string): unknown {
  if (typeof value === 'string') return change(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = visitStrings(value[i], change);
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) record[key] = visitStrings(record[key], change);
  }
  return value;
}

const ENTRY_METHODS: HttpMethod[] = ['GET', 'POST', 'PUT', 'DELETE'];

function entryRequest(entry: BundleEntry, index: number, baseUrl: string): FhirRequest {
  const where = `Bundle.entry[${index}].request`;
  const method = entry?.request?.method;
  const url = entry?.request?.url;
  if (typeof method !== 'string' || !ENTRY_METHODS.includes(method as HttpMethod)) {
    throw new OperationOutcomeError(badRequest(`Entry ${index}: request.method must be one of ${ENTRY_METHODS.join(', ')}`, `${where}.method`));
  }
  if (typeof url !== 'string' || url.length === 0) throw new OperationOutcomeError(badRequest(`Entry ${index}: request.url is required`, `${where}.url`));
  const relative = url.startsWith(baseUrl + '/') ? url.slice(baseUrl.length + 1) : url;
  if (/^[a-z]+:/i.test(relative)) throw new OperationOutcomeError(badRequest(`Entry ${index}: request.url '${url}' is not on this server`, `${where}.url`));
  const [pathname, search = ''] = relative.split('?', 2);
  if (pathname.replace(/^\/+|\/+$/g, '') === '') throw new OperationOutcomeError(badRequest(`Entry ${index}: a Bundle cannot nest a batch or transaction`, `${where}.url`));
  return {
    method: method as HttpMethod,
    pathname,
    params: {},
    query: queryValues(search),
    body: entry.resource,
    headers: {
      'if-none-exist': entry.request?.ifNoneExist,
      'if-match': entry.request?.ifMatch,
    },
  };
}

function responseEntry([result, resource]: FhirResponse, baseUrl: string): BundleEntry {
  const meta = responseMeta(result, resource, baseUrl);
  const entry: BundleEntry = { response: { status: statusLine(result), ...meta } };
  if (!isOk(result)) entry.response!.outcome = result;
  else if (resource) entry.resource = resource;
  return entry;
}

function entryFailure(failure: OperationOutcome, index: number): OperationOutcome {
  const text = `Transaction rolled back: Bundle.entry[${index}] failed`;
  return { ...failure, issue: [issue('error', 'processing', text, `Bundle.entry[${index}]`), ...failure.issue] };
}

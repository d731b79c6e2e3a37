import { randomUUID } from 'node:crypto';
import { fullUrl, type Bundle } from '../fhir/bundle.js';
import { allOk, badRequest, forbidden, OperationOutcomeError, tooLarge } from '../fhir/outcome.js';
import type { AccessRequest } from '../fhir/principal.js';
import { keyOf, parseReference, relativeReferences } from '../fhir/references.js';
import { isSupportedType } from '../fhir/resource-types.js';
import type { Resource } from '../fhir/version.js';
import { readOptional } from '../store/optional.js';
import { URI_SYSTEM } from '../vocabulary/canonical.js';
import { operationDefinition } from './operations/definitions.js';
import { readOperationInput } from './operations/parameters.js';
import type { FhirHandler, RestContext } from './types.js';

export const DOCUMENT = operationDefinition('Composition-document');

/**
 * `GET|POST [base]/Composition/[id]/$document` (conformance/OperationDefinition-Composition-document.json): the
 * Composition and its reference closure in the caller's tenant, as a document Bundle. Served only whole: every
 * resource in it is authorized as a read, and one the caller may not read refuses the document.
 */
export const compositionDocument: FhirHandler = async (request, context) => {
  const input = readOperationInput(DOCUMENT, request);
  if (input.value<boolean>('persist') === true) {
    throw new OperationOutcomeError(badRequest('persist=true is not supported: a document is built on every call and never stored', 'persist'));
  }
  const { id } = request.params;
  // Before the store is asked: a caller that may not read the Composition learns nothing, not even whether it exists.
  const denied = await context.services.authenticator.authorize(context.principal, readOf(context, `Composition/${id}`));
  if (denied) throw new OperationOutcomeError(denied);
  const composition = await context.store.resources.read(context.scope, 'Composition', id);
  const resources = await referenceClosure(composition, context);
  await refuseUnreadable(context, resources.map(keyOf));
  return [allOk, documentBundle(resources, context)];
};

/**
 * The Composition, then what it references, level by level; a reference that resolves to nothing here is left out.
 * What it gathers is counted against the request's response budget (`limits.responseBytes`), as a search page is.
 */
async function referenceClosure(composition: Resource, context: RestContext): Promise<Resource[]> {
  const seen = new Set([keyOf(composition)]);
  const found = [composition];
  let level = [composition];
  while (level.length > 0) {
    gather(context, level);
    const keys = [...new Set(level.flatMap((resource) => relativeReferences(resource)))].filter((key) => !seen.has(key));
    for (const key of keys) seen.add(key);
    level = (await Promise.all(keys.map((key) => readReferenced(context, key)))).filter((resource) => resource !== undefined);
    found.push(...level);
  }
  return found;
}

function gather(context: RestContext, resources: Resource[]): void {
  for (const resource of resources) {
    if (!context.budget.take(Buffer.byteLength(JSON.stringify(resource)))) {
      throw new OperationOutcomeError(tooLarge(`The document does not fit ${context.budget.describe()}`));
    }
  }
}

function readReferenced(context: RestContext, key: string): Promise<Resource | undefined> {
  const target = parseReference(key);
  if (!target || !isSupportedType(target.type)) return Promise.resolve(undefined);
  return readOptional(context.store.resources, context.scope, target.type, target.id);
}

async function refuseUnreadable(context: RestContext, keys: string[]): Promise<void> {
  const { authenticator } = context.services;
  const decisions = await Promise.all(keys.map((key) => authenticator.authorize(context.principal, readOf(context, key))));
  const refused = keys.filter((_key, index) => decisions[index] !== undefined);
  if (refused.length > 0) {
    const text = `The document holds resources '${context.principal.requester}' may not read (${refused.join(', ')}); it is not served in part`;
    throw new OperationOutcomeError(forbidden(text));
  }
}

function readOf(context: RestContext, key: string): AccessRequest {
  return { version: context.services.version, operation: 'read', path: `/${key}`, resourceType: parseReference(key)?.type };
}

/** STU3 has no Bundle.timestamp: there meta.lastUpdated dates the document (invariant bdl-10 of each release). */
function documentBundle(resources: Resource[], context: RestContext): Bundle {
  const now = new Date().toISOString();
  return {
    resourceType: 'Bundle',
    meta: { lastUpdated: now },
    identifier: { system: URI_SYSTEM, value: `urn:uuid:${randomUUID()}` },
    type: 'document',
    ...(context.services.version === 'r4' ? { timestamp: now } : {}),
    entry: resources.map((resource) => ({ fullUrl: fullUrl(context.baseUrl, resource), resource })),
  };
}

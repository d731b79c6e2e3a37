import { randomUUID } from 'node:crypto';
import { convertResource } from '../fhir/convert/index.js';
import { hasErrors, issue, outcome, OperationOutcomeError, unprocessable, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { ResourceValidator } from '../rest/types.js';
import { isObject } from '../vocabulary/json.js';
import { isResource, type FhirVersion, type Resource } from '../fhir/version.js';
import { readOptional } from '../store/optional.js';
import type { ResourceRepository } from '../store/repository.js';
import { documentKind, PROFILES, withCurrentDocumentCode, type DocumentKind } from './codes.js';
import { keyOf, parseReference, relativeReferences, rewriteReferences } from './references.js';
import { scopeOf } from './storage.js';

/**
 * Intake of an eOverdracht document (advance notice or nursing handoff) from the sending EHR: a Bundle with the
 * Composition and what it references, or a Composition already stored on this gateway. Whatever release the EHR
 * speaks, the result is the document as it will be exchanged: STU3, validated against the eOverdracht profiles,
 * with current document codes, and the list of resources the receiver may read (the Composition and everything it
 * references, transitively).
 */
export interface TransferDocument {
  kind: DocumentKind;
  /** The Composition as exchanged (STU3). */
  composition: Resource;
  /** `Type/id` of the Composition and everything it references, transitively: what the receiver may read. */
  shared: string[];
  /** What to store: the exchanged STU3 resources and, for an R4 EHR, its own R4 resources. */
  writes: { version: FhirVersion; resource: Resource }[];
  /** Warnings and information for the EHR (e.g. a pre-2022 code that was replaced). */
  issues: OperationOutcomeIssue[];
}

export type DocumentSource = { bundle: Resource } | { composition: string };

export interface DocumentContext {
  tenant: string;
  /** The release the EHR sent (and in which stored resources are looked up). */
  version: FhirVersion;
  resources: ResourceRepository;
  validator: ResourceValidator;
}

interface Candidate {
  /** As the EHR sent or stored it, ids assigned. */
  original: Resource;
  /** As exchanged. */
  stu3: Resource;
  /** The exchanged form is not stored yet (it came in a Bundle, or from an R4 EHR, or its code was replaced). */
  newStu3: boolean;
  /** An R4 resource that came in a Bundle: stored as sent too, for the EHR that sent it. */
  newOriginal: boolean;
}

const BUNDLE_TYPES = ['transaction', 'batch', 'collection', 'document'];

export async function readDocument(source: DocumentSource, kind: DocumentKind, context: DocumentContext): Promise<TransferDocument> {
  const known = new Map<string, Candidate>();
  let compositionKey: string;
  if ('bundle' in source) {
    for (const resource of bundleResources(source.bundle)) known.set(keyOf(resource), candidate(resource, context.version, true));
    compositionKey = soleComposition([...known.values()].map((c) => c.stu3), kind);
  } else {
    if (parseReference(source.composition)?.type !== 'Composition') {
      throw new OperationOutcomeError(unprocessable(`'${source.composition}' is not a reference of the form Composition/[id]`));
    }
    compositionKey = source.composition;
  }
  const shared = await closure(compositionKey, known, context);
  const compositionCandidate = known.get(compositionKey)!;
  if (documentKind(compositionCandidate.stu3) !== kind) {
    throw new OperationOutcomeError(unprocessable(`${compositionKey} is not an eOverdracht ${kind} (Composition.type)`, 'Composition.type'));
  }
  const current = withCurrentDocumentCode(compositionCandidate.stu3);
  if (current.warning) {
    compositionCandidate.stu3 = current.composition;
    compositionCandidate.newStu3 = true;
  }
  const fresh = [...known.values()].filter((c) => c.newStu3).map((c) => c.stu3);
  const issues = [...(current.warning ? [current.warning] : []), ...validate(fresh, compositionCandidate.stu3, kind, context.validator)];
  return { kind, composition: compositionCandidate.stu3, shared, writes: writes([...known.values()], context.version), issues };
}

function candidate(original: Resource, version: FhirVersion, sent: boolean): Candidate {
  const converted = version !== 'stu3';
  return {
    original,
    stu3: converted ? convertResource(original, { from: version, to: 'stu3' }) : original,
    newStu3: sent || converted,
    newOriginal: sent && converted,
  };
}

/**
 * The resources of a Bundle with their final ids: PUT entries keep the id in their URL, other entries keep the id
 * they carry unless POSTed, and the rest get a new one; references by fullUrl or old id are rewritten to match.
 */
function bundleResources(bundle: Resource): Resource[] {
  if (bundle.resourceType !== 'Bundle' || !BUNDLE_TYPES.some((type) => type === bundle.type)) {
    throw new OperationOutcomeError(unprocessable(`The document must come as a Bundle of type ${BUNDLE_TYPES.join(', ')}`, 'Bundle.type'));
  }
  const entries: unknown[] = Array.isArray(bundle.entry) ? bundle.entry : [];
  const renamed = new Map<string, string>();
  const resources = entries.map((entry, index) => {
    const resource = isBundleEntry(entry) ? entry.resource : undefined;
    if (!isBundleEntry(entry) || !isResource(resource)) {
      throw new OperationOutcomeError(unprocessable(`Bundle.entry[${index}] has no resource`, `Bundle.entry[${index}].resource`));
    }
    const id = assignedId(resource, entry.request, index);
    const key = `${resource.resourceType}/${id}`;
    if (entry.fullUrl) renamed.set(entry.fullUrl, key);
    if (resource.id) renamed.set(keyOf(resource), key);
    return { ...resource, id };
  });
  return resources.map((resource) => rewriteReferences(resource, (reference) => renamed.get(reference) ?? reference));
}

/** A Bundle entry of a request body, not yet validated: its resource is checked before it is used. */
type UncheckedEntry = Omit<fhir4.BundleEntry, 'resource'> & { resource?: unknown };
const isBundleEntry = (value: unknown): value is UncheckedEntry => isObject(value);

function assignedId(resource: Resource, request: fhir4.BundleEntryRequest | undefined, index: number): string {
  if (request?.method === 'PUT') {
    const target = parseReference(typeof request.url === 'string' ? request.url.split('?')[0] : undefined);
    if (!target || target.type !== resource.resourceType) {
      throw new OperationOutcomeError(unprocessable(`Bundle.entry[${index}]: PUT needs the URL ${resource.resourceType}/[id]`, `Bundle.entry[${index}].request.url`));
    }
    return target.id;
  }
  return request?.method !== 'POST' && typeof resource.id === 'string' ? resource.id : randomUUID();
}

function soleComposition(resources: Resource[], kind: DocumentKind): string {
  const found = resources.filter((resource) => resource.resourceType === 'Composition' && documentKind(resource) === kind);
  if (found.length !== 1) {
    throw new OperationOutcomeError(unprocessable(`The Bundle must hold exactly one ${kind} Composition; it holds ${found.length}`, 'Bundle.entry'));
  }
  return keyOf(found[0]);
}

/** Follows references from the Composition through the Bundle and the store; a reference that resolves nowhere is refused. */
async function closure(start: string, known: Map<string, Candidate>, context: DocumentContext): Promise<string[]> {
  const seen = new Set<string>([start]);
  const queue = [start];
  while (queue.length > 0) {
    const key = queue.shift()!;
    let found = known.get(key);
    if (!found) {
      const target = parseReference(key)!;
      const stored = await readOptional(context.resources, scopeOf(context.tenant, context.version), target.type, target.id);
      if (!stored) {
        const text = key === start ? `${key} is not stored on this gateway` : `${key} is referenced by the document but neither sent nor stored`;
        throw new OperationOutcomeError(unprocessable(text));
      }
      found = candidate(stored, context.version, false);
      known.set(key, found);
    }
    for (const reference of relativeReferences(found.stu3)) {
      if (!seen.has(reference)) {
        seen.add(reference);
        queue.push(reference);
      }
    }
  }
  return [...seen];
}

/** Validates what is new against base STU3 and its profiles, and the Composition (always) against its document profile. */
function validate(fresh: Resource[], composition: Resource, kind: DocumentKind, validator: ResourceValidator): OperationOutcomeIssue[] {
  const profile = documentProfile(composition, kind);
  const issues: OperationOutcomeIssue[] = [];
  const enforced = validator.knowsProfile(profile);
  if (!enforced) issues.push(issue('warning', 'not-supported', `Profile ${profile} is not loaded; ${keyOf(composition)} was checked against base FHIR only`));
  for (const resource of fresh.includes(composition) ? fresh : [composition, ...fresh]) {
    const result = validator.validate(resource, resource === composition && enforced ? { profiles: [profile] } : undefined);
    issues.push(...result.issue.filter((i) => i.severity !== 'information').map((i) => located(i, keyOf(resource))));
  }
  if (hasErrors(outcome('unprocessable', issues))) throw new OperationOutcomeError(outcome('unprocessable', issues));
  return issues;
}

function documentProfile(composition: Resource, kind: DocumentKind): string {
  if (kind === 'advanceNotice') return PROFILES.advanceNotice;
  const claimed = composition.meta?.profile ?? [];
  return PROFILES.nursingHandoff.find((profile) => claimed.includes(profile)) ?? PROFILES.nursingHandoffAdults;
}

/** Names the resource an issue is about: the validator speaks of `Composition.type`, the EHR sent many resources. */
function located(found: OperationOutcomeIssue, key: string): OperationOutcomeIssue {
  const text = found.details?.text ?? found.diagnostics ?? found.code;
  return { ...found, details: { ...found.details, text: `${key}: ${text}` } };
}

function writes(candidates: Candidate[], version: FhirVersion): TransferDocument['writes'] {
  return candidates.flatMap((c) => [
    ...(c.newStu3 ? [{ version: 'stu3' as const, resource: c.stu3 }] : []),
    ...(c.newOriginal ? [{ version, resource: c.original }] : []),
  ]);
}

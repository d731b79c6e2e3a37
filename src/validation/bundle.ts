import type { FhirVersion, Resource } from '../fhir/version.js';
import { referenceType } from './slicing.js';
import { asList } from '../vocabulary/json.js';

/**
 * Bundle rules that look across entries: references resolved as the specification's "Resolving references
 * in Bundles" describes (fullUrl based, version-aware), and link relations that may occur once.
 */
interface Entry {
  fullUrl?: string;
  resource?: Resource;
  searchMode?: unknown;
}

export interface RecordedReference {
  reference: string;
  expression: string;
  /** The entry the reference sits in (-1 outside entries). */
  entry: number;
  /** Allowed target types; undefined when any type will do. */
  allowed?: Set<string>;
}

export type Report = (severity: 'error' | 'warning', code: string, text: string, expression: string) => void;

/** A reference that must resolve among the resources it travels with (`ContentPolicy.unresolvedReferences`) and does not. */
export function reportUnresolved(report: Report, reference: string, expression: string): void {
  report('error', 'not-found', `Unable to resolve resource with reference '${reference}'`, expression);
}

const HISTORY = /\/_history\/([^/]+)$/;
const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:/i;
/** A RESTful fullUrl: `http(s)://base/Type/id`, with the type and id. */
const RESTFUL_PARTS = /^https?:\/\/.*\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const RESTFUL_FULL_URL = /^(.*\/)[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

export class BundleContext {
  readonly entries: Entry[];
  readonly references: RecordedReference[] = [];
  readonly type: string;

  constructor(
    private readonly bundle: Record<string, unknown>,
    /** The FHIRPath of the Bundle itself. */
    readonly expression: string,
    private readonly version: FhirVersion,
    private readonly isResourceType: (type: string) => boolean,
    /** References that resolve to no entry are errors (`ContentPolicy.unresolvedReferences`), not only a document Composition's. */
    private readonly mustResolve = false,
  ) {
    this.type = String(bundle.type ?? '');
    this.entries = asList(bundle.entry).map((entry) => {
      const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      return {
        fullUrl: typeof record.fullUrl === 'string' ? record.fullUrl : undefined,
        resource: typeof record.resource === 'object' && record.resource !== null ? (record.resource as Resource) : undefined,
        searchMode: (record.search as { mode?: unknown } | undefined)?.mode,
      };
    });
    this.links = asList(bundle.link).map((link) => link as { relation?: unknown; url?: unknown } | null);
  }

  private readonly links: ({ relation?: unknown; url?: unknown } | null)[];

  /**
   * The entries a reference resolves to by the bundle rules (more than one is an error of the bundle);
   * undefined when the rules do not apply (a relative reference from an entry without a RESTful fullUrl).
   */
  resolve(reference: string, fromEntry: number): Entry[] | undefined {
    const version = HISTORY.exec(reference)?.[1];
    const unversioned = reference.replace(HISTORY, '');
    let target: string | undefined;
    if (/^[a-z][a-z0-9+.-]*:/i.test(unversioned)) target = unversioned;
    else {
      const base = RESTFUL_FULL_URL.exec(this.entries[fromEntry]?.fullUrl ?? '')?.[1];
      if (base) target = base + unversioned;
    }
    if (target === undefined) return undefined;
    return this.entries.filter(
      (entry) => entry.fullUrl === target && (version === undefined || entry.resource?.meta?.versionId === version),
    );
  }

  private baseOf(entry: number): string {
    return RESTFUL_FULL_URL.exec(this.entries[entry]?.fullUrl ?? '')?.[1] ?? '\u0000';
  }

  /** Entries that carry the referenced id, found the way the HL7 validator falls back when the rules find nothing. */
  private sameId(reference: string): Entry[] {
    const id = reference.replace(HISTORY, '').split('/').pop();
    return this.entries.filter((entry) => entry.resource?.id === id || entry.fullUrl === `urn:uuid:${id}`);
  }

  check(report: Report): void {
    this.checkLinks(report);
    this.entries.forEach((entry, index) => this.checkEntry(entry, `${this.expression}.entry[${index}]`, report));
    if (this.type === 'searchset') this.checkSearchResults(report);
    if (this.type === 'document' && this.version === 'stu3' && !(this.bundle.meta as { lastUpdated?: unknown } | undefined)?.lastUpdated) {
      // STU3 has no Bundle.timestamp: a document's date is its meta.lastUpdated.
      report('error', 'required', 'A document must have a date (Bundle.meta.lastUpdated)', this.expression);
    }
    for (const recorded of this.references) this.checkReference(recorded, report);
  }

  /** A fullUrl is absolute; one that looks like a RESTful server URL names the resource's type and id. */
  private checkEntry({ fullUrl, resource }: Entry, expression: string, report: Report): void {
    if (fullUrl === undefined) return;
    if (!ABSOLUTE_URL.test(fullUrl)) {
      report('error', 'invalid', `The fullUrl must be an absolute URL (not '${fullUrl}')`, expression);
      return;
    }
    const restful = RESTFUL_PARTS.exec(fullUrl);
    if (!restful || !resource || !this.isResourceType(restful[1])) return;
    if (resource.id === undefined) {
      report('error', 'invalid', `The fullUrl '${fullUrl}' looks like a RESTful server URL, but the resource has no id`, expression);
    } else if (restful[1] !== resource.resourceType || restful[2] !== resource.id) {
      report('error', 'invalid', `The fullUrl '${fullUrl}' looks like a RESTful server URL, so it must end with the resource's type and id (/${resource.resourceType}/${String(resource.id)})`, expression);
    }
  }

  /** Search results have ids and the searched type; an outcome entry is an OperationOutcome. */
  private checkSearchResults(report: Report): void {
    const types = searchedTypes(this.links.find((link) => link?.relation === 'self')?.url);
    this.entries.forEach(({ resource, searchMode }, index) => {
      if (!resource) return;
      const expression = `${this.expression}.entry[${index}].resource`;
      if (searchMode === 'outcome' && resource.resourceType !== 'OperationOutcome') {
        report('error', 'invalid', `This is not an OperationOutcome (${resource.resourceType})`, expression);
      }
      if (searchMode !== 'match') return;
      if (resource.id === undefined) report('error', 'required', 'Search results must have ids', expression);
      if (types && !types.includes(resource.resourceType)) {
        report('error', 'invalid', `This is not a matching resource type for the specified search (${resource.resourceType} expecting ${types.join(', ')})`, expression);
      }
    });
  }

  private checkLinks(report: Report): void {
    const seen = new Set<unknown>();
    this.links.forEach((link, index) => {
      const relation = link?.relation;
      if (relation === undefined) return;
      if (seen.has(relation)) {
        report('error', 'invariant', `The link relationship type '${String(relation)}' can only occur once`, `${this.expression}.link[${index}]`);
      }
      seen.add(relation);
    });
  }

  private checkReference(recorded: RecordedReference, report: Report): void {
    const { reference, expression, allowed } = recorded;
    const matches = this.resolve(reference, recorded.entry);
    if (matches && matches.length > 1) {
      report('error', 'structure', `Multiple matches in bundle for reference ${reference}`, expression);
      return;
    }
    const target = matches?.[0]?.resource;
    if (target) {
      if (allowed && !allowed.has(target.resourceType)) {
        report('error', 'structure', `Reference ${reference} resolves to a ${target.resourceType}, which is not allowed here (${[...allowed].join(', ')})`, expression);
      }
      return;
    }
    const named = referenceType(reference);
    const candidates = this.sameId(reference).filter((entry) => entry.resource);
    if (named && candidates.length > 0 && !candidates.some((entry) => entry.resource!.resourceType === named)) {
      report('error', 'required', `Matching reference for reference ${reference} has resourceType ${candidates[0].resource!.resourceType}`, expression);
      return;
    }
    const local = !/^https?:/.test(reference) || reference.startsWith(this.baseOf(recorded.entry));
    const missing = matches ? local : candidates.length === 0;
    if (this.type === 'document' && recorded.entry === 0 && missing) {
      report('error', 'not-found', `Can't find '${reference}' in the bundle: a document carries the resources its Composition refers to`, expression);
    } else if (this.mustResolve && missing) {
      reportUnresolved(report, reference, expression);
    }
  }
}

/** The resource types a search asked for, from its self link (`Patient?name=x`, `?_type=A,B`); undefined when unknown. */
function searchedTypes(url: unknown): string[] | undefined {
  if (typeof url !== 'string') return undefined;
  const [path, query = ''] = url.split('?');
  const listed = new URLSearchParams(query).get('_type');
  if (listed) return listed.split(',');
  const type = path.split('/').pop();
  return type && /^[A-Z][A-Za-z]+$/.test(type) ? [type] : undefined;
}

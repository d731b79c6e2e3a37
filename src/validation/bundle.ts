import type { Resource } from '../fhir/version.js';
import { referenceType } from './slicing.js';
import { asList } from '../vocabulary/json.js';

/**
 * Bundle rules that look across entries: references resolved as the specification's "Resolving references
 * in Bundles" describes (fullUrl based, version-aware), and link relations that may occur once.
 */
interface Entry {
  fullUrl?: string;
  resource?: Resource;
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

const HISTORY = /\/_history\/([^/]+)$/;
const RESTFUL_FULL_URL = /^(.*\/)[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

export class BundleContext {
  readonly entries: Entry[];
  readonly references: RecordedReference[] = [];
  readonly type: string;

  constructor(
    bundle: Record<string, unknown>,
    /** The FHIRPath of the Bundle itself. */
    readonly expression: string,
  ) {
    this.type = String(bundle.type ?? '');
    this.entries = asList(bundle.entry).map((entry) => {
      const record = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
      return {
        fullUrl: typeof record.fullUrl === 'string' ? record.fullUrl : undefined,
        resource: typeof record.resource === 'object' && record.resource !== null ? (record.resource as Resource) : undefined,
      };
    });
    this.links = asList(bundle.link).map((link) => (link as { relation?: unknown } | null)?.relation);
  }

  private readonly links: unknown[];

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
    for (const recorded of this.references) this.checkReference(recorded, report);
  }

  private checkLinks(report: Report): void {
    const seen = new Set<unknown>();
    this.links.forEach((relation, index) => {
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
    }
  }
}

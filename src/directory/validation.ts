import { URA_SYSTEM } from '../vocabulary/canonical.js';
import { objects, stringAt, type JsonObject } from '../vocabulary/json.js';
import type { HistoryChange } from './history-client.js';

/**
 * What an mCSD update client accepts from a directory (as the generic functions' update client checks it): only the
 * directory's resource types; an organisation's data only from its own directory (its URA is one the directory is
 * authoritative for, or it is part of such an organisation); every HealthcareService, Location and Endpoint belongs
 * to that tree; an Endpoint is referenced by its organisation (or one of its services) and has an http(s) address.
 * Refused entries become warnings; the rest of the round goes on.
 */
export interface DirectoryAuthority {
  resourceTypes: readonly string[];
  /** The URAs this directory speaks for; undefined: any (a root directory, authoritative for the URA register). */
  uras?: ReadonlySet<string>;
}

/** The current resources of one directory, by `Type/id`. */
export type DirectoryContents = Map<string, JsonObject>;

export interface ValidatedRound {
  accepted: HistoryChange[];
  warnings: string[];
}

const MAX_PART_OF_DEPTH = 10;

export const keyOf = (resourceType: string, id: string) => `${resourceType}/${id}`;

/**
 * Validates a round's changes against what the directory holds after them. `contents` is the directory's state before
 * the round; it is not changed here.
 */
export function validateRound(changes: HistoryChange[], contents: DirectoryContents, authority: DirectoryAuthority): ValidatedRound {
  const warnings: string[] = [];
  if (changes.length === 0) return { accepted: [], warnings };
  const typed = changes.filter((change) => {
    if (authority.resourceTypes.includes(change.resourceType)) return true;
    warnings.push(`resource type ${change.resourceType} not allowed (${change.resourceType}/${change.id})`);
    return false;
  });
  const after = new Map(contents);
  for (const change of typed) {
    if (change.resource) after.set(keyOf(change.resourceType, change.id), change.resource);
    else after.delete(keyOf(change.resourceType, change.id));
  }
  const tree = new Tree(after, authority);
  const accepted: HistoryChange[] = [];
  for (const change of typed) {
    const problem = change.resource ? tree.problem(change.resourceType, change.id, change.resource) : undefined;
    if (problem) warnings.push(`${change.resourceType}/${change.id}: ${problem}`);
    else accepted.push(change);
  }
  return { accepted, warnings };
}

/** The URA identifiers of an Organization. */
export function urasOf(organization: JsonObject | undefined): string[] {
  return objects(organization?.identifier)
    .filter((identifier) => identifier.system === URA_SYSTEM)
    .map((identifier) => stringAt(identifier, 'value'))
    .filter((value): value is string => value !== undefined);
}

/** The id a reference names, compared on its last path segment as update clients do (`Organization/1`, absolute URLs). */
export function referencedId(reference: unknown): string | undefined {
  const text = stringAt(reference, 'reference');
  if (!text || text.startsWith('#')) return undefined;
  const segments = text.split('?')[0]!.split('/').filter(Boolean);
  const at = segments.lastIndexOf('_history');
  return at > 0 ? segments[at - 1] : segments[segments.length - 1];
}

export function isHttpAddress(address: unknown): boolean {
  if (typeof address !== 'string') return false;
  try {
    const url = new URL(address);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** The organisations of the directory's authoritative tree and the resources that belong to it. */
class Tree {
  /** Endpoint id → the Organizations and HealthcareServices that reference it. */
  private readonly referrers = new Map<string, JsonObject[]>();

  constructor(
    private readonly contents: DirectoryContents,
    private readonly authority: DirectoryAuthority,
  ) {
    for (const resource of contents.values()) {
      if (resource.resourceType !== 'Organization' && resource.resourceType !== 'HealthcareService') continue;
      for (const reference of objects(resource.endpoint)) {
        const id = referencedId(reference);
        if (id !== undefined) this.referrers.set(id, [...(this.referrers.get(id) ?? []), resource]);
      }
    }
  }

  problem(resourceType: string, id: string, resource: JsonObject): string | undefined {
    switch (resourceType) {
      case 'Organization':
        return this.organizationProblem(resource);
      case 'HealthcareService':
        return this.belongs(resource.providedBy, 'providedBy');
      case 'Location':
        return this.belongs(resource.managingOrganization, 'managingOrganization');
      case 'Endpoint':
        return this.endpointProblem(id, resource);
      default:
        return undefined;
    }
  }

  private organizationProblem(organization: JsonObject): string | undefined {
    const uras = urasOf(organization);
    if (uras.length > 1) return `has ${uras.length} URA identifiers; an organisation has at most one`;
    if (this.authority.uras === undefined) return undefined;
    if (uras.length === 1) {
      return this.authority.uras.has(uras[0]!) ? undefined : `URA ${uras[0]} is not one this directory speaks for (only its own directory may publish an organisation)`;
    }
    if (!organization.partOf) return 'has no URA and is part of no organisation';
    return this.inTree(referencedId(organization.partOf)) ? undefined : 'partOf does not lead to an organisation with a URA of this directory';
  }

  private belongs(reference: unknown, element: string): string | undefined {
    if (!reference) return `${element} is required`;
    return this.inTree(referencedId(reference)) ? undefined : `${element} is not an organisation of this directory`;
  }

  private endpointProblem(id: string, endpoint: JsonObject): string | undefined {
    if (!isHttpAddress(endpoint.address)) return `invalid FHIR base URL (url=${String(endpoint.address)})`;
    const referencing = (this.referrers.get(id) ?? []).some((resource) =>
      resource.resourceType === 'Organization' ? this.inTree(stringAt(resource, 'id')) : this.belongs(resource.providedBy, 'providedBy') === undefined,
    );
    return referencing ? undefined : `endpoint must be referenced by an organisation of this directory or one of its services (endpoint ID: ${id})`;
  }

  /** Whether the organisation is authoritative here or part of one that is (partOf, at most ten levels, no cycles). */
  private inTree(id: string | undefined): boolean {
    const visited = new Set<string>();
    for (let depth = 0; id !== undefined && depth <= MAX_PART_OF_DEPTH && !visited.has(id); depth++) {
      visited.add(id);
      const organization = this.contents.get(keyOf('Organization', id));
      if (!organization) return false;
      const uras = urasOf(organization);
      if (uras.length > 0) return this.authority.uras === undefined || uras.some((ura) => this.authority.uras!.has(ura));
      id = referencedId(organization.partOf);
    }
    return false;
  }
}

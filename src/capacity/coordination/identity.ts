import type { TrustedOrganization } from '../../config/config.js';
import { isObject, objects } from '../../vocabulary/json.js';
import { AGB_SYSTEM, URA_SYSTEM } from '../../vocabulary/canonical.js';

/** An organisation as the trust registry knows it: its URA and AGB, and its name. */
export interface KnownIdentity {
  identifiers: { system: string; value: string }[];
  name: string;
}

/** A claim in a publication about whose data it is that is not the publisher's: where it is and what it says. */
export interface ForeignClaim {
  /** FHIRPath of the element, e.g. `MeasureReport.contained[0].identifier[1]`. */
  at: string;
  claim: string;
}

/** The systems that identify a Dutch care organisation: URA and AGB, by URL and by OID. */
const ORGANIZATION_SYSTEMS: Record<string, string> = {
  [URA_SYSTEM]: URA_SYSTEM,
  'urn:oid:2.16.528.1.1007.3.3': URA_SYSTEM,
  [AGB_SYSTEM]: AGB_SYSTEM,
  'urn:oid:2.16.840.1.113883.2.4.6.1': AGB_SYSTEM,
};

/** Where a resource names the organisation it is about, by type (identifiers are looked for everywhere). */
const ORGANIZATION_NAMES: Readonly<Record<string, readonly string[][]>> = {
  Organization: [['name'], ['alias']],
  MeasureReport: [['reporter', 'display'], ['subject', 'display']],
  HealthcareService: [['providedBy', 'display']],
  Location: [['managingOrganization', 'display']],
  Endpoint: [['managingOrganization', 'display']],
  PractitionerRole: [['organization', 'display']],
};

export function knownIdentity(organization: Pick<TrustedOrganization, 'name' | 'ura' | 'agb'>): KnownIdentity {
  const identifiers = [
    ...(organization.ura ? [{ system: URA_SYSTEM, value: organization.ura }] : []),
    ...(organization.agb ? [{ system: AGB_SYSTEM, value: organization.agb }] : []),
  ];
  return { identifiers, name: organization.name };
}

/**
 * The first claim of a publication (the report as sent, with everything it contains) about an organisation's
 * identity that is not the publisher's: a URA or AGB identifier anywhere in it (the Organization's, the reporter's,
 * a providedBy or managingOrganization reference's, one in an extension), or an organisation's name (Organization
 * name and alias, the display of the references above). Names are compared without regard to case and spacing.
 * Read before the allowlist rebuilds the report, so that a claim is refused rather than silently dropped.
 */
export function foreignIdentityClaim(payload: unknown, publisher: KnownIdentity): ForeignClaim | undefined {
  return foreignIdentifier(payload, publisher) ?? foreignName(payload, publisher);
}

function foreignIdentifier(payload: unknown, publisher: KnownIdentity): ForeignClaim | undefined {
  const pending: [value: unknown, at: string][] = [[payload, rootPath(payload)]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [value, at] = next;
    if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push([item, `${at}[${index}]`]));
    } else if (isObject(value)) {
      const system = typeof value.system === 'string' ? ORGANIZATION_SYSTEMS[value.system] : undefined;
      if (system && 'value' in value && !publisher.identifiers.some((own) => own.system === system && own.value === value.value)) {
        return { at, claim: shortened(`${value.system}|${quoted(value.value)}`) };
      }
      for (const [name, item] of Object.entries(value)) pending.push([item, `${at}.${name}`]);
    }
  }
  return undefined;
}

function foreignName(payload: unknown, publisher: KnownIdentity): ForeignClaim | undefined {
  const own = comparable(publisher.name);
  const resources: [resource: unknown, at: string][] = [
    [payload, rootPath(payload)],
    ...objects(isObject(payload) ? payload.contained : undefined).map((resource, index): [unknown, string] => [resource, `${rootPath(payload)}.contained[${index}]`]),
  ];
  for (const [resource, at] of resources) {
    const type = isObject(resource) && typeof resource.resourceType === 'string' ? resource.resourceType : '';
    for (const path of Object.hasOwn(ORGANIZATION_NAMES, type) ? ORGANIZATION_NAMES[type] : []) {
      const found = valueAt(resource, path);
      const names = Array.isArray(found) ? found : found === undefined ? [] : [found];
      const index = names.findIndex((name) => typeof name !== 'string' || comparable(name) !== own);
      if (index >= 0) return { at: `${at}.${path.join('.')}${Array.isArray(found) ? `[${index}]` : ''}`, claim: shortened(quoted(names[index])) };
    }
  }
  return undefined;
}

function rootPath(payload: unknown): string {
  return isObject(payload) && typeof payload.resourceType === 'string' ? payload.resourceType : 'MeasureReport';
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((item, name) => (isObject(item) && Object.hasOwn(item, name) ? item[name] : undefined), value);
}

/** A claimed name as the answer quotes it: a name that is no string (any JSON value) as its JSON. */
function quoted(name: unknown): string {
  return typeof name === 'string' ? name : (JSON.stringify(name) ?? String(name));
}

/** Quoted in an answer: a claim of any length is cut short. */
function shortened(claim: string): string {
  return claim.length > 100 ? `${claim.slice(0, 100)}…` : claim;
}

function comparable(name: string): string {
  return name.normalize('NFKC').trim().replace(/\s+/gu, ' ').toLocaleLowerCase('nl');
}

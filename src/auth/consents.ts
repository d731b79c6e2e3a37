import type { OperationOutcome } from '../fhir/outcome.js';
import { forbidden } from '../fhir/outcome.js';
import type { AccessRequest, Principal } from '../fhir/principal.js';
import type { Resource } from '../fhir/version.js';
import { asList, isObject } from '../vocabulary/json.js';
import {
  CONSENT_ACTION_SYSTEM,
  CONSENT_REQUIRES_PERSON_EXTENSION,
  CONSENT_SCOPE_SYSTEM,
  EOVERDRACHT_CONSENT_SCOPE,
  ORGANIZATION_ID_SYSTEM,
  REFUSAL_REASON_SYSTEM,
  REFUSAL_REASONS,
  URA_SYSTEM,
} from '../vocabulary/canonical.js';

/**
 * The sender's authorization of an eOverdracht pull (issue #14 item 2; network-protocols.md §1.7, the Knooppunt's
 * `eoverdracht_sender` policy): a remote organisation may read a resource, call `$document` on a Composition, or
 * update a Task only when an active R4 Consent of the tenant, scope `eoverdracht`, with the tenant as organization
 * and the requester as actor, names that exact resource in `provision.data`. Reads and `$document` need the action
 * `access`; the update of a Task needs `correct` as well, which the sender grants only while the transfer runs (after
 * its end the Task stays readable, Bolt §4.2.1). A `deny` provision overrides a `permit`. Anything else is refused.
 * A Consent the sender marked as requiring a person (its person policy, conformance/person-policy.json) opens its
 * resources only to a token that names one: otherwise the 403 says a user identity is required.
 */

/** The Consents of the tenant that name `Type/id` in their data (whatever their status: the rule judges). */
export type ConsentLookup = (tenant: string, key: string) => Promise<Resource[]>;

/** How an organisation is named in a Consent: its URA, or this gateway's organisation id. */
export interface NamedOrganization {
  id: string;
  ura?: string;
}

/** At most this many Consents are read per resource (a transfer writes one naming each). */
export const CONSENT_LOOKUP_COUNT = 100;

type Interaction = { key: string; action: 'access' | 'correct' };

const RESOURCE = /^\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;
const DOCUMENT = /^\/(Composition)\/([A-Za-z0-9\-.]{1,64})\/\$document$/;

/** What the request is, as the Consent rule knows interactions: a read, `$document` of a Composition, a Task update. */
function interactionOf(request: AccessRequest): Interaction | undefined {
  if (request.operation === 'read') {
    const match = RESOURCE.exec(request.path);
    return match ? { key: `${match[1]}/${match[2]}`, action: 'access' } : undefined;
  }
  if (request.operation === 'operation') {
    const match = DOCUMENT.exec(request.path);
    return match ? { key: `${match[1]}/${match[2]}`, action: 'access' } : undefined;
  }
  if (request.operation === 'update') {
    const match = RESOURCE.exec(request.path);
    return match?.[1] === 'Task' ? { key: `Task/${match[2]}`, action: 'correct' } : undefined;
  }
  return undefined;
}

const codings = (value: unknown): unknown[] => (isObject(value) ? asList(value.coding) : []);
const hasCoding = (value: unknown, system: string, code: string) =>
  codings(value).some((coding) => isObject(coding) && coding.system === system && coding.code === code);

function names(identifier: unknown, organization: NamedOrganization): boolean {
  if (!isObject(identifier)) return false;
  return (
    (identifier.system === URA_SYSTEM && organization.ura !== undefined && identifier.value === organization.ura) ||
    (identifier.system === ORGANIZATION_ID_SYSTEM && identifier.value === organization.id)
  );
}

/** True when the Consent is in force now and speaks of this holder, this actor and this resource. */
function applies(consent: Resource, holder: NamedOrganization, actor: NamedOrganization, key: string, now: number): boolean {
  const provision = isObject(consent.provision) ? consent.provision : undefined;
  if (consent.resourceType !== 'Consent' || consent.status !== 'active' || !provision) return false;
  if (!hasCoding(consent.scope, CONSENT_SCOPE_SYSTEM, EOVERDRACHT_CONSENT_SCOPE)) return false;
  if (!asList(consent.organization).some((organization) => isObject(organization) && names(organization.identifier, holder))) return false;
  if (!asList(provision.actor).some((entry) => isObject(entry) && isObject(entry.reference) && names(entry.reference.identifier, actor))) return false;
  const period = isObject(provision.period) ? provision.period : undefined;
  if (typeof period?.end === 'string' && Date.parse(period.end) <= now) return false;
  if (typeof period?.start === 'string' && Date.parse(period.start) > now) return false;
  return asList(provision.data).some((data) => isObject(data) && isObject(data.reference) && data.reference.reference === key);
}

/**
 * The 403 of a request that a token naming no person may not make, with the refusal reason `user-identity-required`:
 * a receiver of ours then waits for its EHR to name the person instead of giving up (transfer/receiver.ts).
 */
export function userIdentityRequired(request: AccessRequest): OperationOutcome {
  const result = forbidden(`${request.operation} ${request.path} requires a user identity: the token names no person (the grant's usi, or an employee or Dezi credential)`);
  const details = result.issue[0]!.details!;
  details.coding = [{ system: REFUSAL_REASON_SYSTEM, code: REFUSAL_REASONS.userIdentityRequired }];
  return result;
}

const requiresPerson = (consent: Resource) =>
  asList(consent.extension).some((extension) => isObject(extension) && extension.url === CONSENT_REQUIRES_PERSON_EXTENSION && extension.valueBoolean === true);

const allowsAction = (consent: Resource, action: string) =>
  asList(isObject(consent.provision) ? consent.provision.action : undefined).some((entry) => hasCoding(entry, CONSENT_ACTION_SYSTEM, action));

export interface ConsentRule {
  lookup: ConsentLookup;
  holder(tenant: string): NamedOrganization | undefined;
  actor(requester: string): NamedOrganization | undefined;
  clock?: () => number;
}

/** undefined when a Consent allows the request; else the 403 saying why. */
export async function consentDecision(rule: ConsentRule, principal: Principal, request: AccessRequest): Promise<OperationOutcome | undefined> {
  const interaction = interactionOf(request);
  const refuse = (why: string) => forbidden(`${request.operation} ${request.path} is refused to '${principal.requester}': ${why}`);
  if (!interaction || (request.endpoint ?? 'fhir') !== 'fhir') {
    return refuse('an eOverdracht pull may only read, call $document on a Composition, or update its Task');
  }
  const holder = rule.holder(principal.tenant);
  const actor = rule.actor(principal.requester);
  if (!holder || !actor) return refuse('no Consent can name it');
  const now = (rule.clock ?? Date.now)();
  const consents = (await rule.lookup(principal.tenant, interaction.key)).filter((consent) => applies(consent, holder, actor, interaction.key, now));
  const permits = consents.filter((consent) => isObject(consent.provision) && consent.provision.type !== 'deny');
  if (consents.some((consent) => isObject(consent.provision) && consent.provision.type === 'deny')) return refuse(`a Consent denies ${interaction.key}`);
  if (permits.length === 0) return refuse(`no active eoverdracht Consent names ${interaction.key} for it`);
  const allowing = permits.filter((consent) => allowsAction(consent, 'access') && (interaction.action === 'access' || allowsAction(consent, interaction.action)));
  if (allowing.length === 0) {
    return refuse(interaction.action === 'correct' ? `the Consent for ${interaction.key} no longer allows its update (the transfer has ended)` : `no Consent allows access to ${interaction.key}`);
  }
  if (!principal.person && allowing.every(requiresPerson)) return userIdentityRequired(request);
  return undefined;
}

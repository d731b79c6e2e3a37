import type { Role } from '../config/config.js';
import type { Operation } from '../fhir/principal.js';

/**
 * The purposes of use this gateway knows (the Nuts "Bolts") and each one's base policy: what a token with that
 * purpose may do before any authorization credential adds resources. This table is data; change access here only.
 *
 * A rule's path is relative to its endpoint's base and matched whole; `{id}` stands for exactly one FHIR id.
 * Credential resources, by contrast, are matched exactly, character for character (RFC014 §4).
 *
 * A Bundle posted to the base is a `batch` or `transaction` on path `/` (e.g. `fhir('/', 'batch')`), asked before
 * any of its entries: a purpose without such a rule gets neither, even if it may do each entry on its own.
 */
export type Endpoint = 'fhir' | 'notification' | 'directory';

export interface PolicyRule {
  endpoint: Endpoint;
  path: string;
  operations: Operation[];
}

export interface Purpose {
  description: string;
  basePolicy: PolicyRule[];
  /** Granted only by a hosted organisation with this role (a provider's internal data is no coordination point's board). */
  authorizerRole?: Role;
}

const fhir = (path: string, ...operations: Operation[]): PolicyRule => ({ endpoint: 'fhir', path, operations });

/** What the capacity purposes may read at a coordination point: its board and directory. */
export const DIRECTORY_TYPES: readonly string[] = ['MeasureReport', 'HealthcareService', 'Organization', 'Location', 'Endpoint'];

/** The published care-services directory (IHE mCSD): the resource types an update client reads, and how. */
export const CARE_SERVICES_TYPES: readonly string[] = ['Organization', 'HealthcareService', 'Location', 'Endpoint'];

/** What a hub or hospital does at a coordination point: read the board, `$match-capacity`, subscribe to its topics. */
export const CAPACITY_SUBSCRIBER = 'capacity-subscription';

/** What anyone may read of a hosted organisation's published directory (its `directory` endpoint, no token). */
export const DIRECTORY_READER = 'care-services-directory';

/** What hospitals and hubs may do with a coordination point's query directory (`/mcsd-query`): search and read it. */
export const QUERY_DIRECTORY_READER = 'care-services-query';

const directoryRules = (operations: Operation[]) =>
  CARE_SERVICES_TYPES.flatMap((type): PolicyRule[] => [
    { endpoint: 'directory', path: `/${type}`, operations },
    { endpoint: 'directory', path: `/${type}/{id}`, operations: ['read'] },
  ]);

export const PURPOSES: Readonly<Record<string, Purpose>> = {
  [DIRECTORY_READER]: {
    description: "mCSD: update clients read an organisation's administration directory (search, read and _history of its directory resources)",
    basePolicy: directoryRules(['search', 'history']),
  },
  [QUERY_DIRECTORY_READER]: {
    description:
      "mCSD: hospitals and hubs search a coordination point's query directory (its providers' Organization, HealthcareService, Location and Endpoint, as the egress allowlist shows them)",
    basePolicy: directoryRules(['search']),
    authorizerRole: 'coordination-point',
  },
  'eOverdracht-sender': {
    description: "eOverdracht: the receiver pulls the Task and what the sender's Consents name from the sender's FHIR API",
    // The document's resources come level by level in batch reads (transfer/peer.ts), or at once with $document; each
    // entry, the $document call and each resource of the document need a Consent (auth/consents.ts; rest/document.ts
    // authorizes every one).
    basePolicy: [fhir('/', 'batch')],
  },
  'eOverdracht-receiver': {
    description:
      "eOverdracht: the sender notifies the receiver (notified pull): the Bolt's empty POST of the notification endpoint's /Task/{id}, or Twiin's notification Task POSTed to its /Task",
    basePolicy: [
      { endpoint: 'notification', path: '/Task/{id}', operations: ['create'] },
      { endpoint: 'notification', path: '/Task', operations: ['create'] },
    ],
  },
  'capacity-publication': {
    description: 'Capacity: a provider publishes availability snapshots to the coordination point',
    basePolicy: [fhir('/MeasureReport', 'create')],
    authorizerRole: 'coordination-point',
  },
  'capacity-subscription': {
    description: "Capacity: hospitals and triagists read and subscribe to the coordination point's availability",
    basePolicy: [
      ...DIRECTORY_TYPES.flatMap((type) => [fhir(`/${type}`, 'search'), fhir(`/${type}/{id}`, 'read')]),
      fhir('/MeasureReport/$match-capacity', 'operation'),
      // The published SubscriptionTopics (Basic resources; subscriptions/ withholds every other Basic from them).
      fhir('/Basic', 'search'),
      fhir('/Basic/{id}', 'read'),
      fhir('/Subscription', 'create', 'search'),
      fhir('/Subscription/{id}', 'read', 'update', 'delete'),
      fhir('/Subscription/$status', 'operation'),
      fhir('/Subscription/{id}/$status', 'operation'),
      fhir('/Subscription/{id}/$events', 'operation'),
    ],
    authorizerRole: 'coordination-point',
  },
};

/** The purpose whose requests, beyond its base policy, only resource-level Consents allow (auth/consents.ts). */
export const CONSENT_PURPOSE = 'eOverdracht-sender';

export function isKnownPurpose(purpose: unknown): purpose is string {
  return typeof purpose === 'string' && Object.hasOwn(PURPOSES, purpose);
}

const FHIR_ID = '[A-Za-z0-9\\-.]{1,64}';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function compile(rule: PolicyRule): { endpoint: Endpoint; path: RegExp; operations: Operation[] } {
  const pattern = rule.path.split('{id}').map(escape).join(FHIR_ID);
  return { endpoint: rule.endpoint, path: new RegExp(`^${pattern}$`), operations: rule.operations };
}

const COMPILED = new Map(Object.entries(PURPOSES).map(([purpose, { basePolicy }]) => [purpose, basePolicy.map(compile)]));

/** True when the purpose's base policy allows this operation on this path of this endpoint. */
export function basePolicyAllows(purpose: string | undefined, endpoint: Endpoint, path: string, operation: Operation): boolean {
  const rules = purpose === undefined ? undefined : COMPILED.get(purpose);
  return (rules ?? []).some((rule) => rule.endpoint === endpoint && rule.operations.includes(operation) && rule.path.test(path));
}

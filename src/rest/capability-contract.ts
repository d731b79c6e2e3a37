import type { AccessRequest } from '../fhir/principal.js';
import type { OutboxHandler } from '../outbox/dispatcher.js';
import type { FhirVersion } from '../fhir/version.js';
import type { PageRoute } from './pages.js';
import type { RouteDefinition } from './router.js';
import type { ServedProjection, WriteInterceptor } from './types.js';

/**
 * The one contract between the gateway and what it does (eOverdracht transfer, capacity, subscriptions): a capability
 * declares its routes, write rules, outbox handlers and background work as data, and the gateway serves them. Routes
 * are rows (`RouteDefinition`) that carry who may call them (`access`), what they read of a body (`bodyLimit`) and
 * whether their accesses are audited (`audit`); `http/` alone turns them into express routes, so every route, inside
 * the FHIR bases or not, has one body limit path, one 401 challenge and one mapping of errors to OperationOutcomes.
 * docs/capabilities.md walks through adding an operation end to end.
 */
export interface Capability {
  /** Names the capability in start-up errors (two capabilities claiming the writes of one type, or one outbox kind). */
  name: string;
  /** FHIR routes (typically operations) on the base of one release. */
  fhirRoutes?(version: FhirVersion): RouteDefinition[];
  /** APIs outside the FHIR bases (e.g. the eOverdracht notification endpoint), served the same way. */
  endpoints?: Endpoint[];
  /** Web pages for people in a browser (the regional desk), outside the FHIR API: `rest/pages.ts`. */
  pages?: PageRoute[];
  /** Rules around REST writes, by resource type: one capability decides the writes of a type. */
  writeInterceptors?: Record<string, WriteInterceptor>;
  /** What some callers see of the answers of both FHIR bases (e.g. other organisations at a coordination point). */
  servedProjection?: ServedProjection;
  /** Deliverers of the outbox messages it queues, by kind, run by the gateway's outbox dispatcher. */
  outboxHandlers?: Record<string, OutboxHandler>;
  /** Background work (schedules, listeners, workers of its own); called once the store is open, before requests. */
  start?(): Promise<void>;
  /** Stops that work; called after the last request was answered, before the store closes. */
  stop?(): Promise<void>;
}

/** An API of FHIR-shaped requests and OperationOutcome answers outside the FHIR bases (no CapabilityStatement). */
export interface Endpoint {
  /** Where it is mounted, e.g. `/eoverdracht/notification`; route paths are below it. */
  path: string;
  /** The API the authenticator judges its requests as (the base policies of auth/purposes.ts name it). */
  api: NonNullable<AccessRequest['endpoint']>;
  /** The release of the bodies it reads and the outcomes it answers with. */
  version: FhirVersion;
  routes: RouteDefinition[];
}

/**
 * What the capabilities declare by key (the writes of a resource type, an outbox kind), together; a key that two
 * capabilities claim is a start-up error naming both (`what` names the key: "the writes of", "the outbox kind").
 */
export function declaredByKey<T>(
  capabilities: Capability[],
  declared: (capability: Capability) => Record<string, T> | undefined,
  what: string,
): Record<string, T> {
  const values: Record<string, T> = {};
  const owners: Record<string, string> = {};
  for (const capability of capabilities) {
    for (const [key, value] of Object.entries(declared(capability) ?? {})) {
      if (owners[key]) throw new Error(`Two capabilities claim ${what} ${key}: ${owners[key]} and ${capability.name}`);
      owners[key] = capability.name;
      values[key] = value;
    }
  }
  return values;
}

import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry } from '../fhir/bundle.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { SUBSCRIPTION_STATUS_PROFILE, NOTIFICATION_PROFILE } from './canonical.js';
import type { SubscriptionStatus } from './subscription.js';

/**
 * The backport's R4 notification shapes: a `history` Bundle whose first entry is the SubscriptionStatus as a
 * Parameters resource (subscription, topic, status, type, events-since-subscription-start, notification-event),
 * followed by the focus resources a full-resource payload carries.
 */
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

/** A resource an event is about, at the version the event saw. */
export interface FocusRef {
  resourceType: string;
  id: string;
  versionId: string;
  fhirVersion: FhirVersion;
}

/** One event as a subscription's stream keeps it (its number is the stream's). */
export interface SubscriptionEvent {
  timestamp: string;
  focus: FocusRef;
}

export interface StatusReport {
  /** Absolute URL of the Subscription. */
  subscription: string;
  /** Left out of `empty` payloads, as the IG advises. */
  topic?: string;
  status: SubscriptionStatus;
  type: NotificationType;
  eventsSinceSubscriptionStart: number;
  events?: { number: number; timestamp: string; focus?: string }[];
  error?: string;
}

type Parameter = { name: string; [value: string]: unknown };

export function subscriptionStatus(report: StatusReport): Resource {
  const parameter: Parameter[] = [{ name: 'subscription', valueReference: { reference: report.subscription } }];
  if (report.topic) parameter.push({ name: 'topic', valueCanonical: report.topic });
  parameter.push({ name: 'status', valueCode: report.status }, { name: 'type', valueCode: report.type });
  parameter.push({ name: 'events-since-subscription-start', valueString: String(report.eventsSinceSubscriptionStart) });
  for (const event of report.events ?? []) {
    const part: Parameter[] = [
      { name: 'event-number', valueString: String(event.number) },
      { name: 'timestamp', valueInstant: event.timestamp },
    ];
    if (event.focus) part.push({ name: 'focus', valueReference: { reference: event.focus } });
    parameter.push({ name: 'notification-event', part });
  }
  if (report.error) parameter.push({ name: 'error', valueCodeableConcept: { text: report.error } });
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [SUBSCRIPTION_STATUS_PROFILE] }, parameter };
}

export function notificationBundle(status: Resource, subscriptionPath: string, focus: BundleEntry[], timestamp: string): Bundle {
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [NOTIFICATION_PROFILE] },
    type: 'history',
    timestamp,
    entry: [
      {
        fullUrl: `urn:uuid:${status.id}`,
        resource: status,
        request: { method: 'GET', url: `${subscriptionPath}/$status` },
        response: { status: '200' },
      },
      ...focus,
    ],
  };
}

/** A focus resource as a history entry. */
export function focusEntry(url: string, resource: Resource): BundleEntry {
  return { fullUrl: url, resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` }, response: { status: '200' } };
}

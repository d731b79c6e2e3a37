import { GATEWAY_CANONICAL } from '../vocabulary/canonical.js';

/** Canonical URLs and codes of the R4 Subscriptions Backport IG and of this gateway's topics. */
export const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';

export const FILTER_CRITERIA_EXTENSION = `${BACKPORT}/StructureDefinition/backport-filter-criteria`;
export const PAYLOAD_CONTENT_EXTENSION = `${BACKPORT}/StructureDefinition/backport-payload-content`;
export const HEARTBEAT_PERIOD_EXTENSION = `${BACKPORT}/StructureDefinition/backport-heartbeat-period`;
export const TIMEOUT_EXTENSION = `${BACKPORT}/StructureDefinition/backport-timeout`;
export const SUBSCRIPTION_STATUS_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription-status-r4`;
export const NOTIFICATION_PROFILE = `${BACKPORT}/StructureDefinition/backport-subscription-notification-r4`;

/** The topics this gateway serves (conformance/SubscriptionTopic-*.json). */
export const CAPACITY_CHANGED_TOPIC = `${GATEWAY_CANONICAL}/SubscriptionTopic/capacity-changed`;
export const TASK_STATUS_CHANGED_TOPIC = `${GATEWAY_CANONICAL}/SubscriptionTopic/task-status-changed`;

/** Who created a Subscription (`meta.tag`): `ehr` (the tenant's own EHR) or `organization:<id>` (a remote one). */
export const SUBSCRIPTION_OWNER_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/subscription-owner`;

export const TASK_STATUS_SYSTEM = 'http://hl7.org/fhir/task-status';

/** The detached JWS over a notification's body, signed with the hosted organisation's key (docs/subscriptions.md). */
export const SIGNATURE_HEADER = 'x-vervolgzorg-signature';
export const SIGNATURE_TYPE = 'notification+jws';

/** Outbox kinds of the subscription dispatcher. */
export const OUTBOX_KINDS = {
  handshake: 'subscription.handshake',
  notify: 'subscription.notify',
  heartbeat: 'subscription.heartbeat',
} as const;

export type ContentLevel = 'empty' | 'id-only' | 'full-resource';
export const CONTENT_LEVELS: readonly ContentLevel[] = ['empty', 'id-only', 'full-resource'];

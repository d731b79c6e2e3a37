import { isObject, objects, stringAt, type JsonObject } from '../vocabulary/json.js';
import { issue, OperationOutcomeError, type OperationOutcomeIssue } from '../fhir/outcome.js';
import { parseSearchRequest, type SearchLimits } from '../fhir/search/parse.js';
import type { Resource } from '../fhir/version.js';
import {
  CONTENT_LEVELS,
  FILTER_CRITERIA_EXTENSION,
  HEARTBEAT_PERIOD_EXTENSION,
  PAYLOAD_CONTENT_EXTENSION,
  SUBSCRIPTION_OWNER_SYSTEM,
  TIMEOUT_EXTENSION,
  type ContentLevel,
} from './canonical.js';
import type { Owner } from './endpoints.js';
import { parseFilterCriteria, type TopicFilter } from './filters.js';
import type { SubscriptionTopic } from './topics.js';

/**
 * A Subscription resource read into what matching and delivery need: a backport topic with its filters, or a
 * classic R4 criteria (`MeasureReport?...`); the rest-hook channel; who owns it. `readSubscription` also says
 * precisely what is wrong with one a client sends (issues with FHIRPath expressions).
 */
export type SubscriptionStatus = 'requested' | 'active' | 'error' | 'off';

export type Trigger =
  | { kind: 'topic'; topic: SubscriptionTopic; filters: TopicFilter[] }
  | { kind: 'criteria'; resourceType: string; criteria: string };

export interface SubscriptionPlan {
  id: string;
  versionId: string;
  status: SubscriptionStatus;
  /** Why it is in error (`Subscription.error`). */
  error?: string;
  /** When the server turns it off (`Subscription.end`), epoch ms. */
  end?: number;
  owner: Owner;
  trigger: Trigger;
  endpoint: string;
  /** `channel.header`, as name and value. */
  headers: [string, string][];
  /** The notification's format; undefined for a classic subscription without payload (an empty POST). */
  format?: 'json' | 'xml';
  content: ContentLevel;
  heartbeatSeconds?: number;
  timeoutMs?: number;
}

const STATUSES: SubscriptionStatus[] = ['requested', 'active', 'error', 'off'];
/** Resource types classic criteria may name: the ones this gateway raises events for. */
export const CLASSIC_TYPES = ['MeasureReport'];
const FORMATS: Record<string, 'json' | 'xml'> = {
  'application/fhir+json': 'json',
  'application/json': 'json',
  'application/fhir+xml': 'xml',
  'application/xml': 'xml',
};
const RESULT_PARAMETERS = new Set(['_count', '_offset', '_sort', '_include', '_revinclude', '_total', '_summary', '_elements', '_format', '_pretty']);

type Topics = ReadonlyMap<string, SubscriptionTopic>;

/** A Subscription as a plan, or what is wrong with it; classic criteria are held to the search limits of a client's query. */
export function readSubscription(resource: Resource, topics: Topics, limits: SearchLimits): SubscriptionPlan | OperationOutcomeIssue[] {
  const problems: OperationOutcomeIssue[] = [];
  const problem = (text: string, expression: string) => problems.push(issue('error', 'value', text, expression));
  const channel = isObject(resource.channel) ? resource.channel : {};
  const status = resource.status as SubscriptionStatus;
  if (!STATUSES.includes(status)) problem(`status must be one of ${STATUSES.join(', ')}`, 'Subscription.status');
  const trigger = readTrigger(resource, topics, limits, problem);
  if (channel.type !== 'rest-hook') problem(`channel.type '${String(channel.type)}' is not supported: only rest-hook`, 'Subscription.channel.type');
  const endpoint = stringAt(channel, 'endpoint');
  if (!endpoint) problem('channel.endpoint is required for rest-hook', 'Subscription.channel.endpoint');
  const { format, content } = readPayload(channel, trigger, problem);
  const headers = readHeaders(channel.header, problem);
  const heartbeatSeconds = unsignedExtension(channel, HEARTBEAT_PERIOD_EXTENSION, 'heartbeat period', problem);
  const timeoutSeconds = unsignedExtension(channel, TIMEOUT_EXTENSION, 'timeout', problem);
  const end = resource.end === undefined ? undefined : Date.parse(String(resource.end));
  if (end !== undefined && Number.isNaN(end)) problem('end must be an instant', 'Subscription.end');
  if (problems.length > 0 || !trigger || !endpoint) return problems;
  const plan: SubscriptionPlan = {
    id: String(resource.id),
    versionId: String(resource.meta?.versionId ?? ''),
    status,
    owner: ownerOf(resource),
    trigger,
    endpoint,
    headers,
    content,
  };
  if (typeof resource.error === 'string') plan.error = resource.error;
  if (format) plan.format = format;
  if (end !== undefined) plan.end = end;
  if (heartbeatSeconds) plan.heartbeatSeconds = heartbeatSeconds;
  if (timeoutSeconds) plan.timeoutMs = timeoutSeconds * 1000;
  return plan;
}

function readTrigger(resource: Resource, topics: Topics, limits: SearchLimits, problem: (text: string, expression: string) => void): Trigger | undefined {
  const criteria = typeof resource.criteria === 'string' ? resource.criteria : '';
  const filterStrings = objects(isObject(resource._criteria) ? resource._criteria.extension : undefined)
    .filter((extension) => extension.url === FILTER_CRITERIA_EXTENSION)
    .map((extension) => stringAt(extension, 'valueString') ?? '');
  const topic = topics.get(criteria);
  if (topic) {
    const filters: TopicFilter[] = [];
    for (const filter of filterStrings) {
      const parsed = parseFilterCriteria(filter, topic);
      if ('problem' in parsed) problem(parsed.problem, 'Subscription.criteria.extension');
      else filters.push(...parsed);
    }
    return { kind: 'topic', topic, filters };
  }
  const classic = /^([A-Za-z]+)(?:\?(.*))?$/.exec(criteria);
  if (!classic) {
    problem(`criteria '${criteria}' is neither a topic of this server (${[...topics.keys()].join(', ')}) nor a search such as MeasureReport?...`, 'Subscription.criteria');
    return undefined;
  }
  const [, resourceType, query = ''] = classic;
  if (!CLASSIC_TYPES.includes(resourceType)) {
    problem(`criteria on ${resourceType} raise no events here; classic criteria may name ${CLASSIC_TYPES.join(', ')}`, 'Subscription.criteria');
    return undefined;
  }
  if (filterStrings.length > 0) problem('backport-filter-criteria needs a topic as criteria', 'Subscription.criteria.extension');
  const parameters = new URLSearchParams(query);
  for (const name of parameters.keys()) {
    if (RESULT_PARAMETERS.has(name)) problem(`criteria may not use the result parameter ${name}`, 'Subscription.criteria');
  }
  try {
    parseSearchRequest('r4', resourceType, parameters, { limits });
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    for (const found of error.outcome.issue) problem(`criteria: ${found.details?.text ?? found.diagnostics}`, 'Subscription.criteria');
  }
  return { kind: 'criteria', resourceType, criteria };
}

function readPayload(channel: JsonObject, trigger: Trigger | undefined, problem: (text: string, expression: string) => void) {
  const payload = stringAt(channel, 'payload');
  const format = payload === undefined ? undefined : FORMATS[payload.split(';')[0].trim()];
  if (payload !== undefined && !format) problem(`channel.payload '${payload}' is not supported: ${Object.keys(FORMATS).join(', ')}`, 'Subscription.channel.payload');
  const contentCode = stringAt(
    objects(isObject(channel._payload) ? channel._payload.extension : undefined).find((extension) => extension.url === PAYLOAD_CONTENT_EXTENSION),
    'valueCode',
  );
  if (trigger?.kind !== 'topic') return { format, content: (format ? 'full-resource' : 'empty') as ContentLevel };
  if (!payload) problem('a topic-based subscription needs channel.payload (e.g. application/fhir+json)', 'Subscription.channel.payload');
  if (!CONTENT_LEVELS.includes(contentCode as ContentLevel)) {
    problem(`channel.payload needs the backport-payload-content extension: ${CONTENT_LEVELS.join(', ')}`, 'Subscription.channel.payload.extension');
  }
  return { format, content: contentCode as ContentLevel };
}

/** `Name: value` lines as name and value; which ones may be sent is the channel policy's to say (headers.ts). */
function readHeaders(value: unknown, problem: (text: string, expression: string) => void): [string, string][] {
  const headers: [string, string][] = [];
  for (const line of Array.isArray(value) ? value : []) {
    const colon = typeof line === 'string' ? line.indexOf(':') : -1;
    if (colon <= 0) problem("channel.header entries are 'Name: value' on one line", 'Subscription.channel.header');
    else headers.push([line.slice(0, colon), trimSpaces(line.slice(colon + 1))]);
  }
  return headers;
}

/** Only spaces and tabs (RFC 9110 optional whitespace): a CR or LF stays, for the header rules to refuse. */
const trimSpaces = (text: string) => text.replace(/^[ \t]+|[ \t]+$/g, '');

function unsignedExtension(channel: JsonObject, url: string, what: string, problem: (text: string, expression: string) => void): number | undefined {
  const extension = objects(channel.extension).find((candidate) => candidate.url === url);
  if (!extension) return undefined;
  const value = extension.valueUnsignedInt;
  if (!Number.isSafeInteger(value) || (value as number) < 0) problem(`the ${what} is a number of seconds`, 'Subscription.channel.extension');
  return value as number;
}

const tagsOf = (resource: Resource) => objects(resource.meta?.tag);

export function ownerOf(resource: Resource): Owner {
  const code = stringAt(tagsOf(resource).find((tag) => tag.system === SUBSCRIPTION_OWNER_SYSTEM), 'code') ?? 'ehr';
  return code.startsWith('organization:') ? { kind: 'organization', id: code.slice('organization:'.length) } : { kind: 'ehr' };
}

export function ownerTag(owner: Owner): { system: string; code: string } {
  return { system: SUBSCRIPTION_OWNER_SYSTEM, code: owner.kind === 'ehr' ? 'ehr' : `organization:${owner.id}` };
}

/** The resource with exactly one owner tag: the server's, whatever the client sent. */
export function withOwner(resource: Resource, owner: Owner): Resource {
  const tags = tagsOf(resource).filter((tag) => tag.system !== SUBSCRIPTION_OWNER_SYSTEM);
  return { ...resource, meta: { ...resource.meta, tag: [...tags, ownerTag(owner)] } };
}

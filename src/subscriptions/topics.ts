import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { objects, stringAt } from '../vocabulary/json.js';
import type { Resource } from '../fhir/version.js';

/**
 * The SubscriptionTopics this gateway serves, as R4 `Basic` resources with the backport's cross-version extensions
 * (`conformance/SubscriptionTopic-*.json`): what a subscriber may name as `Subscription.criteria` and filter by.
 */
export interface SubscriptionTopic {
  url: string;
  /** The triggering resource type, e.g. `MeasureReport`. */
  resourceType: string;
  /** The `canFilterBy` filter parameters (keys of `backport-filter-criteria`). */
  filterParameters: string[];
  /** The Basic resource as published in each tenant's R4 scope (`GET [base]/Basic?code=SubscriptionTopic`). */
  resource: Resource;
}

const R5 = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic.';
const R43 = 'http://hl7.org/fhir/4.3/StructureDefinition/extension-SubscriptionTopic.';
const CONFORMANCE = fileURLToPath(new URL('../../conformance/', import.meta.url));

export function readTopic(resource: Resource): SubscriptionTopic {
  const extensions = objects(resource.extension);
  const url = stringAt(extensions.find((extension) => extension.url === `${R5}url`), 'valueUri');
  const trigger = objects(extensions.find((extension) => extension.url === `${R43}resourceTrigger`)?.extension);
  const triggerResource = stringAt(trigger.find((part) => part.url === 'resource'), 'valueUri');
  if (!url || !triggerResource) throw new Error(`SubscriptionTopic Basic/${String(resource.id)} needs a url and a resourceTrigger.resource`);
  const filterParameters = extensions
    .filter((extension) => extension.url === `${R43}canFilterBy`)
    .flatMap((extension) => stringAt(objects(extension.extension).find((part) => part.url === 'filterParameter'), 'valueString') ?? []);
  return { url, resourceType: triggerResource.slice(triggerResource.lastIndexOf('/') + 1), filterParameters, resource };
}

let loaded: Map<string, SubscriptionTopic> | undefined;

/** The topics in `conformance/`, by canonical URL, read once. */
export function subscriptionTopics(): ReadonlyMap<string, SubscriptionTopic> {
  loaded ??= new Map(
    readdirSync(CONFORMANCE)
      .filter((file) => /^SubscriptionTopic-.*\.json$/.test(file))
      .map((file) => readTopic(JSON.parse(readFileSync(path.join(CONFORMANCE, file), 'utf8')) as Resource))
      .map((topic) => [topic.url, topic]),
  );
  return loaded;
}

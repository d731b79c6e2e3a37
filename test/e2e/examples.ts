import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import request from 'supertest';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml, toXml } from '../../src/fhir/xml.js';
import { fixtureFolder } from '../fixtures.js';

/**
 * The issue's done-when over HTTP: an example goes in (PUT with its own id, so references between examples hold),
 * reads back equal in JSON and in XML; broken copies are refused with an OperationOutcome naming the element.
 */
export const FIXTURES = fixtureFolder();

export function fixtureFiles(folder: string, extension: '.xml' | '.json'): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? fixtureFiles(path.join(folder, entry.name), extension) : entry.name.endsWith(extension) ? [path.join(folder, entry.name)] : []))
    .sort();
}

/**
 * The Nictiz examples are test-script templates: `${CURRENTDATE}` and `${DATE, T, d, n}` (T plus n days) are filled
 * in by the Nictiz test tooling before a message is sent. This does the same, with T = today.
 */
export function fillDateTemplates(text: string, today = new Date()): string {
  const day = (offset: number) => new Date(today.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  return text.replaceAll('${CURRENTDATE}', day(0)).replace(/\$\{DATE, T, d, (-?\d+)\}/g, (_match, offset: string) => day(Number(offset)));
}

export const FHIR_JSON = 'application/fhir+json';
export const FHIR_XML = 'application/fhir+xml';

export interface Target {
  url: string;
  base: string;
  version: FhirVersion;
  auth: string;
}

/** What the server adds to a resource it stores; everything else must come back as sent. */
function withoutServerMeta(resource: Resource): Resource {
  const { meta, ...rest } = resource;
  const { versionId: _versionId, lastUpdated: _lastUpdated, ...kept } = meta ?? {};
  return Object.keys(kept).length > 0 ? { ...rest, meta: kept } : rest;
}

export async function putExample(target: Target, resource: Resource, body: string, contentType: string): Promise<request.Response> {
  return request(target.url)
    .put(`${target.base}/${resource.resourceType}/${resource.id}`)
    .set('Authorization', target.auth)
    .set('Content-Type', contentType)
    .set('Accept', FHIR_JSON)
    .send(body);
}

export async function expectRoundTrip(target: Target, resource: Resource, body: string, contentType: string): Promise<void> {
  const stored = await putExample(target, resource, body, contentType);
  // 201, or 200 where examples share an id (the qualification set shows one Task in several states).
  expect({ stored: [200, 201].includes(stored.status), issues: stored.body.issue }).toEqual({ stored: true, issues: undefined });
  const path = `${target.base}/${resource.resourceType}/${resource.id}`;
  const asJson = await request(target.url).get(path).set('Authorization', target.auth).set('Accept', FHIR_JSON);
  expect(asJson.status).toBe(200);
  expect(withoutServerMeta(asJson.body)).toEqual(resource);
  const asXml = await request(target.url).get(path).set('Authorization', target.auth).set('Accept', FHIR_XML);
  expect(asXml.headers['content-type']).toMatch(/^application\/fhir\+xml/);
  expect(parseXml(target.version, asXml.text)).toEqual(asJson.body);
}

export interface Breakage {
  /** What was broken, as a FHIRPath below the resource: `status`, `identifier[0].use`. */
  element: string;
  apply(resource: Resource): void;
}

/** Puts a code outside the element's required value set (`inside`: where the code sits in a CodeableConcept). */
export const wrongCode = (element: string, inside?: string): Breakage => ({
  element,
  apply: (resource) => setPath(resource, inside ? `${element}.${inside}` : element, 'not-a-code'),
});

/** Removes a required element; `extension[n].url` adds an extension without its required url. */
export const missing = (element: string): Breakage => ({
  element,
  apply: (resource) => {
    if (element.startsWith('extension[')) {
      const extensions = (resource.extension ??= []) as unknown[];
      extensions.push({ valueString: 'an extension without its url' });
      return;
    }
    delete resource[element];
  },
});

export function extensionWithoutUrl(resource: Resource): Breakage {
  return missing(`extension[${Array.isArray(resource.extension) ? resource.extension.length : 0}].url`);
}

export async function expectRefused(target: Target, resource: Resource, breakage: Breakage): Promise<void> {
  const broken = structuredClone(resource);
  breakage.apply(broken);
  const response = await putExample(target, broken, toXml(target.version, broken), FHIR_XML);
  const expression = `${resource.resourceType}.${breakage.element}`;
  const expressions = (response.body.issue ?? [])
    .filter((issue: { severity: string }) => issue.severity === 'error')
    .flatMap((issue: { expression?: string[] }) => issue.expression ?? []);
  expect({ status: response.status, resourceType: response.body.resourceType, names: expressions.some((found: string) => names(found, expression)) }).toEqual({
    status: 422,
    resourceType: 'OperationOutcome',
    names: true,
  });
}

/** `Condition.clinicalStatus.coding[0].code` names `Condition.clinicalStatus`. */
function names(found: string, element: string): boolean {
  return found === element || found.startsWith(`${element}.`) || found.startsWith(`${element}[`);
}

function setPath(resource: Resource, element: string, value: string): void {
  const steps = element.split('.').map((step) => /^(\w+)(?:\[(\d+)\])?$/.exec(step)!);
  let node: Record<string, unknown> = resource;
  steps.forEach(([, name, index], i) => {
    const last = i === steps.length - 1;
    if (index === undefined) {
      if (last) node[name] = value;
      else node = (node[name] ??= {}) as Record<string, unknown>;
      return;
    }
    const list = (node[name] ??= []) as unknown[];
    if (last) list[Number(index)] = value;
    else node = (list[Number(index)] ??= {}) as Record<string, unknown>;
  });
}

export function readExample(version: FhirVersion, file: string): { resource: Resource; body: string } {
  const body = fillDateTemplates(readFileSync(file, 'utf8'));
  return { resource: file.endsWith('.xml') ? parseXml(version, body) : (JSON.parse(body) as Resource), body };
}

import { typeInfo, type ElementInfo, type TypeInfo } from './convert/model.js';
import type { FhirVersion, Resource } from './version.js';
import { asList } from '../vocabulary/json.js';

/**
 * FHIR JSON written as FHIR XML by the release's element model (convert/model.ts), the counterpart of
 * xml-reader.ts: elements in definition order, `_name` companions as the `id` attribute and `extension` children
 * of their primitive, `id` and Extension `url` as attributes, the narrative written exactly as it is held. Uses an
 * explicit work stack, like the reader. Properties the model does not know cannot be written in XML; the
 * validator refuses them before anything is stored, so none reach here from the store.
 */
type Json = Record<string, unknown>;

/** Output text, or an element still to be written. */
type Job = string | ElementJob;

interface ElementJob {
  name: string;
  value: Json;
  type: TypeInfo;
  resource: boolean;
}

const FHIR_NS = 'http://hl7.org/fhir';

const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  '\n': '&#xA;',
  '\r': '&#xD;',
  '\t': '&#x9;',
};

const attribute = (name: string, value: unknown) => ` ${name}="${String(value).replace(/[&<>"\n\r\t]/g, (c) => ATTRIBUTE_ESCAPES[c])}"`;

export function writeFhirXml(version: FhirVersion, resource: Resource): string {
  const type = typeof resource.resourceType === 'string' ? typeInfo(version, resource.resourceType) : undefined;
  if (!type) throw new Error(`No definition of ${resource.resourceType} is known in ${version}`);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const jobs: Job[] = [{ name: resource.resourceType, value: resource as unknown as Json, type, resource: true }];
  let root = true;
  while (jobs.length > 0) {
    const job = jobs.pop()!;
    if (typeof job === 'string') {
      out.push(job);
      continue;
    }
    const children = childJobs(version, job);
    const attributes = (root ? attribute('xmlns', FHIR_NS) : '') + ownAttributes(job);
    root = false;
    if (children.length === 0) out.push(`<${job.name}${attributes}/>`);
    else {
      out.push(`<${job.name}${attributes}>`);
      jobs.push(`</${job.name}>`);
      for (let i = children.length - 1; i >= 0; i--) jobs.push(children[i]);
    }
  }
  return out.join('');
}

function ownAttributes({ value, type, resource }: ElementJob): string {
  let text = '';
  if (!resource && value.id !== undefined) text += attribute('id', value.id);
  if (type.path === 'Extension' && value.url !== undefined) text += attribute('url', value.url);
  return text;
}

/** The element's children in definition order, each as text or as an element job. */
function childJobs(version: FhirVersion, { value, type, resource }: ElementJob): Job[] {
  const names = new Set<string>();
  for (const key of Object.keys(value)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    const info = type.elements.get(name);
    if (info && !isAttribute(name, type, resource)) names.add(name);
  }
  const ordered = [...names].sort((a, b) => (type.order.get(a) ?? 0) - (type.order.get(b) ?? 0));
  const jobs: Job[] = [];
  for (const name of ordered) {
    const info = type.elements.get(name)!;
    const values = asList(value[name]);
    const companions = asList(value[`_${name}`]);
    for (let i = 0; i < Math.max(values.length, companions.length); i++) {
      jobs.push(...elementJobs(version, info, values[i], companions[i] as Json | null | undefined));
    }
  }
  return jobs;
}

function isAttribute(name: string, type: TypeInfo, resource: boolean): boolean {
  return (name === 'id' && !resource) || (name === 'url' && type.path === 'Extension');
}

function elementJobs(version: FhirVersion, info: ElementInfo, value: unknown, companion: Json | null | undefined): Job[] {
  if (info.type === 'xhtml') return typeof value === 'string' ? [value] : [];
  if (info.kind === 'primitive') return [...comments(companion), ...primitiveJobs(version, info.name, value, companion ?? undefined)];
  if (value === null || typeof value !== 'object') return [];
  return [...comments(value as Json), ...objectJobs(version, info, value as Json)];
}

/** `fhir_comments` (FHIR.js's JSON form of XML comments) as the comments before the element. */
function comments(value: Json | null | undefined): string[] {
  const texts = asList(value?.fhir_comments).filter((text): text is string => typeof text === 'string');
  // `--` cannot stand inside an XML comment, nor `-` at its end.
  return texts.map((text) => `<!--${text.replace(/--/g, '- -').replace(/-$/, '- ')}-->`);
}

function objectJobs(version: FhirVersion, info: ElementInfo, value: Json): Job[] {
  if (info.kind === 'resource') {
    const type = typeof value.resourceType === 'string' ? typeInfo(version, value.resourceType) : undefined;
    return type ? [`<${info.name}>`, { name: value.resourceType as string, value, type, resource: true }, `</${info.name}>`] : [];
  }
  const type = typeInfo(version, info.path);
  return type ? [{ name: info.name, value, type, resource: false }] : [];
}

/** `<name id=".." value="..">` with the companion's extensions as children. */
function primitiveJobs(version: FhirVersion, name: string, value: unknown, companion: Json | undefined): Job[] {
  if ((value === null || value === undefined) && !companion) return [];
  let open = `<${name}`;
  if (companion?.id !== undefined) open += attribute('id', companion.id);
  if (value !== null && value !== undefined) open += attribute('value', value);
  const extensions = asList(companion?.extension).filter((extension): extension is Json => extension !== null && typeof extension === 'object');
  if (extensions.length === 0) return [`${open}/>`];
  const type = typeInfo(version, 'Extension')!;
  const extensionJobs = extensions.flatMap((extension): Job[] => [
    ...comments(extension),
    { name: 'extension', value: extension, type, resource: false },
  ]);
  return [`${open}>`, ...extensionJobs, `</${name}>`];
}

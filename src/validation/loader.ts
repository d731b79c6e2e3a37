import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { issue, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { FhirVersion } from '../fhir/version.js';
import { parseXml } from '../fhir/xml.js';
import {
  belongsTo,
  CORE_PREFIX,
  normalizeCodeSystem,
  normalizeStructureDefinition,
  normalizeValueSet,
  publisherNamespace,
  type StructureDefinition,
} from './definitions.js';
import { baseRegistry } from './base-definitions.js';
import { readPackage, type FhirPackage, type PackageEntry } from './packages.js';
import { Registry } from './registry.js';

type Json = Record<string, unknown>;

/** Adds one conformance resource (or every one in a Bundle); returns how many were taken. */
function addResource(registry: Registry, resource: Json, source: string): number {
  switch (resource.resourceType) {
    case 'Bundle':
      return ((resource.entry as Json[] | undefined) ?? []).reduce(
        (count, entry) => count + (entry.resource ? addResource(registry, entry.resource as Json, source) : 0),
        0,
      );
    case 'StructureDefinition':
      if (typeof resource.url !== 'string' || !belongsTo(resource.fhirVersion as string | undefined, registry.version)) return 0;
      registry.addStructure(structureFrom(registry, resource, source));
      return 1;
    case 'ValueSet':
      if (typeof resource.url !== 'string') return 0;
      registry.addValueSet(resource.url, normalizeValueSet(resource));
      return 1;
    case 'CodeSystem':
      if (typeof resource.url !== 'string') return 0;
      registry.addCodeSystem(resource.url, normalizeCodeSystem(resource));
      return 1;
    default:
      return 0;
  }
}

function structureFrom(registry: Registry, raw: Json, source: string): StructureDefinition {
  return withContainedValueSets(registry, raw, normalizeStructureDefinition(raw, source));
}

/** Value sets contained in a profile and bound by `#id`: registered as `url#id`, and the bindings pointed there. */
function withContainedValueSets(registry: Registry, raw: Json, definition: StructureDefinition): StructureDefinition {
  for (const contained of (raw.contained as Json[] | undefined) ?? []) {
    if (contained.resourceType === 'ValueSet' && typeof contained.id === 'string') {
      const url = `${definition.url}#${contained.id}`;
      registry.addValueSet(url, normalizeValueSet({ ...contained, url }));
    }
  }
  for (const element of [...(definition.snapshot ?? []), ...(definition.differential ?? [])]) {
    if (element.binding?.valueSet?.startsWith('#')) element.binding.valueSet = definition.url + element.binding.valueSet;
  }
  return definition;
}

/**
 * Indexes a FHIR package's StructureDefinitions, ValueSets and CodeSystems by canonical; each is read from the
 * package when first asked for. A package for another FHIR release is left out (and says so).
 */
function addPackage(registry: Registry, fhirPackage: FhirPackage, file: string): OperationOutcomeIssue[] {
  const { manifest } = fhirPackage;
  if (manifest.canonical) registry.addPackageBase(publisherNamespace(`${manifest.canonical}/`), manifest.name);
  const release = manifest.fhirVersions.find((fhirVersion) => belongsTo(fhirVersion, registry.version));
  if (!release) return [];
  const source = `${manifest.name}#${manifest.version}`;
  const read = (entry: PackageEntry) => JSON.parse(fhirPackage.read(entry.filename)) as Json;
  for (const entry of fhirPackage.entries) {
    if (typeof entry.url !== 'string') continue;
    if (entry.resourceType === 'StructureDefinition') {
      registry.addStructure({ url: entry.url, version: entry.version, read: () => structureFrom(registry, read(entry), source) });
    } else if (entry.resourceType === 'ValueSet') registry.addValueSet(entry.url, () => normalizeValueSet(read(entry)));
    else if (entry.resourceType === 'CodeSystem') registry.addCodeSystem(entry.url, () => normalizeCodeSystem(read(entry)));
  }
  const missing = Object.keys(manifest.dependencies).filter((name) => !CORE_PACKAGE.test(name));
  if (missing.length) registry.addMissingPackages(missing, () => foreignNamespaces(fhirPackage.entries, read));
  return missing.length
    ? [issue('information', 'informational', `Package ${source} (${file}) depends on ${missing.map((name) => `${name}#${manifest.dependencies[name]}`).join(', ')}, not installed: profiles based on them are checked against the core definitions`)]
    : [];
}

const CORE_PACKAGE = /^hl7\.fhir\.r[0-9]+b?\.core$/;

/**
 * The publisher namespaces of the profiles a package builds on or points to (base definitions, type and target
 * profiles) that it does not define, core definitions apart: its dependencies define them. The eOverdracht package
 * uses zib2017's `http://nictiz.nl/fhir/StructureDefinition/zib-*` and `http://fhir.nl/fhir/StructureDefinition/nl-core-*`.
 */
function foreignNamespaces(entries: PackageEntry[], read: (entry: PackageEntry) => Json): Set<string> {
  const own = new Set(entries.map((entry) => entry.url));
  const namespaces = new Set<string>();
  const note = (canonical: unknown) => {
    if (typeof canonical !== 'string') return;
    const url = canonical.split('|')[0];
    if (!own.has(url) && !url.startsWith(CORE_PREFIX)) namespaces.add(publisherNamespace(url));
  };
  for (const entry of entries) {
    if (entry.resourceType !== 'StructureDefinition') continue;
    const definition = read(entry);
    note(definition.baseDefinition);
    for (const view of [definition.differential, definition.snapshot] as (Json | undefined)[]) {
      for (const element of (view?.element as Json[] | undefined) ?? []) {
        for (const type of (element.type as Json[] | undefined) ?? []) [type.profile, type.targetProfile].flat().forEach(note);
      }
    }
  }
  return namespaces;
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files = await Promise.all(
    entries
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(async (entry) => {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) return listFiles(full);
        return /\.(json|xml|tgz)$/i.test(entry.name) ? [full] : [];
      }),
  );
  return files.flat();
}

const XML_ROOT = /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*<([A-Za-z]+)[\s>]/;
const XML_FHIR_VERSION = /<fhirVersion\s+value="([^"]*)"/;
const CONFORMANCE_ROOTS = new Set(['StructureDefinition', 'ValueSet', 'CodeSystem', 'Bundle']);

/** XML is only parsed when it holds a conformance resource of this release: FHIR.js parses per release. */
function readXml(registry: Registry, text: string, file: string): number {
  const root = XML_ROOT.exec(text)?.[1];
  if (!root || !CONFORMANCE_ROOTS.has(root)) return 0;
  if (!belongsTo(XML_FHIR_VERSION.exec(text)?.[1], registry.version)) return 0;
  return addResource(registry, parseXml(registry.version, text) as Json, file);
}

/**
 * Loads every StructureDefinition, ValueSet and CodeSystem (JSON or XML, Bundles too) under the folders into a
 * registry layered over the base. A file that cannot be read is reported, never fatal.
 */
export async function loadProfileFolders(
  version: FhirVersion,
  folders: string[],
): Promise<{ registry: Registry; issues: OperationOutcomeIssue[] }> {
  const registry = new Registry(version, () => baseRegistry(version));
  const issues: OperationOutcomeIssue[] = [];
  for (const folder of folders) {
    let files: string[];
    try {
      files = await listFiles(folder);
    } catch (error) {
      issues.push(issue('warning', 'not-found', `Profile folder ${folder} cannot be read: ${(error as Error).message}`));
      continue;
    }
    for (const file of files) {
      try {
        if (file.toLowerCase().endsWith('.tgz')) {
          issues.push(...addPackage(registry, readPackage(await readFile(file)), file));
          continue;
        }
        const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
        if (file.toLowerCase().endsWith('.xml')) readXml(registry, text, file);
        else addResource(registry, JSON.parse(text) as Json, file);
      } catch (error) {
        issues.push(issue('warning', 'structure', `Conformance file ${file} was skipped: ${(error as Error).message}`));
      }
    }
  }
  for (const url of registry.ownStructureUrls()) {
    if (registry.ownVersionCount(url) > 1) {
      const versions = registry.ownVersions(url);
      const names = versions.map((d) => `${d.version ?? '(no version)'} from ${d.source}`).join(', ');
      issues.push(issue('information', 'informational', `${url} is defined more than once (${names}); the latest version is used`));
    }
  }
  return { registry, issues };
}

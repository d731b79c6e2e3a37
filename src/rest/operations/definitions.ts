import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OperationDefinition } from 'fhir/r4.js';

/**
 * The OperationDefinitions in `conformance/` (`OperationDefinition-<id>.json`), read once: the published contract of
 * every operation the gateway serves. Handlers read their input and write their output through them
 * (`parameters.ts`) and the CapabilityStatement lists them, so the contract and the code cannot drift apart.
 */
const CONFORMANCE = fileURLToPath(new URL('../../../conformance/', import.meta.url));
const FILE = /^OperationDefinition-(.+)\.json$/;

let loaded: ReadonlyMap<string, OperationDefinition> | undefined;

/** Every OperationDefinition in `conformance/`, by id. */
export function operationDefinitions(): ReadonlyMap<string, OperationDefinition> {
  loaded ??= new Map(
    readdirSync(CONFORMANCE)
      .filter((file) => FILE.test(file))
      .map((file) => {
        const id = FILE.exec(file)![1];
        const definition = JSON.parse(readFileSync(CONFORMANCE + file, 'utf8')) as OperationDefinition;
        if (definition.id !== id) throw new Error(`conformance/${file} holds the OperationDefinition '${definition.id}'`);
        return [id, definition] as const;
      }),
  );
  return loaded;
}

export function operationDefinition(id: string): OperationDefinition {
  const definition = operationDefinitions().get(id);
  if (!definition) throw new Error(`No OperationDefinition '${id}' in conformance/`);
  return definition;
}

/** Where an operation is invoked: `[base]/$op`, `[base]/Type/$op` or `[base]/Type/[id]/$op`. */
export type OperationLevel = 'system' | 'type' | 'instance';

export function definedLevels(definition: OperationDefinition): OperationLevel[] {
  return (['system', 'type', 'instance'] as const).filter((level) => definition[level]);
}

/** FHIR allows GET for an operation that changes nothing and takes primitive parameters only. */
export function allowsGet(definition: OperationDefinition): boolean {
  return definition.affectsState !== true && inputParameters(definition).every((parameter) => isPrimitiveType(parameter.type));
}

export function inputParameters(definition: OperationDefinition) {
  return (definition.parameter ?? []).filter((parameter) => parameter.use === 'in');
}

/** FHIR primitive type names start with a lower-case letter; complex types and resources with a capital. */
export function isPrimitiveType(type: string | undefined): boolean {
  return type !== undefined && /^[a-z]/.test(type);
}

/** The files of a release's official definitions that the validator reads (read in base-worker.ts). */
export const BASE_FILES = [
  'profiles-types.json',
  'profiles-resources.json',
  'profiles-others.json',
  'extension-definitions.json',
  'valuesets.json',
  'v3-codesystems.json',
  'v2-tables.json',
];

/** A release's definitions as the worker sends them: canonical (and version), and the normalized definition as JSON. */
export interface BaseDefinitions {
  structures: [url: string, version: string | undefined, json: string][];
  valueSets: [url: string, json: string][];
  codeSystems: [url: string, json: string][];
}

/** Cardinalities of `*` are held as Infinity, which JSON cannot carry: they travel as '*'. */
const isMax = (key: string) => key === 'max' || key === 'baseMax';

export const compactDefinition = (definition: unknown): string =>
  JSON.stringify(definition, (key, value: unknown) => (isMax(key) && value === Infinity ? '*' : value));

export const expandDefinition = <T>(json: string): T =>
  JSON.parse(json, (key, value: unknown) => (isMax(key) && value === '*' ? Infinity : value)) as T;

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The capacity model's own CodeSystems and ValueSets, read from `profiles/r4/capacity` so that the code and the
 * published definitions cannot drift apart. Only whole-system and enumerated includes are used there.
 */
export const CAPACITY_PROFILES_FOLDER = fileURLToPath(new URL('../../profiles/r4/capacity/', import.meta.url));

export interface Concept {
  code: string;
  display: string;
  definition?: string;
  properties: Record<string, string>;
}

interface CodeSystemJson {
  resourceType: 'CodeSystem';
  url: string;
  concept?: { code: string; display: string; definition?: string; property?: { code: string; valueCode?: string }[] }[];
}

interface ValueSetJson {
  resourceType: 'ValueSet';
  url: string;
  compose: { include: { system: string; concept?: { code: string }[] }[] };
}

function readDefinitions(): (CodeSystemJson | ValueSetJson)[] {
  return readdirSync(CAPACITY_PROFILES_FOLDER)
    .filter((file) => /^(CodeSystem|ValueSet)-.*\.json$/.test(file))
    .map((file) => JSON.parse(readFileSync(path.join(CAPACITY_PROFILES_FOLDER, file), 'utf8')) as CodeSystemJson | ValueSetJson);
}

const definitions = readDefinitions();

const codeSystems = new Map(
  definitions
    .filter((definition): definition is CodeSystemJson => definition.resourceType === 'CodeSystem')
    .map((system) => [
      system.url,
      new Map(
        (system.concept ?? []).map((concept) => [
          concept.code,
          {
            code: concept.code,
            display: concept.display,
            definition: concept.definition,
            properties: Object.fromEntries((concept.property ?? []).map((property) => [property.code, property.valueCode ?? ''])),
          },
        ]),
      ),
    ]),
);

const valueSets = new Map(
  definitions
    .filter((definition): definition is ValueSetJson => definition.resourceType === 'ValueSet')
    .map((valueSet) => [valueSet.url, valueSet]),
);

/** The concepts of one of the capacity CodeSystems; throws for an unknown system (a programming error). */
export function codeSystemConcepts(url: string): ReadonlyMap<string, Concept> {
  const concepts = codeSystems.get(url);
  if (!concepts) throw new Error(`unknown capacity CodeSystem ${url}`);
  return concepts;
}

/** The codes a capacity ValueSet contains, as `system|code`. */
export function valueSetMembers(url: string): ReadonlySet<string> {
  const valueSet = valueSets.get(url);
  if (!valueSet) throw new Error(`unknown capacity ValueSet ${url}`);
  const members = new Set<string>();
  for (const include of valueSet.compose.include) {
    const codes = include.concept?.map((concept) => concept.code) ?? [...codeSystemConcepts(include.system).keys()];
    for (const code of codes) members.add(`${include.system}|${code}`);
  }
  return members;
}

/** Narrowing helpers for JSON of unknown shape (request bodies, stored resources). */
export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A FHIR element's value as a list, whether it was written as one value or an array. */
export function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

export function objects(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function stringAt(value: unknown, key: string): string | undefined {
  const item = isObject(value) ? value[key] : undefined;
  return typeof item === 'string' ? item : undefined;
}

/** The codings of a CodeableConcept. */
export function codings(concept: unknown): { system?: string; code?: string }[] {
  return objects(isObject(concept) ? concept.coding : undefined).map((coding) => ({
    system: stringAt(coding, 'system'),
    code: stringAt(coding, 'code'),
  }));
}

/** Two codings name the same concept when their system and code are equal (display and version aside). */
export function sameCoding(a: { system?: string; code?: string }, b: { system?: string; code?: string }): boolean {
  return a.system === b.system && a.code === b.code;
}

/** The code of the first coding from `system` in a CodeableConcept. */
export function codeFrom(concept: unknown, system: string): string | undefined {
  return codings(concept).find((coding) => coding.system === system)?.code;
}

import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import stu3Model from 'fhirpath/fhir-context/stu3/index.js';
import type { FhirVersion } from '../../src/fhir/version.js';
import { TestScriptInvalid } from './errors.js';

const MODELS = { r4: r4Model, stu3: stu3Model } as const;

/** A FHIRPath expression on a resource, with the script's release's model (so `is(Coding)` and choice types work). */
export function evaluate(resource: unknown, expression: string, version: FhirVersion): unknown[] {
  try {
    return fhirpath.evaluate(resource as never, withModelTypeNames(expression, version), undefined, MODELS[version] as never) as unknown[];
  } catch (error) {
    throw new TestScriptInvalid(`FHIRPath '${expression}' cannot be evaluated: ${(error as Error).message}`);
  }
}

/** FHIRPath's own types (System.*), never renamed: `is(String)` is not `is(string)`. */
const SYSTEM_TYPES = new Set(['Boolean', 'String', 'Integer', 'Decimal', 'Date', 'DateTime', 'Time', 'Quantity']);

const typeNamesByLowerCase = (version: FhirVersion): Map<string, string> => {
  const { type2Parent } = MODELS[version] as unknown as { type2Parent: Record<string, string> };
  const names = new Set([...Object.keys(type2Parent), ...Object.values(type2Parent)]);
  return new Map([...names].map((name) => [name.toLowerCase(), name]));
};
const TYPE_NAMES = { r4: typeNamesByLowerCase('r4'), stu3: typeNamesByLowerCase('stu3') };

/**
 * Type names in `is`/`as`/`ofType` spelled as the model spells them. The test platforms run the HL7 Java FHIRPath
 * engine, whose type test ignores case (`Base.hasType`: `equalsIgnoreCase`), and Nictiz's scripts rely on it
 * (`$this.is(coding)`); fhirpath.js compares exactly and cannot resolve `coding`.
 */
export function withModelTypeNames(expression: string, version: FhirVersion): string {
  const spelled = (name: string) => {
    const bare = name.replace(/^FHIR\./, '');
    if (SYSTEM_TYPES.has(bare)) return name;
    const known = TYPE_NAMES[version].get(bare.toLowerCase());
    return known && known !== bare ? name.replace(bare, known) : name;
  };
  const respell = (code: string) =>
    code
      .replace(/\b(is|as|ofType)\(\s*([A-Za-z][\w.]*)\s*\)/g, (_, operation: string, name: string) => `${operation}(${spelled(name)})`)
      .replace(/(\s)(is|as)(\s+)([A-Za-z][\w.]*)/g, (_, before: string, operator: string, between: string, name: string) => `${before}${operator}${between}${spelled(name)}`);
  // string literals stay as written: only the code between them is respelled
  return expression
    .split(/('(?:[^'\\]|\\.)*')/)
    .map((part, index) => (index % 2 === 0 ? respell(part) : part))
    .join('');
}

/**
 * A TestScript `path` (XPath on XML, JSONPath on JSON) as FHIRPath, for the forms scripts use: element steps,
 * `@value`, positional predicates. `fhir:Patient/fhir:name[1]/fhir:given/@value` → `Patient.name[0].given`.
 */
export function pathAsFhirPath(scriptPath: string): string {
  return scriptPath
    .replace(/^\$\.?/, '')
    .replace(/^\/+/, '')
    .replace(/\/?@value/g, '')
    .replace(/fhir:/g, '')
    .replace(/\[(\d+)\]/g, (_, n: string) => (scriptPath.includes('/') ? `[${Number(n) - 1}]` : `[${n}]`))
    .replace(/\//g, '.');
}

/** One value for comparisons: a primitive as its text, several joined by commas, none undefined. */
export function asText(results: unknown[]): string | undefined {
  if (results.length === 0) return undefined;
  return results.map((result) => (typeof result === 'object' ? JSON.stringify(result) : String(result))).join(',');
}

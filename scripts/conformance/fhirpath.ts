import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import stu3Model from 'fhirpath/fhir-context/stu3/index.js';
import type { FhirVersion } from '../../src/fhir/version.js';
import { TestScriptInvalid } from './errors.js';

const MODELS = { r4: r4Model, stu3: stu3Model } as const;

/** A FHIRPath expression on a resource, with the script's release's model (so `is(Coding)` and choice types work). */
export function evaluate(resource: unknown, expression: string, version: FhirVersion): unknown[] {
  try {
    return fhirpath.evaluate(resource as never, expression, undefined, MODELS[version] as never) as unknown[];
  } catch (error) {
    throw new TestScriptInvalid(`FHIRPath '${expression}' cannot be evaluated: ${(error as Error).message}`);
  }
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

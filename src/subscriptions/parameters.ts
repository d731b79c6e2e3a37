import { objects, stringAt } from '../capacity/json.js';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { FhirRequest } from '../fhir/rest/types.js';

/** An operation's input parameters: the query's, plus a POSTed Parameters resource's primitive values. */
export function operationParameters(request: FhirRequest): Map<string, string[]> {
  const parameters = new Map<string, string[]>();
  const add = (name: string, value: string) => parameters.set(name, [...(parameters.get(name) ?? []), value]);
  for (const [name, value] of Object.entries(request.query)) for (const item of [value].flat()) add(name, item);
  const body = request.body as { resourceType?: unknown; parameter?: unknown } | undefined;
  if (body?.resourceType === 'Parameters') {
    for (const parameter of objects(body.parameter)) {
      const name = stringAt(parameter, 'name');
      const key = Object.keys(parameter).find((candidate) => candidate.startsWith('value'));
      const value = key === undefined ? undefined : parameter[key];
      if (name && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')) add(name, String(value));
    }
  }
  return parameters;
}

/** A positive whole number parameter, or undefined when absent; anything else is a bad request. */
export function positiveInteger(parameters: Map<string, string[]>, name: string): number | undefined {
  const [value, ...more] = parameters.get(name) ?? [];
  if (value === undefined) return undefined;
  if (more.length > 0 || !/^[1-9][0-9]{0,15}$/.test(value)) throw new OperationOutcomeError(badRequest(`${name} must be one positive whole number`, name));
  return Number(value);
}

import { isObject, objects, stringAt } from '../vocabulary/json.js';
import type { Resource } from '../fhir/version.js';
import { AGB_SYSTEM, URA_SYSTEM } from '../vocabulary/canonical.js';

/** A `$match-capacity` candidate as the desk lists it: who, how many places, and how to reach them. */
export interface CandidateView {
  rank: number;
  name: string;
  identifiers: string;
  region?: string;
  postcode?: string;
  available?: number;
  total?: number;
  measuredAt?: string;
  /** Addresses of the provider's published Endpoints. */
  endpoints: string[];
}

/** Reads the candidates of a `$match-capacity` answer (Parameters), local or from the region's coordination point. */
export function candidatesOf(result: Resource): CandidateView[] {
  return objects(result.parameter)
    .filter((parameter) => parameter.name === 'candidate')
    .map((candidate) => {
      const parts = objects(candidate.part);
      const value = (name: string, key: string) => parts.find((part) => part.name === name)?.[key];
      const number = (name: string) => (typeof value(name, 'valueInteger') === 'number' ? (value(name, 'valueInteger') as number) : undefined);
      const text = (name: string, key: string) => (typeof value(name, key) === 'string' ? (value(name, key) as string) : undefined);
      const identifiers = parts
        .filter((part) => part.name === 'provider' && isObject(part.valueIdentifier))
        .map((part) => `${identifierLabel(stringAt(part.valueIdentifier, 'system'))} ${stringAt(part.valueIdentifier, 'value') ?? ''}`);
      const endpoints = parts.flatMap((part) => (part.name === 'endpoint' ? (stringAt(part.resource, 'address') ?? []) : []));
      const view: CandidateView = { rank: number('rank') ?? 0, name: text('name', 'valueString') ?? '', identifiers: identifiers.join(', '), endpoints };
      const optional = { region: text('region', 'valueId'), postcode: text('postcode', 'valueString'), available: number('available'), total: number('total'), measuredAt: text('measured-at', 'valueInstant') };
      for (const [key, found] of Object.entries(optional)) if (found !== undefined) Object.assign(view, { [key]: found });
      return view;
    });
}

function identifierLabel(system: string | undefined): string {
  if (system === URA_SYSTEM) return 'URA';
  if (system === AGB_SYSTEM) return 'AGB';
  return system ?? '';
}

import { r4CodeSystem, stu3CodeSystem } from './codeSystems.js';
import type { Json } from './json.js';
import type { Rule } from './rules.js';

/** Differences in the general-purpose datatypes that the eOverdracht resources use. */

function withSystem(slice: Json, convert: (system: string) => string): Json {
  return typeof slice.system === 'string' ? { ...slice, system: convert(slice.system) } : slice;
}

/** Coding.system: the v2, v3 and moved FHIR code systems have other URIs in R4. */
export const codingSystem: Rule = {
  stu3: ['system'],
  r4: ['system'],
  toR4: (slice, context) => withSystem(context.move(slice, 'system', 'system'), r4CodeSystem),
  toStu3: (slice, context) => withSystem(context.move(slice, 'system', 'system'), stu3CodeSystem),
};

const ISO_4217 = 'urn:iso:std:iso:4217';

/** STU3 Money is a Quantity with an ISO 4217 code; R4 Money has value and currency only. */
export const money: Rule = {
  stu3: ['value', 'comparator', 'unit', 'system', 'code'],
  r4: ['value', 'currency'],
  toR4(slice, context) {
    const result = context.move(slice, 'value', 'value');
    if (slice.system === ISO_4217 && typeof slice.code === 'string') result.currency = slice.code;
    return result;
  },
  toStu3(slice, context) {
    const result = context.move(slice, 'value', 'value');
    if (typeof slice.currency === 'string') Object.assign(result, { system: ISO_4217, code: slice.currency });
    return result;
  },
};

/**
 * R4 extension values of the URI types STU3 lacks become valueUri. An extension cannot hold both a value and the
 * cross-version extension that would remember the type, so the type tag is the one thing that does not come back.
 */
export function uriStandIn(r4Name: 'valueCanonical' | 'valueUrl' | 'valueUuid'): Rule {
  return {
    stu3: [],
    r4: [r4Name],
    typeOnly: true,
    toR4: () => ({}),
    toStu3: (slice, context) => context.move(slice, r4Name, 'valueUri'),
  };
}

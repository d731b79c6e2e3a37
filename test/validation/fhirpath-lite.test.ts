import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import { compilePresenceLogic } from '../../src/validation/fhirpath-lite.js';

/** Core invariants that are presence logic, with the element they sit on. */
const PRESENCE_INVARIANTS: [string, string][] = [
  ['Patient.contact', 'name.exists() or telecom.exists() or address.exists() or organization.exists()'],
  ['Quantity', 'code.empty() or system.exists()'],
  ['Observation', 'dataAbsentReason.empty() or value.empty()'],
  ['Observation', '(component.empty() and hasMember.empty()) implies (dataAbsentReason.exists() or value.exists())'],
  ['Period', 'start.hasValue().not() or end.hasValue().not()'],
  ['Timing.repeat', 'duration.empty() or durationUnit.exists()'],
  ['Ratio', '(numerator.empty() xor denominator.exists()) and (numerator.exists() or extension.exists())'],
  ['Task', 'code.coding.code.exists() and for.reference.exists().not()'],
];

const PRIMITIVES = ['code', 'system', 'start', 'end', 'duration', 'durationUnit'];
const COMPLEX = ['name', 'telecom', 'address', 'organization', 'dataAbsentReason', 'component', 'hasMember', 'numerator', 'denominator', 'extension', 'for'];
const companion = { extension: [{ url: 'http://x', valueString: 'y' }] };

/** Nodes with any subset of those children: primitives as values and/or `_x` companions, complex ones as objects or arrays, choices typed. */
const node = fc
  .record({
    primitives: fc.dictionary(fc.constantFrom(...PRIMITIVES), fc.constantFrom('value', 'companion', 'both'), { maxKeys: 4 }),
    complex: fc.dictionary(fc.constantFrom(...COMPLEX), fc.constantFrom<unknown>({ reference: 'Patient/1' }, [{ coding: [{ code: 'a' }] }]), { maxKeys: 4 }),
    choice: fc.constantFrom<Record<string, unknown>>({}, { valueQuantity: { value: 1 } }, { valueString: 'x' }),
  })
  .map(({ primitives, complex, choice }) => {
    const data: Record<string, unknown> = { ...complex, ...choice };
    for (const [name, form] of Object.entries(primitives)) {
      if (form !== 'companion') data[name] = '2024-01-01';
      if (form !== 'value') data[`_${name}`] = companion;
    }
    return data;
  });

describe('presence logic compiled natively', () => {
  it.each(PRESENCE_INVARIANTS)('%s: %s answers as fhirpath.js does', (base, expression) => {
    const native = compilePresenceLogic(expression);
    expect(native).toBeDefined();
    const reference = fhirpath.compile({ base, expression }, r4Model as never);
    fc.assert(
      fc.property(node, (data) => {
        expect([native!(data)]).toEqual(reference(data));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves everything else to fhirpath.js', () => {
    for (const expression of ['start <= end', "where(use = 'home').empty()", 'value.exists() implies %resource.id.exists()', 'exists()', 'name.exists(', '']) {
      expect(compilePresenceLogic(expression)).toBeUndefined();
    }
  });
});

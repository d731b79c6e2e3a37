import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import { compilePresenceLogic, modelTypes } from '../../src/validation/fhirpath-lite.js';

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
  ['Bundle', "type = 'document' implies (total.hasValue())"],
  ['Coding', "code != 'entered-in-error' or system.empty()"],
  ['Bundle', "total.empty() or (type = 'searchset') or (type = 'history')"],
  ['Coding', "(code = 'a') xor (system != 'document')"],
  ['Coding', "(extension.exists() and code = 'a') implies (system = 'x').not()"],
  ['Bundle', 'total = 3 or type.empty()'],
];

const PRIMITIVES = ['code', 'system', 'start', 'end', 'duration', 'durationUnit', 'type'];
const COMPLEX = ['name', 'telecom', 'address', 'organization', 'dataAbsentReason', 'component', 'hasMember', 'numerator', 'denominator', 'extension', 'for'];
const companion = { extension: [{ url: 'http://x', valueString: 'y' }] };

/** Nodes with any subset of those children: primitives as values and/or `_x` companions, complex ones as objects or arrays, choices typed. */
const node = fc
  .record({
    primitives: fc.dictionary(
      fc.constantFrom(...PRIMITIVES),
      fc.record({ form: fc.constantFrom('value', 'companion', 'both'), value: fc.constantFrom<unknown>('2024-01-01', 'document', 'a', 'x', 'searchset', ['a', 'b']) }),
      { maxKeys: 4 },
    ),
    complex: fc.dictionary(fc.constantFrom(...COMPLEX), fc.constantFrom<unknown>({ reference: 'Patient/1' }, [{ coding: [{ code: 'a' }] }]), { maxKeys: 4 }),
    choice: fc.constantFrom<Record<string, unknown>>({}, { valueQuantity: { value: 1 } }, { valueString: 'x' }),
    total: fc.constantFrom<Record<string, unknown>>({}, { total: 3 }, { total: 4 }, { _total: companion }),
  })
  .map(({ primitives, complex, choice, total }) => {
    const data: Record<string, unknown> = { ...complex, ...choice, ...total };
    for (const [name, { form, value }] of Object.entries(primitives)) {
      // 'companion' on an array: the first value is null and only its companion is there.
      if (form !== 'companion') data[name] = value;
      else if (Array.isArray(value)) data[name] = [null, ...value.slice(1)];
      if (form !== 'value') data[`_${name}`] = Array.isArray(value) ? value.map(() => companion) : companion;
    }
    return data;
  });

describe('presence logic compiled natively', () => {
  it.each(PRESENCE_INVARIANTS)('%s: %s answers as fhirpath.js does', (base, expression) => {
    const native = compilePresenceLogic(expression, modelTypes(r4Model as never, base));
    expect(native).toBeDefined();
    const reference = fhirpath.compile({ base, expression }, r4Model as never);
    fc.assert(
      fc.property(node, (data) => {
        const answer = native!(data);
        expect(answer === undefined ? [] : [answer]).toEqual(reference(data));
      }),
      { numRuns: 300 },
    );
  });

  const codeableConcept = fc.record(
    {
      coding: fc.array(fc.record({ system: fc.constantFrom('x', 'y'), code: fc.constantFrom('a', 'b', 'c') }, { requiredKeys: [] }), { maxLength: 3 }),
      text: fc.constant('t'),
    },
    { requiredKeys: [] },
  );
  const questionnaireItem = fc.record(
    { type: fc.constantFrom('group', 'display', 'boolean', 'string'), maxLength: fc.constant(3), item: fc.constant([{ linkId: '1' }]) },
    { requiredKeys: [] },
  );
  const linkId = fc.constantFrom('1', '2', '3');
  const questionnaire = fc.letrec((tie) => ({
    item: fc.record({ linkId, text: fc.constant('t'), item: fc.array(tie('item'), { maxLength: 2 }) }, { requiredKeys: ['linkId'] }),
    questionnaire: fc.record({ status: fc.constant('active'), item: fc.array(tie('item'), { maxLength: 3 }) }, { requiredKeys: ['status'] }),
  })).questionnaire;
  const FILTERS: [string, string, fc.Arbitrary<unknown>][] = [
    ['Questionnaire', 'descendants().linkId.isDistinct()', questionnaire],
    ['CodeableConcept', "coding.where(system = 'x' and code = 'a').exists()", codeableConcept],
    ['CodeableConcept', "coding.where(code = 'a' or code = 'b').empty() or text.exists()", codeableConcept],
    ['CodeableConcept', "coding.where(system = 'y').where(code != 'c').exists().not()", codeableConcept],
    ['Coding', "where(code = 'a').empty()", codeableConcept.map((c) => (c as { coding?: unknown[] }).coding?.[0] ?? {})],
    ['CodeableConcept', 'coding.count() <= 1 or text.exists()', codeableConcept],
    ['CodeableConcept', "coding.where(code = 'a').count() > 0 xor coding.count() = 2", codeableConcept],
    ['Questionnaire.item', "(type in ('boolean' | 'decimal' | 'string')) or maxLength.empty()", questionnaireItem],
    ['Questionnaire.item', "(type='group' implies item.empty().not()) and (type.trace('type')='display' implies item.trace('item').empty())", questionnaireItem],
  ];

  it.each(FILTERS)('%s: %s (where, in, trace) answers as fhirpath.js does', (base, expression, data) => {
    const native = compilePresenceLogic(expression, modelTypes(r4Model as never, base));
    expect(native).toBeDefined();
    const reference = fhirpath.compile({ base, expression }, r4Model as never, { traceFn: () => undefined });
    fc.assert(
      fc.property(data, (node) => {
        const answer = native!(node);
        expect(answer === undefined ? [] : [answer]).toEqual(reference(node));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves everything else to fhirpath.js', () => {
    for (const expression of ['start <= end', "where(use = 'home').empty()", 'value.exists() implies %resource.id.exists()', 'exists()', 'name.exists(', '', 'code or value.empty()', 'code = system']) {
      expect(compilePresenceLogic(expression)).toBeUndefined();
    }
    // A dateTime never equals a string literal in FHIRPath: such comparisons stay with fhirpath.js.
    expect(compilePresenceLogic("start = '2024-01-01'", modelTypes(r4Model as never, 'Period'))).toBeUndefined();
  });
});

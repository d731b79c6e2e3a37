import { describe, expect, it } from '@jest/globals';
import { RunContext } from '../../scripts/conformance/context.js';
import { evaluate, pathAsFhirPath, withModelTypeNames } from '../../scripts/conformance/fhirpath.js';
import { Variables } from '../../scripts/conformance/variables.js';

/** Variables as a running script sees them: given, from a source, by default, and Touchstone's placeholders. */
const context = () => new RunContext('stu3', new Map([['task', { resourceType: 'Task', id: 't1', status: 'requested' }]]));

describe('variables', () => {
  it('take a given value first, then their source, then their default', () => {
    const declared = [
      { name: 'status', expression: 'Task.status', sourceId: 'task', defaultValue: 'draft' },
      { name: 'missing', expression: 'Task.owner.reference', sourceId: 'task', defaultValue: 'Organization/${id}' },
      { name: 'id', path: 'fhir:Task/fhir:id/@value', sourceId: 'task' },
    ];
    expect(new Variables(declared, {}, context()).substitute('${status} ${missing}')).toBe('requested Organization/t1');
    expect(new Variables(declared, { status: 'given' }, context()).substitute('${status}')).toBe('given');
  });

  it('name a variable without a value, and the way to give it', () => {
    const variables = new Variables([{ name: 'task-id', description: 'the Task to read' }], {}, context());
    expect(() => variables.substitute('Task/${task-id}')).toThrow('variable task-id has no value (give it with --var task-id=…; the Task to read)');
    expect(() => variables.substitute('${nothing}')).toThrow(/variable nothing is not declared nor a Touchstone placeholder/);
  });

  it("fill in Touchstone's placeholders: one unique value per run, dates with offsets, UUIDs", () => {
    const variables = new Variables([{ name: 'task-id', defaultValue: 'eOverdracht-Task-eov-${CD6}' }], {}, context());
    const id = variables.substitute('${task-id}');
    expect(id).toMatch(/^eOverdracht-Task-eov-[A-Z0-9]{6}$/);
    expect(variables.substitute('${task-id}')).toBe(id);
    expect(variables.substitute('${D9}')).toMatch(/^\d{9}$/);
    expect(variables.substitute('${C3}')).toMatch(/^[A-Z]{3}$/);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(variables.substitute('${CURRENTDATE, d, -1}')).toBe(yesterday);
    expect(variables.substitute('${CURRENTDATETIME}')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(variables.substitute('${UUID}')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('leave ${…} in a fixture alone unless it is a variable or a placeholder', () => {
    const variables = new Variables([{ name: 'task-id', defaultValue: 'x' }], {}, context());
    expect(variables.substituteDeclared('{"id":"${task-id}","note":"${not-a-variable}"}')).toBe('{"id":"x","note":"${not-a-variable}"}');
  });
});

describe('paths', () => {
  it('read XPath and JSONPath as FHIRPath', () => {
    expect(pathAsFhirPath('fhir:Patient/fhir:name[1]/fhir:given/@value')).toBe('Patient.name[0].given');
    expect(pathAsFhirPath('$.name[0].family')).toBe('name[0].family');
  });
});

describe('type names', () => {
  const bundle = { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Observation', code: { coding: [{ system: 'urn:oid:2.16.840.1.113883.2.4.3.11.60.40.2.1' }] } } }] };

  it('are matched ignoring case, as the HL7 Java engine of the test platforms does', () => {
    expect(evaluate(bundle, "Bundle.descendants().where($this.is(coding)).where(system.startsWith('urn:oid:')).exists()", 'stu3')).toEqual([true]);
    expect(withModelTypeNames('x.ofType(FHIR.codeableconcept) and y is coding', 'r4')).toBe('x.ofType(FHIR.CodeableConcept) and y is Coding');
  });

  it('leave FHIRPath\'s own types, exact names and string literals as written', () => {
    expect(withModelTypeNames("x.is(String) and x.as(string) and name = 'x is coding'", 'stu3')).toBe("x.is(String) and x.as(string) and name = 'x is coding'");
    expect(withModelTypeNames('x.is(NoSuchType)', 'stu3')).toBe('x.is(NoSuchType)');
  });
});

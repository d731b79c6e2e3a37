import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { describeIssues, errorsOf, expressionsOf, patientProfile } from './support.js';

const TEST_PATIENT = 'http://example.org/fhir/StructureDefinition/test-patient';
const ORPHAN_PATIENT = 'http://example.org/fhir/StructureDefinition/orphan-patient';

/** A differential-only R4 profile: the validator has to generate its snapshot. */
const testPatientProfile = patientProfile(TEST_PATIENT, 'TestPatient', [
  { id: 'Patient.identifier', path: 'Patient.identifier', slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'open' }, min: 1 },
  { id: 'Patient.identifier:bsn', path: 'Patient.identifier', sliceName: 'bsn', min: 1, max: '1' },
  { id: 'Patient.identifier:bsn.system', path: 'Patient.identifier.system', min: 1, fixedUri: 'http://fhir.nl/fhir/NamingSystem/bsn' },
  { id: 'Patient.identifier:bsn.value', path: 'Patient.identifier.value', min: 1 },
  { id: 'Patient.telecom', path: 'Patient.telecom', slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'closed' } },
  { id: 'Patient.telecom:phone', path: 'Patient.telecom', sliceName: 'phone' },
  { id: 'Patient.telecom:phone.system', path: 'Patient.telecom.system', min: 1, fixedCode: 'phone' },
  { id: 'Patient.gender', path: 'Patient.gender', min: 1 },
  { id: 'Patient.multipleBirth[x]', path: 'Patient.multipleBirth[x]', type: [{ code: 'integer' }], minValueInteger: 1, maxValueInteger: 9 },
  {
    id: 'Patient.maritalStatus',
    path: 'Patient.maritalStatus',
    patternCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] },
  },
  {
    id: 'Patient.name',
    path: 'Patient.name',
    constraint: [{ key: 'tst-1', severity: 'error', human: 'A name needs a family name', expression: 'family.exists()' }],
  },
]);

/** A profile whose base is not available: it is built on the core Patient instead. */
const orphanProfile = {
  ...testPatientProfile,
  url: ORPHAN_PATIENT,
  name: 'OrphanPatient',
  baseDefinition: 'http://example.org/fhir/StructureDefinition/missing-base',
  differential: { element: [{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }] },
};

/** STU3 defines Composition.author 1..* without a base cardinality: a profile that allows one keeps it an array. */
const singleAuthorComposition = {
  resourceType: 'StructureDefinition',
  url: 'http://example.org/fhir/StructureDefinition/single-author',
  name: 'SingleAuthor',
  status: 'draft',
  fhirVersion: '3.0.2',
  kind: 'resource',
  abstract: false,
  type: 'Composition',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Composition',
  derivation: 'constraint',
  differential: { element: [{ id: 'Composition.author', path: 'Composition.author', max: '1' }] },
};

/** A Bundle that must carry a Patient entry: slicing on the type of the entry's resource. */
const patientBundle = {
  resourceType: 'StructureDefinition',
  url: 'http://example.org/fhir/StructureDefinition/patient-bundle',
  name: 'PatientBundle',
  status: 'draft',
  fhirVersion: '4.0.1',
  kind: 'resource',
  abstract: false,
  type: 'Bundle',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Bundle',
  derivation: 'constraint',
  differential: {
    element: [
      { id: 'Bundle.entry', path: 'Bundle.entry', slicing: { discriminator: [{ type: 'type', path: 'resource' }], rules: 'open' } },
      { id: 'Bundle.entry:patient', path: 'Bundle.entry', sliceName: 'patient', min: 1, max: '1' },
      { id: 'Bundle.entry:patient.resource', path: 'Bundle.entry.resource', type: [{ code: 'Patient' }] },
    ],
  },
};

const BOUNDED_OBSERVATION = 'http://example.org/fhir/StructureDefinition/bounded-observation';
const kg = (value: number) => ({ value, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' });

/** Quantity bounds on a value, and a Duration bound (from now) on a dateTime. */
const boundedObservation = {
  resourceType: 'StructureDefinition',
  url: BOUNDED_OBSERVATION,
  name: 'BoundedObservation',
  status: 'draft',
  fhirVersion: '4.0.1',
  kind: 'resource',
  abstract: false,
  type: 'Observation',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation',
  derivation: 'constraint',
  differential: {
    element: [
      { id: 'Observation.effective[x]', path: 'Observation.effective[x]', type: [{ code: 'dateTime' }], maxValueDuration: { value: 1, unit: 'd', system: 'http://unitsofmeasure.org', code: 'd' } },
      { id: 'Observation.value[x]', path: 'Observation.value[x]', type: [{ code: 'Quantity' }], minValueQuantity: kg(0), maxValueQuantity: kg(300) },
    ],
  },
};

const PATIENT_PARAMETERS = 'http://example.org/fhir/StructureDefinition/patient-parameters';

/** A parameter whose resource is typed with a profile: the resource must meet it. */
const patientParameters = {
  resourceType: 'StructureDefinition',
  url: PATIENT_PARAMETERS,
  name: 'PatientParameters',
  status: 'draft',
  fhirVersion: '4.0.1',
  kind: 'resource',
  abstract: false,
  type: 'Parameters',
  baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Parameters',
  derivation: 'constraint',
  differential: {
    element: [{ id: 'Parameters.parameter.resource', path: 'Parameters.parameter.resource', type: [{ code: 'Resource', profile: [TEST_PATIENT] }] }],
  },
};

const validPatient = (): Resource => ({
  resourceType: 'Patient',
  id: 'p1',
  meta: { profile: [TEST_PATIENT] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jan Jansen</div>' },
  identifier: [
    { system: 'http://example.org/mrn', value: '12' },
    { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' },
  ],
  telecom: [{ system: 'phone', value: '+31 20 1234567' }],
  name: [{ family: 'Jansen', given: ['Jan', 'Piet'] }],
  gender: 'male',
  birthDate: '1950-02-28',
  maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M', display: 'Married' }] },
});

let folder: string;
let r4: Validator;
let stu3: Validator;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'validation-profiles-'));
  writeFileSync(path.join(folder, 'test-patient.json'), JSON.stringify(testPatientProfile));
  writeFileSync(path.join(folder, 'orphan-patient.json'), JSON.stringify(orphanProfile));
  writeFileSync(path.join(folder, 'single-author.json'), JSON.stringify(singleAuthorComposition));
  writeFileSync(path.join(folder, 'patient-bundle.json'), JSON.stringify(patientBundle));
  writeFileSync(path.join(folder, 'bounded-observation.json'), JSON.stringify(boundedObservation));
  writeFileSync(path.join(folder, 'patient-parameters.json'), JSON.stringify(patientParameters));
  writeFileSync(path.join(folder, 'broken.json'), '{ not json');
  [r4, stu3] = await Promise.all([
    createValidator({ version: 'r4', profileFolders: [folder] }),
    createValidator({ version: 'stu3', profileFolders: [folder] }),
  ]);
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

function check(resource: unknown, profiles?: string[]) {
  const outcome = r4.validate(resource, { profiles });
  return { outcome, errors: errorsOf(outcome), text: describeIssues(outcome.issue) };
}

describe('loading', () => {
  it('loads profiles from folders, for the release they declare', () => {
    expect(r4.knowsProfile(TEST_PATIENT)).toBe(true);
    expect(r4.profiles()).toContainEqual({ url: TEST_PATIENT, type: 'Patient' });
    expect(stu3.knowsProfile(TEST_PATIENT)).toBe(false);
    expect(r4.knowsProfile('http://hl7.org/fhir/StructureDefinition/bodyweight')).toBe(true);
  });

  it('reports a file it cannot read instead of failing', () => {
    expect(r4.loadIssues.map((i) => i.details?.text)).toEqual([expect.stringContaining('broken.json')]);
  });
});

describe('profiles with generated snapshots', () => {
  it('accepts a resource that meets its profile', () => {
    const { outcome, text } = check(validPatient());
    expect(outcome.id).toBe('ok');
    expect(text).not.toMatch(/error/);
  });

  it('requires a slice, a fixed value inside it and the elements the profile makes mandatory', () => {
    const patient = validPatient();
    patient.identifier = [{ system: 'http://example.org/mrn', value: '12' }];
    delete patient.gender;
    const { outcome, errors, text } = check(patient);
    expect(outcome.id).toBe('unprocessable');
    expect(expressionsOf(errors)).toEqual(expect.arrayContaining(['Patient.identifier', 'Patient.gender']));
    expect(text).toMatch(/Patient.identifier:bsn/);
  });

  it('refuses an item no slice of a closed slicing matches', () => {
    const patient = validPatient();
    patient.telecom = [{ system: 'phone', value: '1' }, { system: 'email', value: 'a@b.nl' }];
    expect(expressionsOf(check(patient).errors)).toEqual(['Patient.telecom[1]']);
  });

  it('checks pattern values and the profile’s own invariants', () => {
    const patient = validPatient();
    patient.maritalStatus = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'S' }] };
    patient.name = [{ given: ['Jan'] }];
    const { errors, text } = check(patient);
    expect(expressionsOf(errors).sort()).toEqual(['Patient.maritalStatus', 'Patient.name[0]']);
    expect(text).toMatch(/tst-1/);
  });

  it('narrows a choice to the types the profile allows, within its minimum and maximum', () => {
    const patient = validPatient();
    expect(check({ ...patient, multipleBirthInteger: 2 }).errors).toEqual([]);
    expect(check({ ...patient, multipleBirthInteger: 12 }).text).toMatch(/error Patient.multipleBirth.ofType\(integer\): Value 12 is above the maximum 9/);
    expect(check({ ...patient, multipleBirthBoolean: true }).text).toMatch(/Unrecognized property 'multipleBirthBoolean'/);
  });

  it('holds a resource inside another to the profile its type names', () => {
    const parameters = (resource: Resource) => ({ resourceType: 'Parameters', parameter: [{ name: 'patient', resource }] });
    expect(check(parameters(validPatient()), [PATIENT_PARAMETERS]).errors).toEqual([]);
    const { gender: _gender, meta: _meta, ...withoutGender } = validPatient() as Resource & { gender?: string };
    expect(expressionsOf(check(parameters(withoutGender), [PATIENT_PARAMETERS]).errors)).toEqual(['Parameters.parameter[0].resource.gender']);
    expect(check(parameters(withoutGender)).errors).toEqual([]);
  });

  it('checks Quantity bounds in the same unit, and a Duration bound on a dateTime from the current time', () => {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'weight' } };
    const errorsFor = (extra: Record<string, unknown>) => describeIssues(check({ ...observation, ...extra }, [BOUNDED_OBSERVATION]).errors);
    expect(errorsFor({ valueQuantity: kg(70), effectiveDateTime: new Date().toISOString() })).toBe('');
    expect(errorsFor({ valueQuantity: kg(-1) })).toMatch(/error Observation.value.ofType\(Quantity\): Value .* is below the minimum .* \(minValueQuantity\)/);
    expect(errorsFor({ valueQuantity: kg(301) })).toMatch(/error Observation.value.ofType\(Quantity\): Value .* is above the maximum .* \(maxValueQuantity\)/);
    // Another unit needs UCUM conversion: not judged here.
    expect(errorsFor({ valueQuantity: { value: 400_000, system: 'http://unitsofmeasure.org', code: 'g' } })).toBe('');
    expect(errorsFor({ effectiveDateTime: '2100-01-01T00:00:00Z' })).toMatch(/error Observation.effective.ofType\(dateTime\): Value .* is above the maximum .* \(maxValueDuration\)/);
  });

  it('slices on the type of a resource', () => {
    const entry = (resource: Resource) => ({ fullUrl: `urn:uuid:${resource.id}`, resource });
    const bundle = (resources: Resource[]) => ({
      resourceType: 'Bundle',
      meta: { profile: ['http://example.org/fhir/StructureDefinition/patient-bundle'] },
      type: 'collection',
      entry: resources.map(entry),
    });
    const patient = { resourceType: 'Patient', id: '0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0' };
    const basic = { resourceType: 'Basic', id: '7e1b4f8a-4a43-4c6a-9c58-2f1a8a6f3c10', code: { text: 'x' } };
    expect(check(bundle([basic, patient])).errors).toEqual([]);
    expect(check(bundle([basic])).text).toMatch(/error Bundle.entry: Slice 'Bundle.entry:patient': minimum required = 1/);
  });

  it('keeps an array an array when a profile allows only one', () => {
    const composition = (authors: number) => ({
      resourceType: 'Composition',
      meta: { profile: ['http://example.org/fhir/StructureDefinition/single-author'] },
      status: 'final',
      type: { text: 'note' },
      subject: { reference: 'Patient/1' },
      date: '2024-01-01',
      title: 'note',
      author: Array.from({ length: authors }, (_, i) => ({ reference: `Practitioner/${i}` })),
    });
    expect(errorsOf(stu3.validate(composition(1)))).toEqual([]);
    expect(describeIssues(errorsOf(stu3.validate(composition(2))))).toMatch(/error Composition.author: Composition.author: maximum allowed = 1, but found 2/);
  });

  it('builds a profile on the core type when its base is unknown, and says so', () => {
    const patient: Resource = { resourceType: 'Patient', meta: { profile: [ORPHAN_PATIENT] }, gender: 'female' };
    const { outcome, errors } = check(patient);
    expect(expressionsOf(errors)).toEqual(['Patient.birthDate']);
    expect(outcome.issue).toContainEqual(
      expect.objectContaining({ severity: 'information', details: { text: expect.stringContaining('missing-base is not known') } }),
    );
  });

  it('warns about unknown declared profiles and refuses unknown requested ones', () => {
    const declared = check({ resourceType: 'Basic', meta: { profile: ['http://example.org/nope'] }, code: { text: 'x' } });
    expect(declared.outcome.id).toBe('ok');
    expect(declared.text).toMatch(/warning Basic: Profile http:\/\/example.org\/nope is not known/);
    const requested = check({ resourceType: 'Basic', code: { text: 'x' } }, ['http://example.org/nope']);
    expect(requested.outcome.id).toBe('unprocessable');
    const wrongType = check({ resourceType: 'Basic', code: { text: 'x' } }, [TEST_PATIENT]);
    expect(wrongType.text).toMatch(/is for Patient, not Basic/);
  });
});

describe('structure and JSON representation', () => {
  it('names unknown elements, arrays and singles in the wrong shape, and empty values', () => {
    const { errors } = check({
      resourceType: 'Patient',
      name: { family: 'x' },
      gender: ['male'],
      address: [],
      contact: [{}],
      telecom: [{ system: 'phone', value: '' }],
      unknownElement: true,
    });
    expect(expressionsOf(errors).sort()).toEqual([
      'Patient',
      'Patient.address',
      'Patient.contact[0]',
      'Patient.contact[0]',
      'Patient.gender',
      'Patient.name',
      'Patient.telecom[0].value',
    ]);
  });

  it('checks primitive formats from the type definitions, and real calendar dates', () => {
    const { errors } = check({ resourceType: 'Patient', id: 'bad_id', birthDate: '2023-02-30', active: 'true', multipleBirthInteger: 1.5 });
    expect(expressionsOf(errors).sort()).toEqual(['Patient.active', 'Patient.birthDate', 'Patient.id', 'Patient.multipleBirth.ofType(integer)']);
  });

  it('wants a canonical absolute, or a #fragment', () => {
    const measure = (library: string[]) => check({ resourceType: 'Measure', status: 'draft', library });
    expect(measure(['http://example.org/Library/a', 'urn:uuid:7f8d6e0a-3c1b-4b8e-9a43-2d3f6c1e0b11', '#lib']).errors).toEqual([]);
    const relative = measure(['Library/library-cms146-example']);
    expect(relative.text).toMatch(/error Measure.library\[0\]: Canonical URLs must be absolute URLs if they are not fragment references \(Library\/library-cms146-example\)/);
  });

  it("wants a Coding's system absolute, and a code system rather than a value set", () => {
    const coded = (system: string) => check({ resourceType: 'Patient', maritalStatus: { coding: [{ system, code: 'M' }] } });
    expect(coded('http://terminology.hl7.org/CodeSystem/v3-MaritalStatus').errors).toEqual([]);
    expect(coded('v3-MaritalStatus').text).toMatch(/error Patient.maritalStatus.coding\[0\].system: Coding.system must be an absolute reference/);
    expect(coded('http://hl7.org/fhir/ValueSet/marital-status').text).toMatch(/error Patient.maritalStatus.coding\[0\].system: The Coding references a value set, not a code system/);
  });

  it('holds search parameters to the core SearchParameters they name: a CapabilityStatement\'s types, a derived parameter\'s bases', () => {
    const statement = (type: string) => ({
      resourceType: 'CapabilityStatement', status: 'draft', date: '2026-01-01', kind: 'requirements', description: 'test', fhirVersion: '4.0.1', format: ['json'],
      rest: [{ mode: 'server', resource: [{ type: 'AllergyIntolerance', searchParam: [{ name: 'clinical-status', definition: 'http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status', type }] }] }],
    });
    expect(check(statement('token')).errors).toEqual([]);
    expect(check(statement('date')).text).toMatch(/error CapabilityStatement.rest\[0\].resource\[0\].searchParam\[0\]: Type mismatch - SearchParameter .* type is token, but type here is date/);
    const derived = (base: string) => ({
      resourceType: 'SearchParameter', url: 'http://example.org/SearchParameter/name', name: 'name', status: 'draft', description: 'name', code: 'name',
      derivedFrom: 'http://hl7.org/fhir/SearchParameter/Organization-name', base: [base], type: 'string', expression: `${base}.name`,
    });
    expect(check(derived('Organization')).errors).toEqual([]);
    expect(check(derived('Patient')).text).toMatch(/error SearchParameter: The resource type Patient is not listed as a base in the SearchParameter this is derived from/);
  });

  it("wants a StructureDefinition's type profiles of the element's type (a specialization is not its base type)", () => {
    const profiled = (profile: string) => check({
      resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/o', name: 'O', status: 'draft', kind: 'resource', abstract: false,
      type: 'Observation', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.value[x]:valueQuantity', path: 'Observation.valueQuantity', type: [{ code: 'Quantity', profile: [profile] }] }] },
    });
    expect(profiled('http://hl7.org/fhir/StructureDefinition/SimpleQuantity').errors).toEqual([]);
    expect(profiled('http://hl7.org/fhir/StructureDefinition/Count').text).toMatch(
      /error StructureDefinition.differential.element\[0\].type\[0\].profile\[0\]: Profile http:\/\/hl7.org\/fhir\/StructureDefinition\/Count is for type Count, but the Observation.valueQuantity element has type Quantity/,
    );
  });

  it('generates the snapshot of a differential-only profile it validates: a path the base does not have fails', () => {
    const differential = (path: string) => check({
      resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/o', name: 'O', status: 'draft', kind: 'resource', abstract: false,
      type: 'Observation', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Observation', derivation: 'constraint',
      differential: { element: [{ id: 'Observation.valueQuantity', path, min: 1 }, { id: 'Observation.code.coding.system', path: 'Observation.code.coding.system', min: 1 }] },
    });
    expect(differential('Observation.valueQuantity').errors).toEqual([]);
    expect(differential('Observation.valueBla').text).toMatch(/error StructureDefinition: Error generating snapshot: the differential path Observation.valueBla names no element of the base/);
  });

  it('accepts primitive extensions aligned with their values and refuses empty ones (ele-1)', () => {
    const extension = [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }];
    const good = check({ resourceType: 'Patient', name: [{ given: ['Jan', null], _given: [null, { extension }] }], _birthDate: { extension } });
    expect(good.errors).toEqual([]);
    const bad = check({ resourceType: 'Patient', _birthDate: { id: 'x' } });
    expect(expressionsOf(bad.errors)).toEqual(['Patient.birthDate']);
    expect(bad.text).toMatch(/ele-1/);
  });

  it('refuses null for a single primitive (null only aligns repeating primitives with their extensions)', () => {
    const patient = { resourceType: 'Patient', birthDate: null, _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } };
    expect(expressionsOf(check(patient).errors)).toEqual(['Patient.birthDate']);
    const aligned = { resourceType: 'Patient', name: [{ given: [null, 'Piet'], _given: [{ extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] }, null] }] };
    expect(check(aligned).errors).toEqual([]);
  });

  it('handles choice types: known types pass, unknown ones are unrecognized, two at once are refused', () => {
    const base = { resourceType: 'Observation', status: 'final', code: { text: 'x' } };
    expect(check({ ...base, valueQuantity: { value: 1, unit: 'kg' } }).errors).toEqual([]);
    expect(check({ ...base, valueFoo: 1 }).text).toMatch(/Unrecognized property 'valueFoo'/);
    expect(check({ ...base, valueString: 'a', valueBoolean: true }).text).toMatch(/can only have one type/);
  });
});

describe('terminology, invariants and references', () => {
  it('checks required bindings on codes and CodeableConcepts', () => {
    const { errors } = check({
      resourceType: 'Condition',
      subject: { reference: 'Patient/1' },
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'gone' }] },
    });
    expect(expressionsOf(errors)).toEqual(['Condition.clinicalStatus']);
    expect(expressionsOf(check({ resourceType: 'Patient', gender: 'mle' }).errors)).toEqual(['Patient.gender']);
  });

  it('evaluates FHIRPath invariants, natively where they are presence logic', () => {
    const encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start: '2024-02-02', end: '2024-01-01' } };
    expect(check(encounter).text).toMatch(/error Encounter.period: Constraint failed: per-1/);
    expect(check({ resourceType: 'Patient', contact: [{ gender: 'male' }] }).text).toMatch(/error Patient.contact\[0\]: Constraint failed: pat-1/);
    expect(check({ resourceType: 'Patient', contact: [{ gender: 'male', name: { family: 'x' } }] }).errors).toEqual([]);
  });

  it('checks contained resources, local references and reference target types', () => {
    const { errors, text } = check({
      resourceType: 'Patient',
      contained: [{ resourceType: 'Organization', id: 'org', name: 'x' }],
      managingOrganization: { reference: '#other' },
      generalPractitioner: [{ reference: 'Patient/1' }],
    });
    expect(expressionsOf(errors).sort()).toEqual(['Patient.contained[0]', 'Patient.generalPractitioner[0]', 'Patient.managingOrganization']);
    expect(text).toMatch(/dom-3/);
    expect(text).toMatch(/ref-1/);
  });

  it('checks known extensions against their definitions', () => {
    const patient = {
      resourceType: 'Patient',
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueString: 'Utrecht' }],
    };
    expect(check(patient).text).toMatch(/error Patient.extension\[0\]: Unrecognized property 'valueString'/);
    const both = { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueString: 'a', extension: [{ url: 'y', valueString: 'b' }] }] };
    expect(check(both).text).toMatch(/ext-1/);
  });

  it('refuses an extension it has no definition for, as the HL7 validator does, and unknown modifier extensions', () => {
    const extension = [{ url: 'http://fkcfhir.org/fhir/StructureDefinition/orderSource', valueBoolean: true }];
    const plain = check({ resourceType: 'Patient', extension });
    expect(plain.text).toMatch(/error Patient.extension\[0\]: The extension http:\/\/fkcfhir.org\/fhir\/StructureDefinition\/orderSource could not be found/);
    expect(expressionsOf(check({ resourceType: 'Patient', modifierExtension: extension }).errors)).toEqual(['Patient.modifierExtension[0]']);
    const otherPublisher = { resourceType: 'Patient', meta: { profile: ['http://example.com/fhir/StructureDefinition/p'] }, extension };
    expect(expressionsOf(check(otherPublisher).errors)).toEqual(['Patient.extension[0]']);
    const nictizInR4 = { resourceType: 'Patient', extension: [{ url: 'http://nictiz.nl/fhir/StructureDefinition/code-specification', valueBoolean: true }] };
    expect(expressionsOf(check(nictizInR4).errors)).toEqual(['Patient.extension[0]']);
  });

  it("holds an STU3 HL7 extension to the value types of its current definition: maxValueSet is a uri, no longer a Reference", () => {
    const binding = (value: Record<string, unknown>) => ({
      resourceType: 'StructureDefinition', url: 'http://example.org/fhir/StructureDefinition/p', name: 'P', status: 'draft', kind: 'resource', abstract: false,
      type: 'Patient', baseDefinition: 'http://hl7.org/fhir/StructureDefinition/Patient', derivation: 'constraint',
      differential: { element: [{ id: 'Patient.language', path: 'Patient.language', binding: { strength: 'extensible', valueSetUri: 'http://hl7.org/fhir/ValueSet/languages',
        extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/elementdefinition-maxValueSet', ...value }] } }] },
    });
    expect(errorsOf(stu3.validate(binding({ valueUri: 'http://hl7.org/fhir/ValueSet/all-languages' })))).toEqual([]);
    const reference = errorsOf(stu3.validate(binding({ valueReference: { reference: 'http://hl7.org/fhir/ValueSet/all-languages' } })));
    expect(describeIssues(reference)).toMatch(/StructureDefinition.differential.element\[0\].binding.extension\[0\]: Unrecognized property 'valueReference'/);
  });

  it('allows an unknown extension with a warning where asked (the server: any organisation may define its own), never an unknown modifier', async () => {
    const lenient = await createValidator({ version: 'r4', unknownExtensions: 'allow' });
    const extension = [{ url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueString: '120 euro' }];
    const outcome = lenient.validate({ resourceType: 'Patient', extension });
    expect(outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal')).toEqual([]);
    expect(outcome.issue.find((i) => i.severity === 'warning')?.details?.text).toMatch(/Unknown extension http:\/\/vvt.example\/fhir\/StructureDefinition\/tarief: allowed here/);
    const modifier = lenient.validate({ resourceType: 'Patient', modifierExtension: extension });
    expect(modifier.issue.filter((i) => i.severity === 'error').map((i) => i.expression?.[0])).toEqual(['Patient.modifierExtension[0]']);
  });

  it('notes an unknown extension whose definition exists but is not installed, and those of example domains', () => {
    const noted = (url: string, options: { profile?: string; modifier?: boolean; validator?: Validator } = {}) => {
      const patient: Record<string, unknown> = { resourceType: 'Patient', [options.modifier ? 'modifierExtension' : 'extension']: [{ url, valueBoolean: true }] };
      if (options.profile) patient.meta = { profile: [options.profile] };
      const outcome = (options.validator ?? r4).validate(patient);
      return { errors: errorsOf(outcome), text: describeIssues(outcome.issue) };
    };
    // A declared profile that is not known, under the canonical base of an installed package (eOverdracht's, STU3):
    // its R4 package is not installed, and may define the extensions of that base (http or https).
    const nlCore = noted('http://nictiz.nl/fhir/StructureDefinition/ext-CodeSpecification', { profile: 'https://nictiz.nl/fhir/StructureDefinition/nl-core-Patient' });
    expect(nlCore.errors).toEqual([]);
    expect(nlCore.text).toMatch(/information Patient.extension\[0\]: .*the R4 package of the declared profile https:\/\/nictiz.nl\/fhir\/StructureDefinition\/nl-core-Patient \(the canonical base of nictiz.fhir.nl.stu3.eoverdracht\)/);
    // Under a base no installed package has, an unknown profile says nothing about where its extensions are: refused, as Java does.
    const unknownBase = noted('http://fkcfhir.org/fhir/StructureDefinition/orderSource', { profile: 'https://fkcfhir.org/fhir/StructureDefinition/MedRequest' });
    expect(expressionsOf(unknownBase.errors)).toEqual(['Patient.extension[0]']);
    // The eOverdracht package depends on zib2017, which is not installed: STU3 extensions of nictiz.nl/fhir are noted.
    const zib = noted('http://nictiz.nl/fhir/StructureDefinition/code-specification', { validator: stu3 });
    expect(zib.errors).toEqual([]);
    expect(zib.text).toMatch(/information .*nictiz.fhir.nl.stu3.zib2017/);
    expect(noted('http://example.com/StructureDefinition/x', { validator: stu3 }).errors).toHaveLength(1);
    // HL7's extensions package, cross-version extensions (also as modifiers), example domains.
    expect(noted('http://hl7.org/fhir/StructureDefinition/organization-brand').text).toMatch(/warning .*HL7 extensions package/);
    expect(noted('http://hl7.org/fhir/5.0/StructureDefinition/extension-Patient.x', { modifier: true }).errors).toEqual([]);
    expect(noted('http://hl7.org/fhir/1.0/StructureDefinition/extension-Patient.animal').errors).toEqual([]);
    expect(noted('http://hl7.org/fhir/StructureDefinition/x', { modifier: true }).errors).toHaveLength(1);
    expect(noted('http://example.org/fhir/StructureDefinition/SimpleExtension').errors).toEqual([]);
    expect(noted('http://example.org/fhir/StructureDefinition/modify', { modifier: true }).errors).toEqual([]);
    expect(noted('https://www.acme.com/x').errors).toEqual([]);
  });
});

describe('extension context', () => {
  const mothersFamily = (on: 'name' | 'family') => {
    const extension = [{ url: 'http://hl7.org/fhir/StructureDefinition/humanname-mothers-family', valueString: 'Jansen' }];
    return { resourceType: 'Patient', name: [on === 'name' ? { family: 'de Vries', extension } : { family: 'de Vries', _family: { extension } }] };
  };

  it('accepts an extension where its definition allows it, and refuses it elsewhere', () => {
    expect(check(mothersFamily('family')).errors).toEqual([]);
    const { text } = check(mothersFamily('name'));
    expect(text).toMatch(/error Patient.name\[0\].extension\[0\]: The extension http:\/\/hl7.org\/fhir\/StructureDefinition\/humanname-mothers-family is not allowed to be used at this point/);
  });
});

describe('bundles', () => {
  const entryRules = (entry: object, type = 'collection', link?: object[]) =>
    expressionsOf(check({ resourceType: 'Bundle', type, ...(link ? { link } : {}), entry: [entry] }).errors);

  it('wants absolute fullUrls, and a RESTful one to name the resource’s type and id', () => {
    expect(entryRules({ fullUrl: 'Patient/1', resource: { resourceType: 'Patient', id: '1' } })).toEqual(['Bundle.entry[0]']);
    expect(entryRules({ fullUrl: 'http://example.org/fhir/Patient/1', resource: { resourceType: 'Patient' } })).toEqual(['Bundle.entry[0]']);
    expect(entryRules({ fullUrl: 'http://example.org/fhir/Patient/1', resource: { resourceType: 'Patient', id: '2' } })).toEqual(['Bundle.entry[0]']);
    expect(entryRules({ fullUrl: 'http://example.org/fhir/Patient/1', resource: { resourceType: 'Patient', id: '1' } })).toEqual([]);
    expect(entryRules({ fullUrl: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0', resource: { resourceType: 'Patient' } })).toEqual([]);
  });

  it('wants search matches with ids, of the type searched for', () => {
    const self = [{ relation: 'self', url: 'http://example.org/fhir/Patient?name=x' }];
    expect(entryRules({ resource: { resourceType: 'Patient', id: '1' }, search: { mode: 'match' } }, 'searchset', self)).toEqual([]);
    expect(entryRules({ resource: { resourceType: 'Patient' }, search: { mode: 'match' } }, 'searchset', self)).toEqual(['Bundle.entry[0].resource']);
    expect(entryRules({ resource: { resourceType: 'Practitioner', id: '1' }, search: { mode: 'match' } }, 'searchset', self)).toEqual(['Bundle.entry[0].resource']);
    expect(entryRules({ resource: { resourceType: 'Patient', id: '1' }, search: { mode: 'outcome' } }, 'searchset', self)).toEqual(['Bundle.entry[0].resource']);
  });


  it('validates entries one by one with their paths, and checks references between them', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'document',
      identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0' },
      timestamp: '2024-01-01T10:00:00Z',
      link: [
        { relation: 'self', url: 'http://a/1' },
        { relation: 'self', url: 'http://a/2' },
      ],
      entry: [
        {
          fullUrl: 'http://example.org/fhir/Composition/c1',
          resource: {
            resourceType: 'Composition',
            id: 'c1',
            status: 'final',
            type: { text: 'note' },
            date: '2024-01-01',
            title: 'note',
            subject: { reference: 'Patient/missing' },
            author: [{ reference: 'Practitioner/p1' }],
          },
        },
        { fullUrl: 'http://example.org/fhir/Practitioner/p1', resource: { resourceType: 'Practitioner', id: 'p1', gender: 'bogus' } },
      ],
    };
    const { errors } = check(bundle);
    expect(expressionsOf(errors).sort()).toEqual(['Bundle.entry[0].resource.subject', 'Bundle.entry[1].resource.gender', 'Bundle.link[1]']);
  });
});

describe('robustness and STU3', () => {
  it('never throws, whatever it is given', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 20_000; i++) deep = { extension: [{ url: 'http://x', extension: [deep] }] };
    for (const input of [null, 'Patient', [], { resourceType: 'NoSuchType' }, { resourceType: 'Patient', ...deep }]) {
      const outcome = r4.validate(input);
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.id).toBe('unprocessable');
    }
  });

  it('fills location as well as expression for STU3', () => {
    const outcome = stu3.validate({ resourceType: 'Task', intent: 'order', status: 'nonsense' });
    expect(errorsOf(outcome)).toContainEqual(expect.objectContaining({ expression: ['Task.status'], location: ['Task.status'] }));
  });
});

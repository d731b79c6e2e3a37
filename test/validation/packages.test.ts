import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createValidator, REPOSITORY_PROFILES } from '../../src/validation/index.js';
import { readPackage } from '../../src/validation/packages.js';
import { describeIssues, errorsOf, patientProfile } from './support.js';

const EOVERDRACHT_PACKAGE = path.join(REPOSITORY_PROFILES, 'packages/nictiz.fhir.nl.stu3.eoverdracht-1.0.0-rc.23.tgz');
const TASK_PROFILE = 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task';
const BIRTH_DATE_PROFILE = 'http://example.org/fhir/StructureDefinition/patient-with-birthdate';

let folder: string;

/** A package as the registry hands them out: package/package.json and the resources, tarred and gzipped. */
function writePackage(name: string, manifest: Record<string, unknown>, resources: Record<string, unknown>[]): string {
  const work = mkdtempSync(path.join(tmpdir(), 'fhir-package-'));
  mkdirSync(path.join(work, 'package'));
  writeFileSync(path.join(work, 'package/package.json'), JSON.stringify(manifest));
  resources.forEach((resource, i) => writeFileSync(path.join(work, `package/resource-${i}.json`), JSON.stringify(resource)));
  const file = path.join(folder, name);
  execFileSync('tar', ['-czf', file, '-C', work, 'package']);
  rmSync(work, { recursive: true, force: true });
  return file;
}

const birthDateProfile = patientProfile(BIRTH_DATE_PROFILE, 'PatientWithBirthDate', [{ id: 'Patient.birthDate', path: 'Patient.birthDate', min: 1 }], {
  version: '1.0.0',
  status: 'active',
});

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), 'profile-packages-'));
  writePackage('example.patient-1.0.0.tgz', { name: 'example.patient', version: '1.0.0', fhirVersions: ['4.0.1'], dependencies: { 'hl7.fhir.r4.core': '4.0.1' } }, [birthDateProfile]);
  writeFileSync(path.join(folder, 'broken.tgz'), 'not a package');
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('the packages installed with the gateway', () => {
  it('ships Nictiz eOverdracht 1.0.0-rc.23 as a FHIR package (CC0, STU3 3.0.2, its index by canonical)', () => {
    const { manifest, entries } = readPackage(readFileSync(EOVERDRACHT_PACKAGE));
    expect(manifest).toMatchObject({ name: 'nictiz.fhir.nl.stu3.eoverdracht', version: '1.0.0-rc.23', license: 'CC0-1.0', fhirVersions: ['3.0.2'] });
    expect(manifest.dependencies).toEqual({ 'hl7.fhir.r3.core': '3.0.2', 'nictiz.fhir.nl.stu3.zib2017': '2.1.0' });
    expect(entries.filter((e) => e.resourceType === 'StructureDefinition').map((e) => e.url)).toContain(TASK_PROFILE);
  });

  it('are active in a validator with no folders configured, and say which dependency is not installed', async () => {
    const stu3 = await createValidator({ version: 'stu3' });
    expect(stu3.knowsProfile(TASK_PROFILE)).toBe(true);
    expect(stu3.profiles()).toContainEqual({ url: TASK_PROFILE, type: 'Task' });
    expect(describeIssues(stu3.loadIssues)).toMatch(/nictiz\.fhir\.nl\.stu3\.zib2017#2\.1\.0, not installed/);
  });

  it('stay out of the other release', async () => {
    expect((await createValidator({ version: 'r4' })).knowsProfile(TASK_PROFILE)).toBe(false);
  });
});

describe('a package in a profiles folder', () => {
  it('is read without an index and enforced, for its own release only', async () => {
    const [r4, stu3] = await Promise.all([createValidator({ version: 'r4', profileFolders: [folder] }), createValidator({ version: 'stu3', profileFolders: [folder] })]);
    expect(r4.knowsProfile(BIRTH_DATE_PROFILE)).toBe(true);
    expect(stu3.knowsProfile(BIRTH_DATE_PROFILE)).toBe(false);
    const patient = { resourceType: 'Patient', meta: { profile: [BIRTH_DATE_PROFILE] } };
    expect(errorsOf(r4.validate(patient)).map((i) => i.expression?.[0])).toEqual(['Patient.birthDate']);
    expect(errorsOf(r4.validate({ ...patient, birthDate: '1950-02-01' }))).toEqual([]);
  });

  it('that is not a package is reported and skipped, never fatal', async () => {
    const r4 = await createValidator({ version: 'r4', profileFolders: [folder] });
    expect(describeIssues(r4.loadIssues)).toMatch(/broken\.tgz was skipped/);
  });
});

describe('a declared profile the gateway does not know', () => {
  it('is an error for a profile of the eOverdracht workflow', async () => {
    const stu3 = await createValidator({ version: 'stu3' });
    const outcome = stu3.validate({ resourceType: 'Task', meta: { profile: [`${TASK_PROFILE}-v5`] }, status: 'requested', intent: 'proposal' });
    expect(errorsOf(outcome).map((i) => i.details?.text)).toEqual([`Profile ${TASK_PROFILE}-v5 is not known, so the resource was not checked against it`]);
  });

  it('is a warning for an eOverdracht profile declared on R4 (an R4 EHR\'s copy of the STU3 exchange)', async () => {
    const r4 = await createValidator({ version: 'r4' });
    const outcome = r4.validate({ resourceType: 'Task', meta: { profile: [TASK_PROFILE] }, status: 'requested', intent: 'proposal' });
    expect(errorsOf(outcome)).toEqual([]);
    expect(outcome.issue.map((i) => i.severity)).toContain('warning');
  });

  it('is a warning for any other profile', async () => {
    const stu3 = await createValidator({ version: 'stu3' });
    const outcome = stu3.validate({ resourceType: 'Patient', meta: { profile: ['http://fhir.nl/fhir/StructureDefinition/nl-core-patient'] } });
    expect(errorsOf(outcome)).toEqual([]);
    expect(outcome.issue.map((i) => i.severity)).toContain('warning');
  });
});

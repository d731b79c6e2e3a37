import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperationOutcome } from '../../src/fhir/outcome.js';
import { FIXTURES, fixtureText } from './support.js';

const run = promisify(execFile);
const SCRIPT = path.resolve('scripts/validate.ts');
const TASK = path.join(FIXTURES, 'eoverdracht-stu3/examples/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml');
const STU3_PATIENT = path.join(FIXTURES, 'eoverdracht-stu3/examples/patient-1.5/nl-core-patient-eov-test-1_5-01.xml');
const BODY_WEIGHT = path.join(FIXTURES, 'nl-core-r4/zib2020-json/nl-core-BodyWeight-01.json');

async function validate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const parseLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OperationOutcome);

/** The summary block of one file: from its `-- file` header to the next. */
const blockOf = (stdout: string, file: string) => stdout.split(/^-- /m).find((block) => block.startsWith(file)) ?? '';

let folder: string;
let taskWithoutFor: string;
let invalidR4: string;

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), 'validate-cli-'));
  taskWithoutFor = path.join(folder, 'task-without-for.xml');
  writeFileSync(taskWithoutFor, fixtureText('eoverdracht-stu3/examples/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml').replace(/<for>[\s\S]*?<\/for>/, ''));
  // R4 by its shape (subject.type), invalid in R4 (no status): it must be judged as R4, not passed as STU3.
  invalidR4 = path.join(folder, 'observation-r4-without-status.json');
  writeFileSync(invalidR4, JSON.stringify({ resourceType: 'Observation', code: { text: 'weight' }, subject: { type: 'Patient', reference: 'Patient/1' } }));
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('npm run validate', () => {
  it('prints a readable summary per file, with the release it read and why, and exits 1 when one has an error', async () => {
    const { code, stdout } = await validate([TASK, taskWithoutFor, invalidR4]);
    expect(code).toBe(1);
    expect(stdout.match(/^-- /gm)).toHaveLength(3);
    expect(blockOf(stdout, TASK)).toMatch(/Validated as STU3, because it reads only as STU3[\s\S]*\nSuccess: 0 errors, 0 warnings/);
    expect(blockOf(stdout, taskWithoutFor)).toMatch(/\*FAILURE\*: 1 error,[\s\S]*\n {2}Error @ Task\.for: /);
    expect(blockOf(stdout, invalidR4)).toMatch(/Validated as R4, because Observation\.subject\.type is R4 only\n\*FAILURE\*: 1 error/);
  }, 60_000);

  it('prints one OperationOutcome per file as NDJSON with --ndjson, the release noted in it', async () => {
    const { code, stdout, stderr } = await validate(['--ndjson', '--fhir-version', 'stu3', TASK, taskWithoutFor]);
    expect(code).toBe(1);
    const outcomes = parseLines(stdout);
    expect(outcomes.map((o) => o.id)).toEqual(['ok', 'unprocessable']);
    expect(outcomes[1].issue.filter((i) => i.severity === 'error').map((i) => i.expression)).toEqual([['Task.for']]);
    expect(outcomes[0].issue.map((i) => i.details?.text)).toContain('Validated as STU3 (--fhir-version)');
    expect(stderr).toMatch(/task-without-for\.xml: invalid/);
  }, 60_000);

  it('says plainly which declared profile was not checked, and fails on it only with --strict', async () => {
    const lenient = await validate([BODY_WEIGHT]);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/Success: 0 errors[\s\S]*Profile not checked: http:\/\/nictiz\.nl\/fhir\/StructureDefinition\/nl-core-BodyWeight is not known here/);
    const strict = await validate(['--strict', BODY_WEIGHT]);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/\*FAILURE\*: 0 errors[\s\S]*\(--strict: a failure\)/);
  }, 60_000);

  it('says when the release cannot be told from the content, and which it used', async () => {
    const patient = path.join(folder, 'patient.json');
    writeFileSync(patient, JSON.stringify({ resourceType: 'Patient', gender: 'female' }));
    const alone = await validate([patient]);
    expect(alone.code).toBe(0);
    expect(alone.stdout).toMatch(/Validated as R4, the default: the release cannot be told from the content \(its elements exist in both releases\); pass --fhir-version/);
    // Given with files that tell their release, it takes theirs.
    const withTask = await validate([TASK, STU3_PATIENT]);
    expect(withTask.code).toBe(0);
    expect(blockOf(withTask.stdout, STU3_PATIENT)).toMatch(/Validated as STU3, as the other files given: its own content cannot tell/);
  }, 60_000);

  it('takes the HL7 CLI’s optional checks as flags, with its defaults', async () => {
    const patient = path.join(folder, 'patient-with-script.json');
    writeFileSync(patient, JSON.stringify({ resourceType: 'Patient', name: [{ text: 'Standard <script>x</script>', family: 'x' }] }));
    const plain = await validate(['--fhir-version', 'r4', patient]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/Information @ Patient\.name\[0\]\.text: The string value contains text that looks like embedded HTML tags/);
    const secure = await validate(['--fhir-version', 'r4', '--security-checks', patient]);
    expect(secure.code).toBe(1);
    expect(secure.stdout).toMatch(/Error @ Patient\.name\[0\]\.text: .*not allowed for security reasons/);
  }, 60_000);

  it('exits 2 on wrong usage', async () => {
    expect((await validate(['--fhir-version', 'r5', TASK])).code).toBe(2);
    expect((await validate([])).code).toBe(2);
    expect((await validate(['--html-in-markdown', 'loud', TASK])).code).toBe(2);
  }, 60_000);
});

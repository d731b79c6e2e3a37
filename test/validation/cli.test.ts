import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperationOutcome } from '../../src/fhir/outcome.js';
import { EOVERDRACHT_PROFILES, FIXTURES, fixtureText } from './support.js';

const run = promisify(execFile);
const SCRIPT = path.resolve('scripts/validate.ts');
const TASK = path.join(FIXTURES, 'eoverdracht-stu3/examples/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml');

async function validate(args: string[]): Promise<{ code: number; outcomes: OperationOutcome[]; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', SCRIPT, ...args]);
    return { code: 0, outcomes: parseLines(stdout), stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, outcomes: parseLines(failed.stdout), stderr: failed.stderr };
  }
}

const parseLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as OperationOutcome);

let folder: string;

beforeAll(() => {
  folder = mkdtempSync(path.join(tmpdir(), 'validate-cli-'));
  const broken = fixtureText('eoverdracht-stu3/examples/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml').replace(/<for>[\s\S]*?<\/for>/, '');
  writeFileSync(path.join(folder, 'task-without-for.xml'), broken);
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('npm run validate', () => {
  it('prints one OperationOutcome per file and exits 1 when one has an error', async () => {
    const { code, outcomes, stderr } = await validate([
      '--fhir-version',
      'stu3',
      '--profiles-folder',
      EOVERDRACHT_PROFILES,
      TASK,
      path.join(folder, 'task-without-for.xml'),
    ]);
    expect(code).toBe(1);
    expect(outcomes.map((o) => o.id)).toEqual(['ok', 'unprocessable']);
    const errors = outcomes[1].issue.filter((i) => i.severity === 'error');
    expect(errors.map((i) => i.expression)).toEqual([['Task.for']]);
    expect(stderr).toMatch(/task-without-for\.xml: invalid \(1 error\)/);
  }, 30_000);

  it('picks the release itself and exits 0 when every file is valid', async () => {
    const { code, outcomes } = await validate([path.join(FIXTURES, 'nl-core-r4/zib2020-json/nl-core-BodyWeight-01.json')]);
    expect(code).toBe(0);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0].issue.map((i) => i.details?.text)).toContainEqual(expect.stringMatching(/bodyweight/));
  }, 30_000);

  it('exits 2 on wrong usage', async () => {
    expect((await validate(['--fhir-version', 'r5', TASK])).code).toBe(2);
  }, 30_000);
});

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { parseResource } from '../../src/validation/source.js';
import { describeIssues, errorsOf, FIXTURES, fixtureText } from './support.js';

/**
 * Agreement with the HL7 Java validator on fhir-test-cases (docs/validation.md lists every disagreement).
 * The floor is what this validator reaches: the test fails when a change makes it agree less.
 */
const AGREEMENT_FLOOR = 44;

interface Case {
  name: string;
  file: string;
  expected: 'valid' | 'invalid';
  java_error_count: number;
  tx_related_errors: number;
}

const cases = JSON.parse(fixtureText('fhir-test-cases/cases.json')) as Case[];

/**
 * Without a terminology server the gateway cannot judge code look-ups: a case whose only errors are terminology
 * errors counts as valid here.
 */
const expectedVerdict = (c: Case) => (c.java_error_count > 0 && c.tx_related_errors === c.java_error_count ? 'valid' : c.expected);

/** Official R4 examples that break the R4 definitions themselves (see docs/validation.md). */
const INVALID_EXAMPLES: Record<string, RegExp> = {
  'bundle-questionnaire.json': /^Questionnaire\.item\.linkId: minimum required = 1, but only found 0$/,
};

let validator: Validator;

beforeAll(async () => {
  validator = await createValidator({ version: 'r4' });
});

function verdict(file: string): { verdict: 'valid' | 'invalid'; issues: string } {
  try {
    const outcome = validator.validate(parseResource(fixtureText(`fhir-test-cases/${file}`), 'r4'));
    const errors = errorsOf(outcome);
    return { verdict: errors.length ? 'invalid' : 'valid', issues: describeIssues(errors) };
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    return { verdict: 'invalid', issues: describeIssues(error.outcome.issue) };
  }
}

describe('agreement with the HL7 Java validator (fhir-test-cases)', () => {
  it(`agrees on at least ${AGREEMENT_FLOOR} of ${cases.length} cases`, () => {
    const disagreements = cases
      .map((c) => ({ case: c, ...verdict(c.file) }))
      .filter((result) => result.verdict !== expectedVerdict(result.case))
      .map((result) => `${result.case.name}: Java ${result.case.expected}, here ${result.verdict}\n${result.issues}`);
    const agreed = cases.length - disagreements.length;
    // On failure this shows every disagreement with the issues found.
    expect(agreed >= AGREEMENT_FLOOR ? [] : disagreements).toEqual([]);
  });
});

describe('R4 core examples', () => {
  const examples = readdirSync(path.join(FIXTURES, 'fhir-test-cases/r4-examples'));

  it.each(examples)('%s validates', (file) => {
    const outcome = validator.validate(parseResource(fixtureText(`fhir-test-cases/r4-examples/${file}`), 'r4'));
    const errors = errorsOf(outcome);
    const known = INVALID_EXAMPLES[file];
    if (!known) expect(describeIssues(errors)).toBe('');
    else {
      expect(errors.length).toBeGreaterThan(0);
      for (const error of errors) expect(error.details?.text).toMatch(known);
    }
  });
});

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { FhirVersion } from '../../src/fhir/version.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { parseResource } from '../../src/validation/source.js';
import { agreementOf, describeDisagreement, runSuite, suiteCases, type SuiteResult } from './hl7-suite.js';
import { describeIssues, errorsOf, FIXTURES, fixtureText } from './support.js';

/**
 * Agreement with the HL7 Java validator on the verdict of fhir-test-cases (`cases.json`, 44 R4 cases, and
 * `suite/cases.json`, 288 R4 and STU3 cases), per release; docs/validation.md lists every disagreement and its
 * cause. Cases whose only Java errors need a terminology server are counted apart. The floor per release is what
 * this validator reaches: the test fails when a change makes it agree less.
 */
const AGREEMENT_FLOOR: Record<FhirVersion, number> = { r4: 0.96, stu3: 0.96 };

let results: SuiteResult[];

beforeAll(async () => {
  results = await runSuite(suiteCases());
}, 120_000);

describe('agreement with the HL7 Java validator (fhir-test-cases)', () => {
  it.each(['r4', 'stu3'] as const)('%s agrees on the verdict of at least the floor', (version) => {
    const { agreed, total } = agreementOf(results, version);
    const disagreements = results
      .filter((r) => r.case.version === version && !r.case.txOnly && r.verdict !== r.case.expected)
      .map(describeDisagreement);
    // On failure this shows every disagreement, Java's errors beside ours.
    expect(agreed / total >= AGREEMENT_FLOOR[version] ? [] : disagreements).toEqual([]);
  });

  it('agrees on all 44 cases of cases.json', () => {
    const first = results.slice(0, 44).filter((r) => r.verdict !== (r.case.txOnly ? 'valid' : r.case.expected));
    expect(first.map(describeDisagreement)).toEqual([]);
  });
});

/** Official R4 examples that break the R4 definitions themselves (see docs/validation.md). */
const INVALID_EXAMPLES: Record<string, RegExp> = {
  'bundle-questionnaire.json': /^Questionnaire\.item\.linkId: minimum required = 1, but only found 0$/,
};

let validator: Validator;

beforeAll(async () => {
  validator = await createValidator({ version: 'r4' });
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

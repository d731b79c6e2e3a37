import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { describeIssues, errorsOf, FIXTURES, readFixture } from './support.js';

/** The zib2020 nl-core R4 examples: their profiles are not available here, so this is base R4 validation. */
const FOLDERS = ['nl-core-r4/zib2020-json', 'nl-core-r4/zib2020-xml'];
const examples = FOLDERS.flatMap((folder) => readdirSync(path.join(FIXTURES, folder)).map((file) => `${folder}/${file}`));

let validator: Validator;

beforeAll(async () => {
  validator = await createValidator({ version: 'r4' });
});

describe('nl-core R4 examples', () => {
  it('covers both the XML originals and their JSON conversions', () => {
    expect(examples.filter((f) => f.endsWith('.xml'))).toHaveLength(36);
    expect(examples.filter((f) => f.endsWith('.json'))).toHaveLength(36);
  });

  it.each(examples)('%s validates without errors', (file) => {
    const outcome = validator.validate(readFixture(file, 'r4'));
    expect(describeIssues(errorsOf(outcome))).toBe('');
  });

  it('accepts two codings in Condition.verificationStatus (nl-core-Problem-01), one from the required value set', () => {
    const problem = readFixture('nl-core-r4/zib2020-json/nl-core-Problem-01.json', 'r4') as Record<string, any>;
    expect(problem.verificationStatus.coding).toHaveLength(2);
    expect(validator.validate(problem).id).toBe('ok');
    problem.verificationStatus.coding[0].code = 'not-a-status';
    expect(errorsOf(validator.validate(problem)).map((i) => i.expression?.[0])).toEqual(['Condition.verificationStatus']);
  });

  it('holds vital signs to the R4 vital signs profiles their LOINC code implies', () => {
    const weight = readFixture('nl-core-r4/zib2020-json/nl-core-BodyWeight-01.json', 'r4') as Record<string, any>;
    const outcome = validator.validate(weight);
    expect(describeIssues(outcome.issue)).toMatch(/Validated against http:\/\/hl7.org\/fhir\/StructureDefinition\/bodyweight/);
    delete weight.subject;
    expect(errorsOf(validator.validate(weight)).map((i) => i.expression?.[0])).toEqual(['Observation.subject']);
  });
});

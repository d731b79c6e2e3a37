import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Resource } from '../../src/fhir/version.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { parseResource } from '../../src/validation/source.js';
import {
  describeIssues,
  errorsOf,
  expressionsOf,
  FIXTURES,
  fixtureText,
  readFixture,
  warningsOf,
} from './support.js';

const EXAMPLES = 'eoverdracht-stu3/examples';
const TASK = `${EXAMPLES}/patient-1.5/eOverdracht-Task-eov-test-1_5-01.xml`;
const ADVANCE_NOTICE = `${EXAMPLES}/patient-1.5/eOverdracht-AdvanceNotice-eov-test-1_5-01.xml`;
const NURSING_HANDOFF = `${EXAMPLES}/patient-1.5/eOverdracht-NursingHandoff-Adults-eov-test-1_5-01.xml`;
const PROFILE = 'http://nictiz.nl/fhir/StructureDefinition/';
/** The nl-generic-functions-ig's example: it carries two Nuts routing extensions that guide's eOverdracht-Task profile uses. */
const NUTS_TASK = `${EXAMPLES}/eOverdracht-Task-eov-test-1_1b-REQUESTED.xml`;

function xmlExamples(): string[] {
  const walk = (folder: string): string[] =>
    readdirSync(path.join(FIXTURES, folder), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(`${folder}/${entry.name}`) : entry.name.endsWith('.xml') ? [`${folder}/${entry.name}`] : [],
    );
  return walk(EXAMPLES);
}

let validator: Validator;

beforeAll(async () => {
  // Out of the box: the eOverdracht profiles come from the package in profiles/packages/, no folder configured.
  validator = await createValidator({ version: 'stu3' });
});

const example = (file: string) => readFixture(file, 'stu3') as Resource & Record<string, any>;

function errorsFor(resource: Resource) {
  const outcome = validator.validate(resource);
  return { outcome, errors: errorsOf(outcome), text: describeIssues(outcome.issue) };
}

describe('the Nictiz eOverdracht examples', () => {
  it('has the eOverdracht profiles (the default package, differential only) loaded', () => {
    for (const name of ['eOverdracht-Task', 'eOverdracht-AdvanceNotice', 'eOverdracht-NursingHandoff-Adults', 'eOverdracht-TransferDate']) {
      expect(validator.knowsProfile(PROFILE + name)).toBe(true);
    }
  });

  it.each(xmlExamples().filter((file) => file !== NUTS_TASK))('%s validates without errors against its declared profiles', (file) => {
    const { errors, text } = errorsFor(example(file));
    expect(errors).toEqual([]);
    expect(text).not.toMatch(/Profile http:\/\/nictiz\.nl\/fhir\/StructureDefinition\/eOverdracht-\S+ is not known/);
  });

  it("refuses the nl-generic-functions-ig Task example's two Nuts extensions without that guide, and notes them with its profile loaded", async () => {
    const nuts = (issues: { details?: { text?: string } }[]) => issues.map((i) => i.details?.text ?? '').filter((text) => text.includes('nuts-foundation.github.io'));
    // Out of the box nothing says these extensions exist anywhere (the declared profile is a file url, not a known canonical): refused, as the HL7 validator does.
    expect(nuts(errorsFor(example(NUTS_TASK)).errors)).toHaveLength(2);
    const withGuide = await createValidator({ version: 'stu3', profileFolders: [path.join(FIXTURES, 'eoverdracht-stu3/profiles')] });
    const outcome = withGuide.validate(example(NUTS_TASK));
    expect(errorsOf(outcome)).toEqual([]);
    expect(nuts(outcome.issue.filter((i) => i.severity === 'information'))).toHaveLength(2);
  });

  it('refuses the raw TouchStone templates: a placeholder is not a dateTime', () => {
    const raw = parseResource(fixtureText(ADVANCE_NOTICE), 'stu3');
    expect(expressionsOf(errorsFor(raw).errors)).toEqual(
      expect.arrayContaining(['Composition.date', 'Composition.section[0].extension[0].value.ofType(dateTime)']),
    );
  });
});

describe('pre-2022 document codes (DESIGN §3)', () => {
  it('accepts the old advance notice code with a warning that names the current one', () => {
    const { outcome } = errorsFor(example(ADVANCE_NOTICE));
    expect(outcome.id).toBe('ok');
    const [warning] = warningsOf(outcome).filter((i) => i.expression?.[0] === 'Composition.type');
    expect(warning.details?.text).toMatch(/57830-2.*http:\/\/snomed.info\/sct\|721915006/);
  });

  it('accepts the old nursing handoff code the same way', () => {
    const warnings = warningsOf(errorsFor(example(NURSING_HANDOFF)).outcome);
    expect(warnings.map((w) => w.details?.text)).toContainEqual(expect.stringMatching(/371535009.*11171000146100/));
  });

  it('still refuses a document type that is neither the current nor the old code', () => {
    const notice = example(ADVANCE_NOTICE);
    notice.type = { coding: [{ system: 'http://loinc.org', code: '11488-4' }] };
    expect(expressionsOf(errorsFor(notice).errors)).toEqual(['Composition.type']);
  });

  it('reports what the current profile requires as warnings for documents dated before the 2022 revision', () => {
    const { outcome } = errorsFor(example(`${EXAMPLES}/kwalificatie-1.1b/eOverdracht-advanceNotice-01.xml`));
    expect(outcome.id).toBe('ok');
    const texts = warningsOf(outcome).map((w) => w.details?.text);
    expect(texts).toContainEqual(expect.stringMatching(/predates the current profiles/));
    expect(texts).toContainEqual(expect.stringMatching(/Slice 'Composition.section:carePlan': minimum required = 1/));
  });

  it('holds a document dated after the revision to the current profile, old code or not', () => {
    const handoff = example(`${EXAMPLES}/kwalificatie-1.1b/eOverdracht-advanceNotice-01.xml`);
    handoff.date = '2024-03-01T10:00:00+01:00';
    expect(errorsFor(handoff).text).toMatch(/error Composition.section: Slice 'Composition.section:carePlan'/);
  });
});

describe('broken copies are refused, naming the element', () => {
  it('Task.code changed', () => {
    const task = example(TASK);
    task.code.coding[0].code = '308292008';
    const { outcome, errors } = errorsFor(task);
    expect(outcome.id).toBe('unprocessable');
    expect(expressionsOf(errors)).toEqual(['Task.code.coding']);
    expect(errors[0].details?.text).toMatch(/taskCode/);
  });

  it('Task.for removed', () => {
    const task = example(TASK);
    delete task.for;
    expect(expressionsOf(errorsFor(task).errors)).toEqual(['Task.for']);
  });

  it('wrong Task.status code', () => {
    const task = example(TASK);
    task.status = 'finished';
    const { errors } = errorsFor(task);
    expect(expressionsOf(errors)).toEqual(['Task.status']);
    expect(errors[0].code).toBe('code-invalid');
  });

  it('a required section missing from the advance notice', () => {
    const notice = example(ADVANCE_NOTICE);
    notice.section = notice.section.filter((s: any) => s.code.coding[0].code !== '371524004');
    const { errors } = errorsFor(notice);
    expect(expressionsOf(errors)).toEqual(['Composition.section']);
    expect(errors[0].details?.text).toMatch(/medicalContext/);
  });

  it('a required sub-section with a changed code', () => {
    const notice = example(ADVANCE_NOTICE);
    notice.section[1].section[0].code.coding[0].code = '52870003';
    const { errors } = errorsFor(notice);
    expect(expressionsOf(errors)).toEqual(['Composition.section[1].section']);
    expect(errors[0].details?.text).toMatch(/medicalDiagnosis/);
  });

  it('a required element missing from the nursing handoff', () => {
    const handoff = example(NURSING_HANDOFF);
    delete handoff.subject;
    expect(expressionsOf(errorsFor(handoff).errors)).toEqual(['Composition.subject']);
  });

  it('an extension the profile requires, missing from its section', () => {
    const notice = example(ADVANCE_NOTICE);
    delete notice.section[0].extension;
    const { errors } = errorsFor(notice);
    expect(new Set(expressionsOf(errors))).toEqual(new Set(['Composition.section[0].extension']));
    expect(errors.map((e) => e.details?.text)).toContainEqual(expect.stringMatching(/Slice '.*extension:transferDate': minimum required = 1/));
  });
});

describe('profiles whose base is not available', () => {
  it('builds eOverdracht-Encounter on the core Encounter and says so, instead of failing', () => {
    const encounter: Resource = {
      resourceType: 'Encounter',
      meta: { profile: [`${PROFILE}eOverdracht-Encounter`] },
      status: 'planned',
      subject: { reference: 'Patient/1' },
    };
    const { outcome } = errorsFor(encounter);
    expect(outcome.issue).toContainEqual(
      expect.objectContaining({ severity: 'information', details: { text: expect.stringContaining('zib-Encounter is not known') } }),
    );
  });
});

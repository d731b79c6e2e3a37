import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { OperationOutcome } from '../../src/fhir/outcome.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { embeddedHtmlAt, isExampleUrl, looksLikeHtml } from '../../src/validation/policy.js';
import { parseResource } from '../../src/validation/source.js';
import { describeIssues, errorsOf, FIXTURES, fixtureText, patientProfile } from './support.js';

/**
 * Rules of the HL7 validator beyond the definitions: its optional checks (policy.ts), a profile's narrative
 * controls, Questionnaire enableWhen targets, references inside Parameters, elements typed by another profile's element.
 */
const NARRATIVE_PROFILE = 'http://example.org/fhir/StructureDefinition/narrative-controls';
const narrativeProfile = (url: string, extension: { url: string; valueCode: string }[], element = 'Patient.text') =>
  patientProfile(url, 'NarrativeControls', [{ id: element, path: element, extension }]);
const LANGUAGE_CONTROL = 'http://hl7.org/fhir/StructureDefinition/narrative-language-control';
const SOURCE_CONTROL = 'http://hl7.org/fhir/StructureDefinition/narrative-source-control';

let folder: string;
let r4: Validator;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'validation-hl7-rules-'));
  const profiles = {
    'no-sections': [{ url: LANGUAGE_CONTROL, valueCode: '_no' }],
    sections: [{ url: LANGUAGE_CONTROL, valueCode: '_yes' }],
    'resource-language': [{ url: LANGUAGE_CONTROL, valueCode: '_resource' }, { url: LANGUAGE_CONTROL, valueCode: 'de' }],
    source: [{ url: SOURCE_CONTROL, valueCode: 'error' }],
  };
  for (const [name, extension] of Object.entries(profiles)) {
    writeFileSync(path.join(folder, `${name}.json`), JSON.stringify(narrativeProfile(`${NARRATIVE_PROFILE}-${name}`, extension)));
  }
  const onDiv = narrativeProfile(`${NARRATIVE_PROFILE}-sections-on-div`, profiles.sections, 'Patient.text.div');
  writeFileSync(path.join(folder, 'sections-on-div.json'), JSON.stringify(onDiv));
  r4 = await createValidator({ version: 'r4', profileFolders: [folder] });
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

const errorTexts = (outcome: OperationOutcome) => errorsOf(outcome).map((i) => `${i.expression?.[0]}: ${i.details?.text}`);

describe('the HL7 validator’s optional checks', () => {
  const patient = { resourceType: 'Patient', name: [{ text: 'Standard <script>somescript</script>' }] };

  it('notes HTML tags in a string by default, and refuses them with security checks', async () => {
    expect(errorsOf(r4.validate(patient))).toEqual([]);
    expect(describeIssues(r4.validate(patient).issue)).toMatch(/information Patient.name\[0\].text: The string value contains text that looks like embedded HTML tags/);
    const secure = await createValidator({ version: 'r4', policy: { securityChecks: true } });
    expect(errorTexts(secure.validate(patient))).toEqual([expect.stringMatching(/^Patient.name\[0\].text: .*not allowed for security reasons/)]);
    expect(errorsOf(secure.validate({ resourceType: 'Patient', name: [{ text: 'a < b and c > d' }] }))).toEqual([]);
  });

  it('warns about HTML in markdown by default, refuses it when asked, ignores autolinks', async () => {
    const communication = { resourceType: 'Communication', status: 'completed', note: [{ text: '<resource type>\\<id>' }] };
    expect(describeIssues(r4.validate(communication).issue)).toMatch(/warning Communication.note\[0\].text: .*embedded HTML tag starting at '<r'/);
    const strict = await createValidator({ version: 'r4', policy: { htmlInMarkdown: 'error' } });
    expect(errorTexts(strict.validate(communication))).toHaveLength(1);
    expect(errorsOf(strict.validate({ ...communication, note: [{ text: 'See <https://example.org/x> or mail <a@b.nl>; 1 < 2' }] }))).toEqual([]);
  });

  it('refuses example URLs when asked, and example-domain extensions with them', async () => {
    const reference = { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { url: 'http://repository.example.org/fhir/x' } }] };
    expect(errorsOf(r4.validate(reference))).toEqual([]);
    const noExamples = await createValidator({ version: 'r4', policy: { exampleUrls: 'refuse' } });
    expect(errorTexts(noExamples.validate(reference))).toEqual(['DocumentReference.content[0].attachment.url: Example URLs are not allowed in this context (http://repository.example.org/fhir/x)']);
    const extended = { resourceType: 'Patient', extension: [{ url: 'http://example.org/fhir/StructureDefinition/x', valueBoolean: true }] };
    expect(errorsOf(r4.validate(extended))).toEqual([]);
    expect(errorTexts(noExamples.validate(extended))).toEqual([
      'Patient.extension[0]: The extension http://example.org/fhir/StructureDefinition/x could not be found so is not allowed here',
      'Patient.extension[0].url: Example URLs are not allowed in this context (http://example.org/fhir/StructureDefinition/x)',
    ]);
  });

  it('skips contained resources when asked', async () => {
    const condition = { resourceType: 'Condition', subject: { reference: 'Patient/1' }, contained: [{ resourceType: 'Practitioner', id: 'x'.repeat(65) }] };
    expect(errorTexts(r4.validate(condition))).toHaveLength(2); // the id, and dom-3 (not referred to)
    const ignoring = await createValidator({ version: 'r4', policy: { containedResources: 'ignore' } });
    expect(errorsOf(ignoring.validate(condition))).toEqual([]);
  });

  it('tells HTML, markdown HTML and example URLs apart', () => {
    expect([looksLikeHtml('<b>x</b>'), looksLikeHtml('<a href="x">'), looksLikeHtml('1 < 2 > 0'), looksLikeHtml('<3')]).toEqual([true, true, false, false]);
    expect([embeddedHtmlAt('a <div>'), embeddedHtmlAt('<http://x.org>'), embeddedHtmlAt('x < y')]).toEqual([2, -1, -1]);
    expect(['http://example.org/x', 'https://a.example.com', 'http://acme.com/x', 'http://myexample.org/', 'urn:example.org'].map(isExampleUrl)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('a profile’s narrative controls', () => {
  const narrative = (div: string, language?: string) => ({
    resourceType: 'Patient',
    ...(language && { language }),
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${div}</div>` },
  });
  const sections = '<div xml:lang="en" lang="en">Hello</div><div xml:lang="de" lang="de">Hallo</div>';
  const against = (resource: unknown, name: string) => errorTexts(r4.validate(resource, { profiles: [`${NARRATIVE_PROFILE}-${name}`] }));

  it('prohibits or requires language sections', () => {
    expect(against(narrative(sections), 'no-sections')).toEqual([expect.stringMatching(/^Patient.text: The xhtml has some language sections \(de, en\), but language sections are prohibited/)]);
    expect(against(narrative('Hello'), 'no-sections')).toEqual([]);
    expect(against(narrative('Hello'), 'sections')).toEqual([expect.stringMatching(/^Patient.text: The xhtml has no language sections, but language sections are required/)]);
    expect(against(narrative(sections), 'sections')).toEqual([]);
    // The same control stated on the div.
    expect(against(narrative('Hello'), 'sections-on-div')).toEqual([expect.stringMatching(/^Patient.text.div: The xhtml has no language sections/)]);
  });

  it('requires a section in the resource’s language and in each language named', () => {
    expect(against(narrative(sections, 'en'), 'resource-language')).toEqual([]);
    expect(against(narrative(sections, 'nl'), 'resource-language')).toEqual([expect.stringMatching(/no language section for 'nl'/)]);
    expect(against(narrative('<div xml:lang="nl">Hallo</div>', 'nl'), 'resource-language')).toEqual([expect.stringMatching(/no language section for 'de'/)]);
  });

  it('requires text to be labelled with its source, at the level the profile names', () => {
    const div = 'Loose text<h1 class="boilerplate">Heading</h1><p>Unlabelled</p><p class="generated">Labelled <b>too</b></p>';
    expect(against(narrative(div), 'source')).toEqual([
      expect.stringMatching(/^Patient.text: The xhtml node at 'Loose text' does not have a class attribute to indicate its source/),
      expect.stringMatching(/^Patient.text: The xhtml node at 'Unlabelled' /),
    ]);
    expect(against(narrative('<div class="generated">All <p>of it</p></div>'), 'source')).toEqual([]);
  });
});

describe('Questionnaire enableWhen', () => {
  const questionnaire = (question: string) => ({
    resourceType: 'Questionnaire',
    status: 'draft',
    item: [
      { linkId: 'first', type: 'boolean' },
      {
        linkId: 'group',
        type: 'group',
        enableWhen: [{ question, operator: '=', answerBoolean: true }],
        item: [{ linkId: 'inner', type: 'boolean' }],
      },
    ],
  });

  it('names another item, not one inside it, not itself, not one that does not exist', () => {
    expect(errorTexts(r4.validate(questionnaire('first')))).toEqual([]);
    expect(errorTexts(r4.validate(questionnaire('inner')))).toEqual(['Questionnaire.item[1]: Questions with an enableWhen cannot refer to an inner question for its enableWhen condition']);
    expect(errorTexts(r4.validate(questionnaire('group')))).toEqual([expect.stringMatching(/^Questionnaire.item\[1\]: .*cannot refer to themselves/)]);
    expect(errorTexts(r4.validate(questionnaire('gone')))).toEqual(["Questionnaire.item[1]: No item with linkId 'gone' found, which the enableWhen of item 'group' refers to"]);
  });
});

describe('references inside Parameters', () => {
  const parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'MemberPatient', resource: { resourceType: 'Patient', id: '1' } },
      { name: 'Coverage', resource: { resourceType: 'Coverage', id: 'a', status: 'active', beneficiary: { reference: 'Patient/1' }, payor: [{ display: 'x' }] } },
      { name: 'Other', resource: { resourceType: 'Coverage', id: 'b', status: 'active', beneficiary: { reference: 'Patient/2' }, payor: [{ display: 'x' }] } },
    ],
  };

  it('resolve among the parameters’ resources; an unresolved one is refused only when references must resolve', async () => {
    expect(errorsOf(r4.validate(parameters))).toEqual([]);
    const checking = await createValidator({ version: 'r4', policy: { unresolvedReferences: 'refuse' } });
    expect(errorTexts(checking.validate(parameters))).toEqual(["Parameters.parameter[2].resource.beneficiary: Unable to resolve resource with reference 'Patient/2'"]);
    expect(errorsOf(checking.validate({ resourceType: 'Coverage', status: 'active', beneficiary: { reference: 'Patient/2' }, payor: [{ display: 'x' }] }))).toEqual([]);
  });
});

describe('an element typed by an element of another profile (elementdefinition-profile-element)', () => {
  it('holds each section slice to the library section it names, and tells the slices apart by its pattern', async () => {
    const folder = path.join(FIXTURES, 'fhir-test-cases/suite/support/document-good_profile_');
    const documents = await createValidator({ version: 'r4', profileFolders: [folder] });
    const profiles = ['http://hl7.org/fhir/test/StructureDefinition/document-structure'];
    const read = (file: string) => parseResource(fixtureText(`fhir-test-cases/suite/validator/${file}`), 'r4');
    expect(describeIssues(errorsOf(documents.validate(read('document-good.xml'), { profiles })))).toBe('');
    // Each section lacks what its library section requires: focus (code A), title (code B), mode (code C).
    const bad = errorsOf(documents.validate(read('document-bad-bad-sections.xml'), { profiles }));
    expect(bad.map((i) => i.expression?.[0]).sort()).toEqual(['Composition.section[0].focus', 'Composition.section[1].title', 'Composition.section[2].mode']);
  });
});

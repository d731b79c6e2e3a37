import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml, toXml } from '../../src/fhir/xml.js';
import { createValidator, type Validator } from '../../src/validation/index.js';
import { describeIssues, errorsOf, FIXTURES, renderTouchstoneDates } from '../validation/support.js';

/**
 * One verdict for the same content in either format. Every fixture is converted to the other format and back
 * (XML by the gateway's reader and writer), and the validator's verdict on both is compared; a refusal by the XML
 * reader counts as "invalid". What the XML form cannot hold (unknown JSON properties, values of the wrong JSON
 * type, nulls, empty arrays) may be lost on the way, but only from JSON the validator refuses anyway.
 */
interface Fixture {
  file: string;
  version: FhirVersion;
  /** The HL7 Java validator's verdict, where the fixture set records it. */
  expected?: Verdict;
}

type Verdict = 'valid' | 'invalid';

const validators = {} as Record<FhirVersion, Validator>;

beforeAll(async () => {
  validators.r4 = await createValidator({ version: 'r4' });
  validators.stu3 = await createValidator({ version: 'stu3' });
}, 60_000);

const listed = (folder: string, extension: string): string[] =>
  readdirSync(path.join(FIXTURES, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(extension))
    .map((file) => path.join(folder, file))
    .sort();

function cases(index: string): Fixture[] {
  const entries = JSON.parse(readFileSync(path.join(FIXTURES, index), 'utf8')) as { file: string; version?: FhirVersion; expected: Verdict }[];
  const folder = path.dirname(index);
  const fixture = ({ file, version, expected }: (typeof entries)[number]): Fixture => ({ file: path.join(folder, file), version: version ?? 'r4', expected });
  return [...new Map(entries.map((entry) => [entry.file, fixture(entry)])).values()];
}

const FIXTURE_SETS: Record<string, Fixture[]> = {
  'Nictiz eOverdracht STU3 examples': listed('eoverdracht-stu3/examples', '.xml').map((file) => ({ file, version: 'stu3' })),
  'nl-core R4 (XML originals and their JSON)': ['zib2020-xml', 'zib2020-json'].flatMap((folder) =>
    listed(`nl-core-r4/${folder}`, folder.slice(-4).replace('-', '.')).map((file) => ({ file, version: 'r4' as const })),
  ),
  'fhir-test-cases': [
    ...cases('fhir-test-cases/cases.json'),
    ...cases('fhir-test-cases/suite/cases.json'),
    ...listed('fhir-test-cases/r4-examples', '.json').map((file) => ({ file, version: 'r4' as const })),
  ],
};

type Read = { resource: Resource } | { refused: string };

function readXml(version: FhirVersion, text: string): Read {
  try {
    return { resource: parseXml(version, text) };
  } catch (error) {
    if (error instanceof OperationOutcomeError) return { refused: describeIssues(error.outcome.issue) };
    throw error;
  }
}

function verdictOf(version: FhirVersion, read: Read): Verdict {
  if ('refused' in read) return 'invalid';
  return errorsOf(validators[version].validate(read.resource)).length > 0 ? 'invalid' : 'valid';
}

/**
 * Content as both formats hold it: XML has one kind of line end (a narrative's CR LF comes back as LF), and
 * `fhir_comments` (DSTU2's JSON form of XML comments) is no content. A single primitive's `null` (beside its `_name`
 * companion) is content XML cannot hold: the JSON is refused, as the HL7 validator refuses it.
 */
function content(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value).replaceAll('\\r\\n', '\\n'), function (this: Record<string, unknown>, key, item: unknown) {
    if (key === 'fhir_comments') return undefined;
    return key.startsWith('_') && isDeepStrictEqual(item, {}) ? undefined : item;
  });
}
const sameContent = (a: unknown, b: unknown) => isDeepStrictEqual(content(a), content(b));

/** JSON as the gateway reads it (a byte order mark is no content); undefined when it is no JSON at all. */
function readJson(text: string): Resource | undefined {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as Resource;
  } catch {
    return undefined;
  }
}

describe.each(Object.entries(FIXTURE_SETS))('%s: the same verdict as XML and as JSON', (_, fixtures) => {
  it.each(fixtures.map((fixture) => [fixture.file, fixture] as const))('%s', (__, { file, version, expected }) => {
    const text = renderTouchstoneDates(readFileSync(path.join(FIXTURES, file), 'utf8'));
    if (file.endsWith('.xml')) {
      const read = readXml(version, text);
      // The reader refuses only what the HL7 validator refuses too (fixtures without its verdict are valid examples).
      if ('refused' in read) {
        expect({ refused: read.refused, expected: expected ?? 'valid' }).toMatchObject({ expected: 'invalid' });
        return;
      }
      const back = readXml(version, toXml(version, read.resource));
      expect(back).toEqual(read);
      return;
    }
    const json = readJson(text);
    if (!json) return; // Not JSON to JSON.parse (comments, trailing commas): nothing to convert.
    const asJson = verdictOf(version, { resource: json });
    const back = readXml(version, toXml(version, json));
    const kept = 'resource' in back && sameContent(json, back.resource);
    if (kept) expect(verdictOf(version, back)).toBe(asJson);
    else expect({ lostOrRefusedInXml: 'refused' in back ? back.refused : 'content lost', asJson }).toMatchObject({ asJson: 'invalid' });
  });
});

describe('XML originals and the JSON made of them', () => {
  const pairs = listed('nl-core-r4', '.xml').map((xml) => [xml, xml.replace('zib2020-xml', 'zib2020-json').replace(/\.xml$/, '.json')] as const);

  it.each(pairs)('%s has the verdict of %s', (xmlFile, jsonFile) => {
    const asXml = verdictOf('r4', readXml('r4', readFileSync(path.join(FIXTURES, xmlFile), 'utf8')));
    const asJson = verdictOf('r4', { resource: JSON.parse(readFileSync(path.join(FIXTURES, jsonFile), 'utf8')) as Resource });
    expect(asXml).toBe(asJson);
  });

  it('a narrative with xml:lang or xml:space is accepted in both formats, and another prefixed attribute refused', () => {
    const verdicts = (attribute: string) => {
      const div = `<div xmlns="http://www.w3.org/1999/xhtml"><p ${attribute}>Hello</p></div>`;
      const xml = `<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/>${div}</text></Patient>`;
      return [verdictOf('r4', readXml('r4', xml)), verdictOf('r4', { resource: { resourceType: 'Patient', text: { status: 'generated', div } } as Resource })];
    };
    expect(verdicts('xml:lang="en"')).toEqual(['valid', 'valid']);
    expect(verdicts("xml:space='preserve' lang=\"en\"")).toEqual(['valid', 'valid']);
    expect(verdicts('xml:base="http://example.org/"')).toEqual(['invalid', 'invalid']);
  });

  it('a Patient with an unknown element, two genders and a bogus attribute is refused in both formats (finding 12)', () => {
    const xml = '<Patient xmlns="http://hl7.org/fhir" bogus="1"><foo/><gender value="male"/><gender value="female"/></Patient>';
    const json = { resourceType: 'Patient', bogus: '1', foo: {}, gender: ['male', 'female'] } as unknown as Resource;
    expect(verdictOf('r4', readXml('r4', xml))).toBe('invalid');
    expect(verdictOf('r4', { resource: json })).toBe('invalid');
  });
});

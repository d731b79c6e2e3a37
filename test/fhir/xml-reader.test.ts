import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { OperationOutcomeError, type OperationOutcomeIssue } from '../../src/fhir/outcome.js';
import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { parseXml, toXml } from '../../src/fhir/xml.js';

const FHIR = 'xmlns="http://hl7.org/fhir"';
const XHTML = 'xmlns="http://www.w3.org/1999/xhtml"';
const DATA_ABSENT = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/** The issues of the refusal, each as "expression: text". */
function refusal(xml: string, version: FhirVersion = 'r4', limits = { maxDepth: 64 }): string[] {
  try {
    parseXml(version, xml, limits);
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    expect(error.outcome.id).toBe('bad-request');
    return error.outcome.issue.map((found: OperationOutcomeIssue) => `${found.expression?.[0] ?? ''}: ${found.details?.text}`);
  }
  throw new Error('the XML was accepted');
}

const patient = (content: string, attributes = '') => `<?xml version="1.0"?>\n<Patient ${FHIR}${attributes}>\n${content}\n</Patient>`;

describe('the XML reader refuses what it cannot represent, naming the FHIR path and the line', () => {
  it('an unknown element, a second single-valued element and an unknown attribute (finding 12)', () => {
    const issues = refusal(patient('<foo/>\n<gender value="male"/>\n<gender value="female"/>', ' bogus="1"'));
    expect(issues).toEqual([
      "Patient: Unknown attribute 'bogus' (line 2)",
      "Patient: Unknown element 'foo' (line 3)",
      "Patient.gender: 'gender' occurs more than once; it may occur at most once (line 5)",
    ]);
  });

  it('an element inside a primitive, such as a script in a name', () => {
    expect(refusal(patient('<name><text value="Jo"><script>alert(1)</script></text></name>'))).toEqual([
      "Patient.name[0].text: Unknown element 'script' (line 3)",
    ]);
  });

  it('an element outside the FHIR namespace', () => {
    expect(refusal(patient('<x:gender xmlns:x="urn:other" value="male"/>'))).toEqual([
      "Patient: Element 'x:gender' is in the namespace urn:other, not http://hl7.org/fhir (line 3)",
    ]);
    expect(refusal('<Patient><active value="true"/></Patient>')[0]).toMatch(/is not a FHIR R4 resource in the http:\/\/hl7.org\/fhir namespace/);
  });

  it('text where none is allowed', () => {
    expect(refusal(patient('<gender value="male">male</gender>'))).toEqual(['Patient.gender: Text is not allowed here (line 3)']);
    expect(refusal(patient('<name><![CDATA[Jo]]></name>'))).toEqual(['Patient.name[0]: Text is not allowed here (line 3)']);
  });

  it('an undeclared entity or a stray ampersand in a value', () => {
    expect(refusal(patient('<name><family value="van&nbsp;Dijk"/></name>'))[0]).toMatch(
      /^Patient.name\[0\].family: '&nbsp;' in @value is not a character reference or one of the five XML entities/,
    );
    expect(refusal(patient('<name><family value="A & B"/></name>'))).toHaveLength(1);
    expect(refusal(patient('<name><family value="&#0;"/></name>'))).toHaveLength(1);
  });

  it('a DOCTYPE (no entity declarations, no expansion)', () => {
    expect(refusal(`<!DOCTYPE Patient [<!ENTITY x "y">]><Patient ${FHIR}/>`)).toEqual([': XML with a DOCTYPE or ENTITY declaration is not allowed']);
  });

  it('two types of one choice element, and an empty primitive', () => {
    expect(refusal(`<Observation ${FHIR}><valueString value="a"/><valueBoolean value="true"/></Observation>`)[0]).toMatch(/both given for value\[x\]/);
    expect(refusal(patient('<gender/>'))).toEqual(["Patient.gender: 'gender' has neither a value nor an extension (line 3)"]);
    expect(refusal(patient('<!-- a comment is no value --><gender/>'))).toHaveLength(1);
  });

  it.each([
    ['a script', '<script>alert(1)</script>'],
    ['an event attribute', '<p onclick="alert(1)">x</p>'],
    ['a form', '<form action="https://example.org"><input name="q"/></form>'],
    ['an iframe', '<iframe src="https://example.org"/>'],
    ['an HTML entity', 'a&nbsp;b'],
  ])('a narrative with %s', (_, content) => {
    const xml = patient(`<text><status value="generated"/><div ${XHTML}>${content}</div></text>`);
    expect(refusal(xml)).toEqual([expect.stringMatching(/^Patient.text.div: The narrative is not in the XHTML subset FHIR allows .*\(line 3\)$/)]);
  });

  it('elements nested deeper than limits.jsonDepth, without overflowing on very deep input', () => {
    const nested = (depth: number) => `${'<extension url="urn:x">'.repeat(depth)}<valueString value="x"/>${'</extension>'.repeat(depth)}`;
    // Patient and ten extensions: eleven levels (a self-closing element counts as none, as in http/xml-depth.ts).
    expect(parseXml('r4', patient(nested(10)), { maxDepth: 11 })).toMatchObject({ resourceType: 'Patient' });
    expect(refusal(patient(nested(10)), 'r4', { maxDepth: 10 })).toEqual([': Elements nested deeper than 10 levels exceed limits.jsonDepth (10)']);
    const deep = parseXml('r4', patient(nested(20_000)), { maxDepth: 30_000 }) as Resource & { extension: unknown[] };
    expect(deep.extension).toHaveLength(1);
  });
});

describe('the XML reader gives what the JSON form holds', () => {
  it('a primitive that carries only an extension (data-absent-reason)', () => {
    const xml = patient(`<birthDate><extension url="${DATA_ABSENT}"><valueCode value="unknown"/></extension></birthDate>`);
    expect(parseXml('stu3', xml)).toEqual({ resourceType: 'Patient', _birthDate: { extension: [{ url: DATA_ABSENT, valueCode: 'unknown' }] } });
  });

  it('repeating primitives with gaps, and ids on primitives', () => {
    const xml = patient(
      `<name><given value="Jo"/><given id="g2"><extension url="${DATA_ABSENT}"><valueCode value="masked"/></extension></given><given value="Ann"/></name><gender id="s" value="female"/>`,
    );
    expect(parseXml('r4', xml)).toEqual({
      resourceType: 'Patient',
      name: [{ given: ['Jo', null, 'Ann'], _given: [null, { id: 'g2', extension: [{ url: DATA_ABSENT, valueCode: 'masked' }] }, null] }],
      gender: 'female',
      _gender: { id: 's' },
    });
  });

  it('numbers and booleans by type; a value not of its type stays a string for the validator to refuse', () => {
    const xml = `<Observation ${FHIR}><status value="final"/><valueQuantity><value value="-0.0100"/></valueQuantity><component><valueBoolean value="true"/></component><component><valueInteger value="012"/></component></Observation>`;
    expect(parseXml('r4', xml)).toMatchObject({ valueQuantity: { value: -0.01 }, component: [{ valueBoolean: true }, { valueInteger: '012' }] });
  });

  it('a decimal is exactly the number JSON gives the same digits', () => {
    const digits = fc.tuple(fc.boolean(), fc.stringMatching(/^(0|[1-9][0-9]{0,20})$/), fc.option(fc.stringMatching(/^[0-9]{1,20}$/)), fc.option(fc.integer({ min: -30, max: 30 })));
    fc.assert(
      fc.property(digits, ([negative, whole, fraction, exponent]) => {
        const literal = `${negative ? '-' : ''}${whole}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : `e${exponent}`}`;
        const read = parseXml('r4', `<Observation ${FHIR}><valueQuantity><value value="${literal}"/></valueQuantity></Observation>`) as Resource & { valueQuantity: { value: number } };
        expect(Object.is(read.valueQuantity.value, JSON.parse(literal))).toBe(true);
      }),
    );
  });

  it('attribute values as XML defines them: references resolved, literal line ends as spaces', () => {
    const xml = patient('<name><text value="A &amp; B&#10;&#x1F600;\nC"/></name>');
    expect(parseXml('r4', xml)).toEqual({ resourceType: 'Patient', name: [{ text: 'A & B\n\u{1F600} C' }] });
  });

  it('a byte order mark, comments around the root, processing instructions and an xsi:schemaLocation are no content', () => {
    const xml = `\uFEFF<?xml version="1.0"?><!-- c --><Patient ${FHIR} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir patient.xsd"><?pi x?><active value="true"/></Patient><!-- c -->`;
    expect(parseXml('r4', xml)).toEqual({ resourceType: 'Patient', active: true });
  });

  it('the FHIR namespace under a prefix', () => {
    expect(parseXml('r4', '<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="true"/></f:Patient>')).toEqual({ resourceType: 'Patient', active: true });
  });
});

describe('XML written and read back', () => {
  const div = `<div ${XHTML}>\n  <p>Jo <b>van Dijk</b> &amp; <a name="x"> </a></p>\n</div>`;

  it.each<[FhirVersion, Resource]>([
    [
      'r4',
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:1',
            resource: {
              resourceType: 'Patient',
              text: { status: 'generated', div },
              contained: [{ resourceType: 'Organization', id: 'o', name: 'Zorg & Co' }],
              name: [{ given: ['Jo', null, 'Ann'], _given: [null, { extension: [{ url: DATA_ABSENT, valueCode: 'masked' }] }, null] }],
              _birthDate: { extension: [{ url: DATA_ABSENT, valueCode: 'unknown' }] },
              managingOrganization: { reference: '#o' },
            } as Resource,
            request: { method: 'POST', url: 'Patient' },
          },
          {
            resource: {
              resourceType: 'Parameters',
              parameter: [{ name: 'p', resource: { resourceType: 'Basic', id: 'b', code: { text: 'x' } }, part: [{ name: 'q', valueDecimal: 1.25 }] }],
            } as Resource,
            request: { method: 'POST', url: 'Parameters' },
          },
        ],
      } as Resource,
    ],
    [
      'stu3',
      {
        resourceType: 'Observation',
        id: 'o1',
        _id: { extension: [{ url: 'urn:x', valueString: 'y' }] },
        text: { status: 'generated', div },
        contained: [{ resourceType: 'Patient', id: 'p', gender: 'female' }],
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
        subject: { reference: '#p' },
        valueQuantity: { value: 72.5, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
      } as Resource,
    ],
    [
      'stu3',
      {
        resourceType: 'Bundle',
        type: 'batch-response',
        entry: [
          {
            resource: { resourceType: 'Parameters', parameter: [{ name: 'r', resource: { resourceType: 'Patient', birthDate: '1950-01-02' } }] },
            response: { status: '200', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] } },
          },
        ],
      } as Resource,
    ],
  ])('keeps %s contained resources, entry and parameter resources, companions and the narrative as they were', (version, resource) => {
    expect(parseXml(version, toXml(version, resource))).toEqual(resource);
  });
});

describe('an outcome with several issues', () => {
  it('lists them in document order, whatever the order of reading', () => {
    const issues = refusal(patient('<name><foo/></name>\n<name><given value="a"><bar/></given></name>\n<baz/>'));
    expect(issues.map((text) => text.slice(text.indexOf("'"), text.indexOf("'", text.indexOf("'") + 1) + 1))).toEqual(["'foo'", "'bar'", "'baz'"]);
  });
});

describe('XML comments', () => {
  it('are kept as fhir_comments of the element they precede, as FHIR.js kept them, both ways', () => {
    const xml = patient('<!-- checked --><active value="true"/><name><!--  two -- dashes -->\n<family value="x"/></name><!-- c --><contained><Basic><code><text value="b"/></code></Basic></contained>');
    const resource = parseXml('r4', xml);
    expect(resource).toEqual({
      resourceType: 'Patient',
      active: true,
      _active: { fhir_comments: [' checked '] },
      name: [{ family: 'x', _family: { fhir_comments: ['  two -- dashes '] } }],
      contained: [{ resourceType: 'Basic', fhir_comments: [' c '], code: { text: 'b' } }],
    });
    expect(parseXml('r4', toXml('r4', resource))).toEqual({ ...resource, name: [{ family: 'x', _family: { fhir_comments: ['  two - - dashes '] } }] });
  });
});

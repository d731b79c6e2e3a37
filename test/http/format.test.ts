import { describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { parseBody, responseFormat, serialize } from '../../src/http/format.js';

const limits = { maxDepth: 16 };
const patientXml = '<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><active value="true"/></Patient>';

describe('responseFormat', () => {
  it('defaults to JSON', () => {
    expect(responseFormat(undefined, undefined)).toBe('json');
    expect(responseFormat(undefined, '*/*')).toBe('json');
  });

  it.each([
    ['json', 'json'],
    ['xml', 'xml'],
    ['application/fhir+xml', 'xml'],
    ['application/fhir xml', 'xml'],
    ['application/xml+fhir', 'xml'],
    ['text/xml', 'xml'],
    ['application/json', 'json'],
  ])('_format=%s gives %s', (value, format) => {
    expect(responseFormat(value, 'application/fhir+json')).toBe(format);
  });

  it('takes the most preferred Accept range it serves', () => {
    expect(responseFormat(undefined, 'text/html;q=0.9, application/fhir+xml;fhirVersion=4.0;q=0.8, */*;q=0.1')).toBe('xml');
    expect(responseFormat(undefined, 'application/fhir+xml;q=0.5, application/fhir+json')).toBe('json');
    expect(responseFormat(undefined, 'application/fhir+xml;q=0, application/*')).toBe('json');
  });

  it('answers 406 outcomes for formats it cannot produce', () => {
    expect(responseFormat('html', undefined)).toMatchObject({ resourceType: 'OperationOutcome', id: 'not-acceptable' });
    expect(responseFormat(undefined, 'image/png')).toMatchObject({ id: 'not-acceptable' });
  });
});

describe('parseBody', () => {
  const body = (text: string) => Buffer.from(text);

  it('reads FHIR JSON and XML into the same resource', () => {
    const fromXml = parseBody(body(patientXml), 'application/fhir+xml; charset=utf-8', 'r4', limits);
    const fromJson = parseBody(body('{"resourceType":"Patient","id":"p1","active":true}'), 'application/fhir+json', 'r4', limits);
    expect(fromXml).toEqual({ kind: 'resource', resource: { resourceType: 'Patient', id: 'p1', active: true } });
    expect(fromJson).toEqual(fromXml);
  });

  it('judges a body without Content-Type by its first character', () => {
    expect(parseBody(body(`  ${patientXml}`), undefined, 'stu3', limits)).toMatchObject({ resource: { id: 'p1' } });
  });

  it('reads form parameters for _search', () => {
    expect(parseBody(body('status=requested&owner=Organization/1&status=received'), 'application/x-www-form-urlencoded', 'r4', limits)).toEqual({
      kind: 'form',
      values: { status: ['requested', 'received'], owner: 'Organization/1' },
    });
  });

  it('refuses other media types with 415', () => {
    let refusal: unknown;
    try {
      parseBody(body('x'), 'text/plain', 'r4', limits);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(OperationOutcomeError);
    expect((refusal as OperationOutcomeError).outcome.id).toBe('unsupported-media-type');
  });

  it('applies the depth and key checks to XML too', () => {
    const xml = '<Patient xmlns="http://hl7.org/fhir"><contact><name><family value="x"/></name></contact></Patient>';
    expect(() => parseBody(body(xml), 'application/fhir+xml', 'r4', { maxDepth: 2 })).toThrow(/deeper than 2/);
  });

  it('refuses XML it cannot represent with a 400 outcome naming the FHIR path and the line (finding 12)', () => {
    const xml = '<Patient xmlns="http://hl7.org/fhir">\n<gender value="male"/>\n<gender value="female"/>\n</Patient>';
    let refusal: unknown;
    try {
      parseBody(body(xml), 'application/fhir+xml', 'r4', limits);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(OperationOutcomeError);
    expect((refusal as OperationOutcomeError).outcome).toMatchObject({
      id: 'bad-request',
      issue: [{ severity: 'error', expression: ['Patient.gender'], details: { text: expect.stringContaining('(line 3)') } }],
    });
  });

  it('has nothing to parse in an empty body', () => {
    expect(parseBody(Buffer.alloc(0), 'application/fhir+json', 'r4', limits)).toEqual({ kind: 'none' });
  });
});

describe('serialize', () => {
  it('writes XML that reads back as the same resource', () => {
    const resource = { resourceType: 'Patient', id: 'p1', active: true };
    const xml = serialize(resource, 'xml', 'r4', false);
    expect(xml).toContain('<Patient xmlns="http://hl7.org/fhir">');
    expect(parseBody(Buffer.from(xml), 'application/fhir+xml', 'r4', limits)).toEqual({ kind: 'resource', resource });
  });

  it('writes the narrative exactly as it is held', () => {
    const div = '<div xmlns="http://www.w3.org/1999/xhtml">\n  <p>Jo <a name="x"> </a></p>\n</div>';
    const resource = { resourceType: 'Patient', text: { status: 'generated', div } };
    expect(serialize(resource, 'xml', 'r4', false)).toContain(div);
  });
});

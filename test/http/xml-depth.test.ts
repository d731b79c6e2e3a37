import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { xmlNestsDeeperThan } from '../../src/http/xml-depth.js';

const nested = (depth: number) => '<a>'.repeat(depth) + '</a>'.repeat(depth);

describe('xmlNestsDeeperThan', () => {
  it('counts element nesting, up to and past the limit', () => {
    expect(xmlNestsDeeperThan(nested(3), 3)).toBe(false);
    expect(xmlNestsDeeperThan(nested(4), 3)).toBe(true);
  });

  it('counts siblings once and self-closing elements not at all', () => {
    expect(xmlNestsDeeperThan('<Patient><name><family value="x"/></name><name><given value="y"/></name></Patient>', 2)).toBe(false);
    expect(xmlNestsDeeperThan('<Patient><name><family><extension/></family></name></Patient>', 2)).toBe(true);
  });

  it('skips declarations, comments, CDATA and quoted attribute values', () => {
    const xml =
      '<?xml version="1.0"?><!-- <a><a><a> --><Patient xmlns="http://hl7.org/fhir"><text value="a > b"/>' +
      "<div><![CDATA[<a><a><a>]]></div><note value='<a><a>'/></Patient>";
    expect(xmlNestsDeeperThan(xml, 2)).toBe(false);
  });

  it('agrees with the nesting it is given', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 200 }), (depth, limit) => {
        expect(xmlNestsDeeperThan(`<root xmlns="x">${nested(depth)}</root>`, limit)).toBe(depth + 1 > limit);
      }),
    );
  });

  it('leaves malformed text to the parser', () => {
    expect(xmlNestsDeeperThan('<a><b attr="never closed', 1)).toBe(false);
    expect(xmlNestsDeeperThan('not xml at all', 1)).toBe(false);
  });
});

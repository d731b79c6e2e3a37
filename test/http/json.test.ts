import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseJson } from '../../src/fhir/json.js';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';

const limits = { maxDepth: 8 };

function refusal(text: string): OperationOutcomeError {
  try {
    parseJson(text, limits);
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text}`);
}

describe('parseJson', () => {
  it('parses a resource', () => {
    expect(parseJson('{"resourceType":"Patient","name":[{"family":"Jansen"}]}', limits)).toEqual({
      resourceType: 'Patient',
      name: [{ family: 'Jansen' }],
    });
  });

  it('refuses malformed JSON as a bad request', () => {
    const error = refusal('{"resourceType":');
    expect(error.outcome.id).toBe('bad-request');
    expect(error.outcome.issue[0].details?.text).toMatch(/Malformed JSON/);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s anywhere, naming where', (key) => {
    const error = refusal(`{"resourceType":"Patient","contact":[{"name":{"${key}":{"polluted":true}}}]}`);
    expect(error.outcome.id).toBe('bad-request');
    expect(error.outcome.issue[0].expression).toEqual([`Patient.contact[0].name.${key}`]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('sees a forbidden key written with escapes', () => {
    expect(refusal('{"\\u005f_proto__":{}}').outcome.issue[0].expression).toEqual(['$this.__proto__']);
  });

  it('refuses nesting beyond the limit and accepts it up to the limit', () => {
    const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
    expect(() => parseJson(nested(limits.maxDepth), limits)).not.toThrow();
    expect(refusal(nested(limits.maxDepth + 1)).outcome.issue[0].details?.text).toMatch(/deeper than 8/);
  });

  it('survives a million levels of nesting without overflowing the stack', () => {
    const deep = '{"a":'.repeat(1_000_000) + '1' + '}'.repeat(1_000_000);
    expect(refusal(deep).outcome.id).toBe('bad-request');
  });

  it('either parses or refuses with a bad-request outcome, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parseJson(text, limits);
        } catch (error) {
          expect(error).toBeInstanceOf(OperationOutcomeError);
          expect((error as OperationOutcomeError).outcome.id).toBe('bad-request');
        }
      }),
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { convertResource, isConvertible } from '../../src/fhir/convert/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { baseR4Errors, deepFreeze, eOverdrachtExamples, gatewayErrors, nlCoreExamples } from './support.js';

/**
 * The converter against real material: every Nictiz eOverdracht STU3 example and every nl-core R4 example of a
 * convertible type makes the round trip unchanged, and what it writes passes validation in the other release
 * (@medplum/core's base R4 validation, and the gateway's own validator for R4 and STU3).
 * There are no documented differences: all of them come back deep-equal.
 */
const examples = eOverdrachtExamples();
const toR4 = (resource: Resource) => convertResource(resource, { from: 'stu3', to: 'r4' });
const toStu3 = (resource: Resource) => convertResource(resource, { from: 'r4', to: 'stu3' });

describe('the Nictiz eOverdracht STU3 examples', () => {
  it('are all there (Task, AdvanceNotice, NursingHandoff and what they reference)', () => {
    expect(examples.length).toBeGreaterThanOrEqual(30);
    expect(new Set(examples.map((e) => e.resource.resourceType))).toEqual(
      new Set(['Task', 'Composition', 'Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'Condition', 'Observation', 'Procedure', 'Coverage', 'DiagnosticReport']),
    );
  });

  it.each(examples.map((e) => [e.name, e] as const))('%s: STU3 → R4 → STU3 gives the original back', (_name, example) => {
    const original = deepFreeze(structuredClone(example.resource));
    const r4 = deepFreeze(toR4(original));
    expect(toStu3(r4)).toEqual(example.resource);
  });

  it.each(examples.map((e) => [e.name, e] as const))('%s: the R4 conversion passes base R4 validation', async (_name, example) => {
    const r4 = toR4(example.resolved);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(await gatewayErrors('r4', r4)).toEqual([]);
  });

  it('convert as one transaction Bundle, entry by entry', async () => {
    const bundle: Resource = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: examples.map(({ resolved }, i) => ({
        fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        resource: resolved,
        request: { method: 'POST', url: resolved.resourceType },
      })),
    };
    const r4 = toR4(bundle);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(await gatewayErrors('r4', r4)).toEqual([]);
    expect((r4.entry as { resource: Resource }[]).map((e) => e.resource)).toEqual(examples.map((e) => toR4(e.resolved)));
    expect(toStu3(r4)).toEqual(bundle);
  });
});

describe('the nl-core zib2020 R4 examples', () => {
  const all = nlCoreExamples();
  const convertible = all.filter((e) => isConvertible(e.resource.resourceType));

  it('of the convertible types are most of them', () => {
    expect(convertible.length).toBeGreaterThanOrEqual(33);
  });

  it.each(convertible.map((e) => [e.name, e.resource] as const))('%s: R4 → STU3 → R4 gives the original back', (_name, resource) => {
    const stu3 = deepFreeze(toStu3(deepFreeze(structuredClone(resource))));
    expect(stu3.resourceType).toBe(resource.resourceType);
    expect(toR4(stu3)).toEqual(resource);
  });

  it.each(convertible.map((e) => [e.name, e.resource] as const))('%s: the STU3 conversion passes STU3 validation', async (_name, resource) => {
    expect(await gatewayErrors('stu3', toStu3(resource))).toEqual([]);
  });

  it.each(all.filter((e) => !isConvertible(e.resource.resourceType)).map((e) => [e.name, e.resource] as const))(
    '%s: a type the gateway does not convert is refused with an OperationOutcome',
    (_name, resource) => {
      expect(() => toStu3(resource)).toThrow(expect.objectContaining({ outcome: expect.objectContaining({ id: 'unprocessable' }) }));
    },
  );
});

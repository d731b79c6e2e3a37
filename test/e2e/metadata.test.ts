import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { operationDefinitions } from '../../src/rest/operations/definitions.js';
import { hasErrors } from '../../src/fhir/outcome.js';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import type { FhirVersion } from '../../src/fhir/version.js';
import { createValidator } from '../../src/validation/index.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';

/** The CapabilityStatements the gateway generates are valid FHIR of their release and describe what is wired. */
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway();
});
afterAll(async () => {
  await gateway?.close();
});

interface Statement {
  fhirVersion: string;
  rest: {
    resource: { type: string; searchParam: { name: string }[]; interaction: { code: string }[] }[];
    operation: { name: string }[];
    interaction: { code: string }[];
  }[];
}

describe.each([
  ['r4', '/fhir', '4.0.1'],
  ['stu3', '/fhir/stu3', '3.0.2'],
] as [FhirVersion, string, string][])('%s metadata', (version, base, fhirVersion) => {
  it('validates against the release, without errors', async () => {
    const response = await request(gateway.url).get(`${base}/metadata`);
    const result = (await createValidator({ version })).validate(response.body);
    expect(result.issue.filter((issue) => issue.severity === 'error')).toEqual([]);
    expect(hasErrors(result)).toBe(false);
  });

  it('lists every served type with its search parameters, the system interactions and the operations', async () => {
    const statement = (await request(gateway.url).get(`${base}/metadata`)).body as Statement;
    expect(statement.fhirVersion).toBe(fhirVersion);
    const [rest] = statement.rest;
    // The audit trail is R4 AuditEvents (docs/auth.md): the STU3 base serves none.
    const served = version === 'r4' ? RESOURCE_TYPES : RESOURCE_TYPES.filter((type) => type !== 'AuditEvent');
    expect(rest.resource.map((resource) => resource.type)).toEqual([...served]);
    const task = rest.resource.find((resource) => resource.type === 'Task')!;
    expect(task.searchParam.map((parameter) => parameter.name)).toEqual(expect.arrayContaining(['_id', '_lastUpdated', 'identifier', 'status', 'owner', 'patient']));
    expect(rest.interaction.map((interaction) => interaction.code).sort()).toEqual(['batch', 'transaction']);
    expect(rest.operation.map((operation) => operation.name)).toContain('validate');
  });
});

describe('operations', () => {
  it('every OperationDefinition in conformance/ is served on a base, and every served operation has one', async () => {
    const listed = new Set<string>();
    for (const base of ['/fhir', '/fhir/stu3']) {
      const [rest] = ((await request(gateway.url).get(`${base}/metadata`)).body as OperationLists).rest;
      const entries = [...(rest.operation ?? []), ...rest.resource.flatMap((resource) => resource.operation ?? [])];
      for (const { definition } of entries) listed.add(typeof definition === 'string' ? definition : definition.reference);
    }
    expect([...listed].sort()).toEqual([...operationDefinitions().values()].map((definition) => definition.url).sort());
  });
});

type OperationEntry = { name: string; definition: string | { reference: string } };
interface OperationLists {
  rest: { operation?: OperationEntry[]; resource: { operation?: OperationEntry[] }[] }[];
}

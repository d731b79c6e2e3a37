import { describe, expect, it } from '@jest/globals';
import { capabilityStatement, type CapabilityInput } from '../../src/rest/capability.js';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';
import { FHIR_ROUTES } from '../../src/rest/routes.js';
import type { FhirVersion } from '../../src/fhir/version.js';
import { subscriptionRoutes } from '../../src/subscriptions/routes.js';
import { transferRoutes } from '../../src/transfer/operations.js';

function input(version: FhirVersion): CapabilityInput {
  return {
    version,
    baseUrl: 'https://gw.test/fhir',
    software: { name: 'vervolgzorg-gateway', version: '0.1.0' },
    routes: FHIR_ROUTES,
    resourceTypes: RESOURCE_TYPES,
    searchParameters: (type) =>
      type === 'Task'
        ? [
            { name: 'status', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Task-status' },
            { name: 'owner', type: 'reference', target: ['Organization'] },
          ]
        : [],
    profiles: [{ url: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task', type: 'Task' }],
    tokenEndpoint: 'https://gw.test/oauth2/token',
    date: '2025-01-01T00:00:00Z',
  };
}

type Capability = {
  fhirVersion: string;
  rest: {
    resource: { type: string; interaction: { code: string }[]; searchParam: unknown[]; searchInclude: string[]; supportedProfile?: string[] }[];
    interaction: { code: string }[];
    operation: { name: string; definition: unknown }[];
  }[];
  profile?: unknown;
};

describe('capabilityStatement', () => {
  it('lists the interactions the route table wires, for every served type', () => {
    const statement = capabilityStatement(input('r4')) as unknown as Capability;
    expect(statement.fhirVersion).toBe('4.0.1');
    const [rest] = statement.rest;
    expect(rest.resource.map((resource) => resource.type)).toEqual([...RESOURCE_TYPES]);
    const task = rest.resource.find((resource) => resource.type === 'Task')!;
    expect(task.interaction.map((interaction) => interaction.code).sort()).toEqual(
      ['create', 'delete', 'history-instance', 'history-type', 'read', 'search-type', 'update', 'vread'].sort(),
    );
    expect(rest.interaction.map((interaction) => interaction.code).sort()).toEqual(['batch', 'transaction']);
    expect(rest.operation).toEqual([{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }]);
  });

  it('offers the audit trail read-only, on the R4 base alone', () => {
    const audit = (version: FhirVersion) =>
      (capabilityStatement(input(version)) as unknown as Capability).rest[0].resource.find((resource) => resource.type === 'AuditEvent');
    expect(audit('r4')).toMatchObject({ readHistory: false, updateCreate: false });
    expect(audit('r4')!.interaction.map((interaction) => interaction.code).sort()).toEqual(['read', 'search-type', 'vread']);
    expect(audit('r4')!.searchInclude).toBeUndefined();
    expect(audit('stu3')).toBeUndefined();
  });

  it('describes search parameters, includes and profiles per type', () => {
    const [rest] = (capabilityStatement(input('r4')) as unknown as Capability).rest;
    const task = rest.resource.find((resource) => resource.type === 'Task')!;
    expect(task.searchParam).toEqual([
      { name: 'status', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Task-status' },
      { name: 'owner', type: 'reference' },
    ]);
    expect(task.searchInclude).toEqual(['Task:owner', 'Task:owner:Organization']);
    expect(task.supportedProfile).toEqual(['http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task']);
  });

  it('speaks STU3 where the releases differ', () => {
    const statement = capabilityStatement(input('stu3')) as unknown as Capability & { acceptUnknown: string };
    expect(statement.fhirVersion).toBe('3.0.2');
    expect(statement.acceptUnknown).toBe('no');
    expect(statement.profile).toEqual([{ reference: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task' }]);
    expect(statement.rest[0].operation[0].definition).toEqual({ reference: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' });
    expect(statement.rest[0].resource.find((resource) => resource.type === 'Task')!.supportedProfile).toBeUndefined();
  });

  it('takes operations from their OperationDefinitions: R4 lists type and instance ones under their resource, STU3 all under rest', () => {
    const routes = [...FHIR_ROUTES, ...transferRoutes({} as never), ...subscriptionRoutes({} as never)];
    const [r4] = (capabilityStatement({ ...input('r4'), routes }) as unknown as Capability).rest;
    const names = (entries: { name: string }[] | undefined) => (entries ?? []).map((entry) => entry.name).sort();
    const operationsOf = (type: string) => (r4.resource.find((resource) => resource.type === type) as { operation?: { name: string }[] }).operation;
    expect(names(r4.operation)).toEqual(['offer', 'validate']);
    expect(names(operationsOf('Subscription'))).toEqual(['events', 'resend', 'status']);
    expect(operationsOf('Task')).toEqual([
      { name: 'handoff', definition: 'https://vervolgzorg-gateway.example/fhir/OperationDefinition/eoverdracht-handoff' },
      { name: 'pull', definition: 'https://vervolgzorg-gateway.example/fhir/OperationDefinition/eoverdracht-pull' },
    ]);
    expect(operationsOf('Composition')).toEqual([{ name: 'document', definition: 'http://hl7.org/fhir/OperationDefinition/Composition-document' }]);
    expect(operationsOf('Patient')).toBeUndefined();
    const [stu3] = (capabilityStatement({ ...input('stu3'), routes }) as unknown as Capability).rest;
    expect(names(stu3.operation)).toEqual(['document', 'events', 'handoff', 'offer', 'pull', 'resend', 'status', 'validate']);
    expect(stu3.resource.every((resource) => !('operation' in resource))).toBe(true);
  });
});

import type { OperationDefinition } from 'fhir/r4.js';
import type { LoadedProfile } from '../validation/index.js';
import { READ_ONLY_TYPES } from '../fhir/resource-types.js';
import type { RouteDefinition } from './router.js';
import { FHIR_RELEASE, type FhirVersion, type Resource } from '../fhir/version.js';

/**
 * The CapabilityStatement of one FHIR base, generated from what is wired: the route table (interactions, and
 * operations with the OperationDefinitions their handlers read their parameters by), the resource types the router
 * accepts, the search parameters the search layer knows per type and the profiles the validator knows. Nothing here
 * is kept by hand.
 */
export interface SearchParameterSummary {
  name: string;
  type: string;
  definition?: string;
  documentation?: string;
  /** For reference parameters: the types it may point to (`_include` targets). */
  target?: string[];
}

export interface CapabilityInput {
  version: FhirVersion;
  baseUrl: string;
  software: { name: string; version: string };
  routes: readonly RouteDefinition[];
  resourceTypes: readonly string[];
  searchParameters(resourceType: string): SearchParameterSummary[];
  profiles: LoadedProfile[];
  /** The OAuth 2 token endpoint that issues the bearer tokens every non-public route requires. */
  tokenEndpoint: string;
  date: string;
}

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];
const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'search-system', 'history-system'];

export const FORMATS = ['application/fhir+json', 'application/fhir+xml', 'json', 'xml'];

export function capabilityStatement(input: CapabilityInput): Resource {
  const { version } = input;
  const interactionsOf = (codes: string[]) => [...new Set(input.routes.flatMap((route) => route.interactions))].filter((code) => codes.includes(code));
  const typeInteractions = interactionsOf(TYPE_INTERACTIONS).map((code) => ({ code }));
  const operations = routedOperations(input.routes);
  const rest = withoutEmpty({
    mode: 'server',
    documentation: `FHIR ${FHIR_RELEASE[version]} base of the vervolgzorg gateway; every interaction except metadata needs a bearer token.`,
    security: security(version, input.tokenEndpoint),
    resource: input.resourceTypes.flatMap((type) => {
      const readOnly = READ_ONLY_TYPES[type];
      if (!readOnly) return [resourceCapability(input, type, typeInteractions, operations)];
      if (!readOnly.versions.includes(version)) return [];
      return [resourceCapability(input, type, typeInteractions.filter(({ code }) => readOnly.interactions.includes(code)), operations, true)];
    }),
    interaction: interactionsOf(SYSTEM_INTERACTIONS).map((code) => ({ code })),
    operation: operations.filter((definition) => definition.system || version === 'stu3').map((definition) => operationEntry(version, definition)),
  });
  return withoutEmpty({
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: input.date,
    publisher: input.software.name,
    kind: 'instance',
    software: input.software,
    implementation: { description: `${input.software.name} (${version.toUpperCase()})`, url: input.baseUrl },
    fhirVersion: FHIR_RELEASE[version],
    acceptUnknown: version === 'stu3' ? 'no' : undefined,
    format: FORMATS,
    profile: version === 'stu3' ? input.profiles.map((profile) => ({ reference: profile.url })) : undefined,
    rest: [rest],
  });
}

function routedOperations(routes: readonly RouteDefinition[]): OperationDefinition[] {
  return [...new Set(routes.flatMap((route) => (route.operation ? [route.operation] : [])))];
}

/**
 * A type's own operations (R4 `rest.resource.operation`): those invoked on the type or an instance of it; `Resource`-wide
 * ones are listed once, under `rest.operation`. STU3 has no `resource.operation`: there every operation is under rest.
 */
function operationsOf(type: string, operations: OperationDefinition[]): OperationDefinition[] {
  return operations.filter((definition) => (definition.type || definition.instance) && definition.resource?.includes(type));
}

function operationEntry(version: FhirVersion, definition: OperationDefinition) {
  return { name: definition.code, definition: canonical(version, definition.url!) };
}

/** `readOnly`: a type the gateway writes itself (READ_ONLY_TYPES): no writes, no history, no _include. */
function resourceCapability(input: CapabilityInput, type: string, interaction: { code: string }[], operations: OperationDefinition[], readOnly = false) {
  const searchParam = input.searchParameters(type);
  const profiles = input.profiles.filter((profile) => profile.type === type).map((profile) => profile.url);
  return withoutEmpty({
    type,
    interaction,
    versioning: 'versioned',
    readHistory: !readOnly,
    updateCreate: !readOnly,
    conditionalCreate: !readOnly,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchInclude: searchParam
      .filter((parameter) => !readOnly && parameter.type === 'reference')
      .flatMap((parameter) => [`${type}:${parameter.name}`, ...(parameter.target ?? []).map((target) => `${type}:${parameter.name}:${target}`)]),
    searchParam: searchParam.map(({ name, type: parameterType, definition, documentation }) =>
      withoutEmpty({ name, type: parameterType, definition, documentation }),
    ),
    supportedProfile: input.version === 'r4' ? profiles : undefined,
    operation: input.version === 'r4' ? operationsOf(type, operations).map((definition) => operationEntry(input.version, definition)) : undefined,
  });
}

/** R4 canonicals are plain URLs; STU3 points at an OperationDefinition with a Reference. */
function canonical(version: FhirVersion, url: string): string | { reference: string } {
  return version === 'r4' ? url : { reference: url };
}

function security(version: FhirVersion, tokenEndpoint: string) {
  const system = version === 'r4' ? 'http://terminology.hl7.org/CodeSystem/restful-security-service' : 'http://hl7.org/fhir/restful-security-service';
  return {
    cors: false,
    service: [{ coding: [{ system, code: 'OAuth' }], text: 'Nuts-style JWT bearer grant (RFC 7523)' }],
    description: `Bearer access tokens from ${tokenEndpoint} (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer).`,
  };
}

/** FHIR JSON has no empty arrays and no nulls: such properties are left out. */
function withoutEmpty<T extends object>(value: T): T {
  return Object.fromEntries(
    Object.entries(value).filter(([, field]) => field !== undefined && !(Array.isArray(field) && field.length === 0)),
  ) as T;
}

import type { FhirVersion, Resource } from '../../src/fhir/version.js';

/**
 * The parts of a TestScript (STU3 3.0.2 and R4 4.0.1 name them alike) the runner reads, as FHIR JSON. A script is
 * read as a resource of its release, so its elements are FHIR's own; what the runner does not carry out is refused
 * by plan.ts before anything is sent.
 */
export interface Coding {
  system?: string;
  code?: string;
}

export interface Extension {
  url: string;
  extension?: Extension[];
  valueString?: string;
  valueId?: string;
  valueBoolean?: boolean;
  [key: string]: unknown;
}

export interface RequestHeader {
  field: string;
  value: string;
}

export interface Operation {
  extension?: Extension[];
  type?: Coding;
  resource?: string;
  label?: string;
  description?: string;
  accept?: string;
  contentType?: string;
  destination?: number;
  origin?: number;
  encodeRequestUrl?: boolean;
  method?: string;
  params?: string;
  url?: string;
  requestHeader?: RequestHeader[];
  requestId?: string;
  responseId?: string;
  sourceId?: string;
  targetId?: string;
}

export interface Assert {
  extension?: Extension[];
  label?: string;
  description?: string;
  direction?: 'request' | 'response';
  compareToSourceId?: string;
  compareToSourceExpression?: string;
  compareToSourcePath?: string;
  contentType?: string;
  expression?: string;
  headerField?: string;
  minimumId?: string;
  navigationLinks?: boolean;
  operator?: string;
  path?: string;
  requestMethod?: string;
  requestURL?: string;
  resource?: string;
  response?: string;
  responseCode?: string;
  sourceId?: string;
  validateProfileId?: string;
  value?: string;
  warningOnly?: boolean;
  stopTestOnFail?: boolean;
}

export interface Action {
  operation?: Operation;
  assert?: Assert;
}

export interface TestPart {
  name?: string;
  description?: string;
  action: Action[];
}

export interface Variable {
  name: string;
  defaultValue?: string;
  description?: string;
  expression?: string;
  headerField?: string;
  hint?: string;
  path?: string;
  sourceId?: string;
}

export interface FixtureDeclaration {
  id: string;
  autocreate?: boolean;
  autodelete?: boolean;
  resource?: { reference?: string };
}

export interface ServerRole {
  index: number;
  extension?: Extension[];
  profile?: Coding;
}

export interface TestScript extends Resource {
  resourceType: 'TestScript';
  name?: string;
  title?: string;
  extension?: Extension[];
  contained?: Resource[];
  origin?: ServerRole[];
  destination?: ServerRole[];
  fixture?: FixtureDeclaration[];
  profile?: { id?: string; reference?: string; value?: string }[];
  variable?: Variable[];
  setup?: { action: Action[] };
  test?: TestPart[];
  teardown?: { action: { operation: Operation }[] };
}

/** A TestScript as read from disk: where it lives (fixtures are relative to it) and its FHIR release. */
export interface LoadedScript {
  file: string;
  version: FhirVersion;
  script: TestScript;
}

import { OPERATORS } from './compare.js';
import type { Action, Assert, Extension, LoadedScript, Operation, ServerRole, TestScript } from './model.js';
import { ASSERT_RULE, assertRule, declaredRules } from './rules.js';
import { STOP_TEST_ON_FAIL_EXTENSION } from './touchstone.js';

/**
 * What the runner carries out, element by element. A script with anything else (STU3's `rule`/`ruleset`, a
 * modifierExtension, an extension it does not know) is refused before a request is sent, naming the element: a
 * conformance run must not pass by skipping what it did not understand.
 */
const COMMON = ['id', 'fhir_comments'];
const SUPPORTED: Record<string, readonly string[]> = {
  TestScript: [
    'resourceType', 'meta', 'implicitRules', 'language', 'text', 'contained', 'extension', 'url', 'identifier', 'version', 'name',
    'title', 'status', 'experimental', 'date', 'publisher', 'contact', 'description', 'useContext', 'jurisdiction', 'purpose',
    'copyright', 'origin', 'destination', 'metadata', 'fixture', 'profile', 'variable', 'setup', 'test', 'teardown',
  ],
  origin: ['index', 'profile', 'extension'],
  destination: ['index', 'profile', 'extension'],
  fixture: ['autocreate', 'autodelete', 'resource'],
  profile: ['reference', 'display', 'value'],
  variable: ['name', 'defaultValue', 'description', 'expression', 'headerField', 'hint', 'path', 'sourceId'],
  part: ['name', 'description', 'action'],
  action: ['operation', 'assert'],
  operation: [
    'type', 'resource', 'label', 'description', 'accept', 'contentType', 'destination', 'encodeRequestUrl', 'method', 'origin',
    'params', 'requestHeader', 'requestId', 'responseId', 'sourceId', 'targetId', 'url',
  ],
  requestHeader: ['field', 'value'],
  assert: [
    'extension', 'label', 'description', 'direction', 'compareToSourceId', 'compareToSourceExpression', 'compareToSourcePath',
    'contentType', 'expression', 'headerField', 'minimumId', 'navigationLinks', 'operator', 'path', 'requestMethod', 'requestURL',
    'resource', 'response', 'responseCode', 'sourceId', 'validateProfileId', 'value', 'warningOnly', 'stopTestOnFail',
  ],
};
export const SUT_EXTENSION = 'http://fhir.interoplab.eu/fhir/StructureDefinition/Interoplab-CL-ext-SUT';
const RESPONSES = new Set(['okay', 'created', 'noContent', 'notModified', 'bad', 'forbidden', 'notFound', 'methodNotAllowed', 'conflict', 'gone', 'preconditionFailed', 'unprocessable']);

function unknownElements(where: string, kind: string, element: object): string[] {
  const allowed = SUPPORTED[kind]!;
  return Object.keys(element)
    .filter((key) => !COMMON.includes(key) && !key.startsWith('_') && !allowed.includes(key))
    .map((key) => `${where}.${key}: not supported`);
}

function extensionProblems(where: string, extensions: Extension[] | undefined, allowed: string[]): string[] {
  return (extensions ?? []).filter((extension) => !allowed.includes(extension.url)).map((extension) => `${where}.extension ${extension.url}: not supported`);
}

function operationProblems(where: string, operation: Operation): string[] {
  return [
    ...unknownElements(where, 'operation', operation),
    ...(operation.requestHeader ?? []).flatMap((header, i) => unknownElements(`${where}.requestHeader[${i}]`, 'requestHeader', header)),
  ];
}

function assertProblems(where: string, assert: Assert, ruleIds: Set<string>): string[] {
  const problems = [...unknownElements(where, 'assert', assert), ...extensionProblems(where, assert.extension, [ASSERT_RULE, STOP_TEST_ON_FAIL_EXTENSION])];
  if (assert.operator && !OPERATORS.has(assert.operator)) problems.push(`${where}.operator ${assert.operator}: not supported`);
  if (assert.response && !RESPONSES.has(assert.response)) problems.push(`${where}.response ${assert.response}: unknown`);
  const rule = assertRule(assert.extension);
  if (rule && !ruleIds.has(rule.ruleId)) problems.push(`${where}: rule ${rule.ruleId} is not declared by the script`);
  return problems;
}

function actionProblems(where: string, actions: Action[], ruleIds: Set<string>): string[] {
  return actions.flatMap((action, i) => [
    ...unknownElements(`${where}.action[${i}]`, 'action', action),
    ...(action.operation ? operationProblems(`${where}.action[${i}].operation`, action.operation) : []),
    ...(action.assert ? assertProblems(`${where}.action[${i}].assert`, action.assert, ruleIds) : []),
  ]);
}

function ruleIdsOf(script: TestScript, problems: string[]): Set<string> {
  try {
    return new Set(declaredRules(script).keys());
  } catch (error) {
    problems.push((error as Error).message);
    return new Set();
  }
}

/** Every element of the script the runner would not carry out; empty when it can run the script as written. */
export function unsupportedElements({ script }: LoadedScript): string[] {
  const problems = [...unknownElements('TestScript', 'TestScript', script)];
  const ruleIds = ruleIdsOf(script, problems);
  for (const role of ['origin', 'destination'] as const) {
    (script[role] ?? []).forEach((entry, i) => {
      problems.push(...unknownElements(`TestScript.${role}[${i}]`, role, entry), ...extensionProblems(`TestScript.${role}[${i}]`, entry.extension, [SUT_EXTENSION]));
    });
  }
  (script.fixture ?? []).forEach((fixture, i) => problems.push(...unknownElements(`TestScript.fixture[${i}]`, 'fixture', fixture)));
  (script.profile ?? []).forEach((profile, i) => problems.push(...unknownElements(`TestScript.profile[${i}]`, 'profile', profile)));
  (script.variable ?? []).forEach((variable, i) => problems.push(...unknownElements(`TestScript.variable[${i}]`, 'variable', variable)));
  const parts: [string, { action: Action[] } | undefined][] = [
    ['TestScript.setup', script.setup],
    ...(script.test ?? []).map((test, i): [string, { action: Action[] }] => [`TestScript.test[${i}]`, test]),
    ['TestScript.teardown', script.teardown],
  ];
  for (const [where, part] of parts) if (part) problems.push(...unknownElements(where, 'part', part), ...actionProblems(where, part.action, ruleIds));
  return problems;
}

export type OperationRole = 'send' | 'await' | 'simulated';

const marksSut = (role: ServerRole) => role.extension?.some((extension) => extension.url === SUT_EXTENSION && extension.valueBoolean === true) ?? false;

/**
 * Who carries out an operation. Nictiz's scripts name two systems, marking the system under test with an Interoplab
 * `SUT` extension on its origin and destination; the test platform plays the other. An operation to the system under
 * test is sent; one from the system under test to the platform is awaited; one from the platform to itself (loading
 * its simulated server) is the platform's own. A script without marks sends every operation.
 */
export function operationRole(script: TestScript): (operation: Operation) => OperationRole {
  const sutDestinations = (script.destination ?? []).filter(marksSut).map((role) => role.index);
  const sutOrigins = new Set((script.origin ?? []).filter(marksSut).map((role) => role.index));
  if (sutDestinations.length === 0) return () => 'send';
  return (operation) => {
    if (sutDestinations.includes(operation.destination ?? sutDestinations[0]!)) return 'send';
    return operation.origin !== undefined && sutOrigins.has(operation.origin) ? 'await' : 'simulated';
  };
}

/**
 * True when the operation comes from the test platform's own client (an origin not marked as the system under test):
 * the platform authenticates such requests as the organisation it plays, not as the tester.
 */
export function fromPlatform(script: TestScript): (operation: Operation) => boolean {
  const platformOrigins = new Set((script.origin ?? []).filter((role) => !marksSut(role)).map((role) => role.index));
  if (!(script.destination ?? []).some(marksSut)) return () => false;
  return (operation) => operation.origin !== undefined && platformOrigins.has(operation.origin);
}

export function describeOperation(operation: Operation): string {
  const code = operation.type?.code ?? operation.method ?? 'operation';
  const target = operation.url ?? [operation.resource, operation.params].filter(Boolean).join(' ');
  const body = operation.sourceId ? ` with ${operation.sourceId}` : '';
  const kept = operation.responseId ? ` → ${operation.responseId}` : '';
  return `${code} ${target}${body}${kept}`.replace(/\s+/g, ' ').trim();
}

export function describeAssert(assert: Assert): string {
  const rule = assertRule(assert.extension);
  if (rule) return `rule ${rule.ruleId} (${Object.entries(rule.params).map(([name, value]) => `${name}=${value}`).join(', ')})`;
  const check = [
    assert.responseCode && `response code ${assert.operator ?? ''} ${assert.responseCode}`,
    assert.response && `response ${assert.response}`,
    assert.headerField && `header ${assert.headerField}`,
    assert.contentType && `content type ${assert.contentType}`,
    assert.resource && `resource ${assert.resource}`,
    assert.validateProfileId && `valid against ${assert.validateProfileId}`,
    assert.minimumId && `contains ${assert.minimumId}`,
    assert.compareToSourceId && `compare with ${assert.compareToSourceId}`,
    (assert.expression ?? assert.path) && `${assert.expression ?? assert.path}${assert.value !== undefined ? ` ${assert.operator ?? 'equals'} ${assert.value}` : ''}`,
  ].filter(Boolean);
  return `${assert.warningOnly ? '(warning only) ' : ''}${check.join(', ').replace(/\s+/g, ' ')}`;
}

const ROLE_WORDS: Record<OperationRole, string> = {
  send: 'send',
  await: 'await from the system under test',
  simulated: "the simulated system's own",
};

/** What the runner would do with a script, one line per action: the listing `--plan` prints. */
export function planLines({ script }: LoadedScript): string[] {
  const roleOf = operationRole(script);
  const lines = (script.fixture ?? []).map((fixture) => `fixture ${fixture.id}: ${fixture.resource?.reference}${fixture.autocreate ? ' (created on the server first)' : ''}`);
  const describe = (action: Action) =>
    action.operation
      ? `${ROLE_WORDS[roleOf(action.operation)]}: ${describeOperation(action.operation)}`
      : `assert: ${describeAssert(action.assert!)}`;
  if (script.setup) lines.push('setup', ...script.setup.action.map((action) => `  ${describe(action)}`));
  for (const test of script.test ?? []) lines.push(`test ${test.name ?? ''}`.trim(), ...test.action.map((action) => `  ${describe(action)}`));
  if (script.teardown) lines.push('teardown', ...script.teardown.action.map((action) => `  ${describe(action)}`));
  return lines;
}

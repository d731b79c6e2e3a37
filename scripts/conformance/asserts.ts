import type { FhirVersion, Resource } from '../../src/fhir/version.js';
import { compare, containsMinimum, phrase } from './compare.js';
import type { ReceivedResponse, RunContext, SentRequest } from './context.js';
import { TestScriptInvalid } from './errors.js';
import { asText, evaluate, pathAsFhirPath } from './fhirpath.js';
import type { Assert } from './model.js';
import { mimeType } from './request.js';
import type { Variables } from './variables.js';

export interface Verdict {
  passed: boolean;
  message: string;
}

/** Profile validation, by the gateway's own validator (src/validation): the error messages, none when valid. */
export type ProfileCheck = (resource: Resource, profile: string, version: FhirVersion) => Promise<string[]>;

export interface AssertEnvironment {
  context: RunContext;
  variables: Variables;
  /** The script's `profile` entries: id → canonical. */
  profiles: Map<string, string>;
  validate: ProfileCheck;
}

/** The spec's names for response codes (TestScript `assert.response`). */
const RESPONSE_CODES: Record<string, number> = {
  okay: 200,
  created: 201,
  noContent: 204,
  notModified: 304,
  bad: 400,
  forbidden: 403,
  notFound: 404,
  methodNotAllowed: 405,
  conflict: 409,
  gone: 410,
  preconditionFailed: 412,
  unprocessable: 422,
};

/** What an assert is about: the request or the response its sourceId names, else the last one. */
interface Subject {
  request?: SentRequest;
  response?: ReceivedResponse;
  resource?: Resource;
}

function subjectOf(assert: Assert, context: RunContext): Subject {
  const id = assert.sourceId;
  if (assert.direction === 'request') {
    const request = id ? context.requests.get(id) : context.last?.request;
    return { request, resource: id ? context.resource(id) : request?.resource };
  }
  const response = id ? context.responses.get(id) : context.last?.response;
  return { request: id ? undefined : context.last?.request, response, resource: id ? context.resource(id) : response?.resource };
}

function verdict(passed: boolean, found: string, expected: string): Verdict {
  return { passed, message: passed ? found : `${found}; ${expected}` };
}

function requireResponse(subject: Subject): ReceivedResponse {
  if (!subject.response) throw new TestScriptInvalid('no response to check: no operation before it was answered');
  return subject.response;
}

function requireResource(subject: Subject): Resource {
  if (subject.resource) return subject.resource;
  const why = subject.response?.parseError ?? (subject.response ? `the body is ${subject.response.body ? 'not a FHIR resource' : 'empty'}` : 'nothing was received');
  throw new TestScriptInvalid(`no resource to check: ${why}`);
}

function operatorOf(assert: Assert, fallback = 'equals'): string {
  return assert.operator ?? fallback;
}

function checkResponseCode(assert: Assert, subject: Subject): Verdict {
  const status = String(requireResponse(subject).status);
  const operator = operatorOf(assert, assert.responseCode!.includes(',') ? 'in' : 'equals');
  return verdict(compare(status, operator, assert.responseCode), `response code ${status}`, phrase(operator, assert.responseCode));
}

function checkResponse(assert: Assert, subject: Subject): Verdict {
  const status = requireResponse(subject).status;
  const expected = RESPONSE_CODES[assert.response!];
  if (expected === undefined) throw new TestScriptInvalid(`unknown response '${assert.response}'`);
  const operator = operatorOf(assert);
  return verdict(compare(String(status), operator, String(expected)), `response code ${status}`, phrase(operator, `${expected} (${assert.response})`));
}

function headersOf(assert: Assert, subject: Subject): Record<string, string> {
  if (assert.direction === 'request') return subject.request?.headers ?? {};
  return requireResponse(subject).headers;
}

function checkHeader(assert: Assert, subject: Subject, environment: AssertEnvironment): Verdict {
  const field = assert.headerField!;
  const found = headersOf(assert, subject)[field.toLowerCase()];
  const expected = assert.value === undefined ? undefined : environment.variables.substitute(assert.value);
  const operator = operatorOf(assert, expected === undefined ? 'notEmpty' : 'equals');
  return verdict(compare(found, operator, expected), `header ${field}: ${found ?? '(absent)'}`, phrase(operator, expected));
}

function checkContentType(assert: Assert, subject: Subject): Verdict {
  const found = headersOf(assert, subject)['content-type']?.split(';')[0]?.trim();
  const expected = mimeType(assert.contentType!);
  const operator = operatorOf(assert);
  const passed = operator === 'notEquals' ? found !== expected : found === expected;
  return verdict(passed, `Content-Type ${found ?? '(absent)'}`, phrase(operator, expected));
}

function checkResourceType(assert: Assert, subject: Subject): Verdict {
  const found = requireResource(subject).resourceType;
  const operator = operatorOf(assert);
  return verdict(compare(found, operator, assert.resource), `resource ${found}`, phrase(operator, assert.resource));
}

function expressionOf(assert: Assert): string | undefined {
  return assert.expression ?? (assert.path ? pathAsFhirPath(assert.path) : undefined);
}

function checkExpression(assert: Assert, subject: Subject, environment: AssertEnvironment): Verdict {
  const expression = environment.variables.substitute(expressionOf(assert)!);
  const results = evaluate(requireResource(subject), expression, environment.context.version);
  const found = asText(results);
  if (assert.value === undefined && (assert.operator === undefined || assert.operator === 'eval')) {
    const passed = results.length > 0 && results.every((result) => result !== false);
    return verdict(passed, `${expression} → ${found ?? '(empty)'}`, 'expected true');
  }
  const expected = assert.value === undefined ? undefined : environment.variables.substitute(assert.value);
  const operator = operatorOf(assert);
  return verdict(compare(found, operator, expected), `${expression} → ${found ?? '(empty)'}`, phrase(operator, expected));
}

function checkCompareToSource(assert: Assert, subject: Subject, environment: AssertEnvironment): Verdict {
  const { context, variables } = environment;
  const sourceId = assert.compareToSourceId!;
  const source = context.resource(sourceId);
  if (!source) throw new TestScriptInvalid(`compareToSourceId ${sourceId} names nothing received or loaded`);
  const sourceExpression = variables.substitute(assert.compareToSourceExpression ?? pathAsFhirPath(assert.compareToSourcePath ?? ''));
  if (!sourceExpression) throw new TestScriptInvalid('compareToSourceId without compareToSourceExpression or compareToSourcePath');
  const expected = asText(evaluate(source, sourceExpression, context.version));
  const expression = expressionOf(assert) ? variables.substitute(expressionOf(assert)!) : sourceExpression;
  const found = asText(evaluate(requireResource(subject), expression, context.version));
  const operator = operatorOf(assert);
  return verdict(compare(found, operator, expected), `${expression} → ${found ?? '(empty)'}`, `${phrase(operator, expected ?? '(empty)')} (from ${sourceId})`);
}

function checkMinimum(assert: Assert, subject: Subject, environment: AssertEnvironment): Verdict {
  const minimum = environment.context.resource(assert.minimumId!);
  if (!minimum) throw new TestScriptInvalid(`minimumId ${assert.minimumId} names no fixture`);
  const { id: _id, meta: _meta, text: _text, ...content } = minimum;
  const passed = containsMinimum(requireResource(subject), content);
  return verdict(passed, passed ? `contains everything in ${assert.minimumId}` : `lacks content of ${assert.minimumId}`, 'expected every element of the minimum fixture');
}

async function checkProfile(assert: Assert, subject: Subject, environment: AssertEnvironment): Promise<Verdict> {
  const profile = environment.profiles.get(assert.validateProfileId!);
  if (!profile) throw new TestScriptInvalid(`validateProfileId ${assert.validateProfileId} is not a profile the script declares`);
  const errors = await environment.validate(requireResource(subject), profile, environment.context.version);
  const shown = errors.slice(0, 3).join(' | ') + (errors.length > 3 ? ` (and ${errors.length - 3} more)` : '');
  return verdict(errors.length === 0, errors.length === 0 ? `valid against ${profile}` : `${errors.length} error(s) against ${profile}: ${shown}`, 'expected valid');
}

function checkNavigationLinks(assert: Assert, subject: Subject): Verdict {
  const links = ((requireResource(subject).link as { relation?: string }[] | undefined) ?? []).map((link) => link.relation);
  const present = ['first', 'last'].every((relation) => links.includes(relation));
  return verdict(present === (assert.navigationLinks !== false), `links: ${links.join(', ') || '(none)'}`, `expected first and last links ${assert.navigationLinks === false ? 'absent' : 'present'}`);
}

function checkRequestMethod(assert: Assert, subject: Subject): Verdict {
  const found = subject.request?.method.toLowerCase();
  const operator = operatorOf(assert);
  return verdict(compare(found, operator, assert.requestMethod!.toLowerCase()), `method ${found ?? '(none)'}`, phrase(operator, assert.requestMethod));
}

function checkRequestUrl(assert: Assert, subject: Subject, environment: AssertEnvironment): Verdict {
  const found = subject.request?.url;
  const expected = environment.variables.substitute(assert.requestURL!);
  const operator = operatorOf(assert);
  return verdict(compare(found, operator, expected), `URL ${found ?? '(none)'}`, phrase(operator, expected));
}

/** The checks, each chosen by the element an assert carries; an assert with several must pass them all. */
const CHECKS: [keyof Assert, (assert: Assert, subject: Subject, environment: AssertEnvironment) => Verdict | Promise<Verdict>][] = [
  ['responseCode', checkResponseCode],
  ['response', checkResponse],
  ['headerField', checkHeader],
  ['contentType', checkContentType],
  ['resource', checkResourceType],
  ['compareToSourceId', checkCompareToSource],
  ['minimumId', checkMinimum],
  ['validateProfileId', checkProfile],
  ['navigationLinks', checkNavigationLinks],
  ['requestMethod', checkRequestMethod],
  ['requestURL', checkRequestUrl],
];

export async function evaluateAssert(assert: Assert, environment: AssertEnvironment): Promise<Verdict> {
  const subject = subjectOf(assert, environment.context);
  const verdicts: Verdict[] = [];
  for (const [element, check] of CHECKS) if (assert[element] !== undefined) verdicts.push(await check(assert, subject, environment));
  if (assert.compareToSourceId === undefined && expressionOf(assert) !== undefined) verdicts.push(checkExpression(assert, subject, environment));
  if (verdicts.length === 0) throw new TestScriptInvalid('the assert checks nothing');
  const failed = verdicts.filter((v) => !v.passed);
  return { passed: failed.length === 0, message: (failed.length ? failed : verdicts).map((v) => v.message).join('; ') };
}

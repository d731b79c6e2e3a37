import path from 'node:path';
import type { Resource } from '../../src/fhir/version.js';
import type { RunContext } from './context.js';
import { TestScriptInvalid, UnsupportedTestScriptElement } from './errors.js';
import type { Extension, TestScript } from './model.js';
import type { Verdict } from './asserts.js';

/**
 * Touchstone rules: Groovy scripts a TestScript declares (extension `testscript-rule`: ruleId and path) and an assert
 * runs (extension `testscript-assert-rule`: ruleId and params). The runner runs no Groovy: it carries TypeScript
 * versions of the rules it knows, by the rule file's name, and refuses a script that uses any other.
 */
export const SCRIPT_RULE = 'http://touchstone.aegis.net/touchstone/fhir/testing/StructureDefinition/testscript-rule';
export const ASSERT_RULE = 'http://touchstone.aegis.net/touchstone/fhir/testing/StructureDefinition/testscript-assert-rule';

type Params = Record<string, string>;
type Rule = (params: Params, context: RunContext) => Verdict;

/** The Task of a response: the resource itself, or the single Task of a search Bundle. */
function taskOf(params: Params, context: RunContext): Resource {
  const response = params.responseId ? context.responses.get(params.responseId) : context.last?.response;
  const resource = response?.resource;
  if (resource?.resourceType === 'Task') return resource;
  const entries = resource?.resourceType === 'Bundle' ? ((resource.entry as { resource?: Resource }[] | undefined) ?? []) : [];
  const tasks = entries.map((entry) => entry.resource).filter((found) => found?.resourceType === 'Task');
  if (tasks.length === 1) return tasks[0]!;
  throw new TestScriptInvalid(`Couldn't extract Task resource from response (${resource?.resourceType ?? 'no resource'})`);
}

/** A copy of the response's Task under a new status, without narrative (it no longer describes the Task). */
function rewrittenTask(params: Params, context: RunContext, status: string): Resource {
  const { text: _narrative, ...task } = structuredClone(taskOf(params, context));
  return { ...task, status };
}

function required(params: Params, ...names: string[]): void {
  const missing = names.filter((name) => params[name] === undefined);
  if (missing.length) throw new TestScriptInvalid(`rule parameter(s) ${missing.join(', ')} missing`);
}

const KNOWN_RULES: Record<string, Rule> = {
  'rewrite-response-taskStatus': (params, context) => {
    required(params, 'newStatus', 'fixtureId');
    context.fixtures.set(params.fixtureId!, rewrittenTask(params, context, params.newStatus!));
    return { passed: true, message: `fixture ${params.fixtureId}: the response's Task with status ${params.newStatus}` };
  },
  'rewrite-response-taskWithAlternativeDate': (params, context) => {
    required(params, 'newDate', 'fixtureId');
    const task = rewrittenTask(params, context, 'on-hold');
    const alternativeDate = { type: { coding: [{ system: 'http://snomed.info/sct', code: '146851000146105' }] }, valueDateTime: params.newDate };
    task.output = [...((task.output as unknown[] | undefined) ?? []), alternativeDate];
    context.fixtures.set(params.fixtureId!, task);
    return { passed: true, message: `fixture ${params.fixtureId}: the response's Task on-hold, alternative date ${params.newDate}` };
  },
};

const child = (extension: Extension, url: string) => extension.extension?.filter((inner) => inner.url === url) ?? [];
const textOf = (extension: Extension | undefined) => extension?.valueString ?? extension?.valueId;

/** ruleId → the rule's implementation, for the rules a script declares; an unknown rule is refused. */
export function declaredRules(script: TestScript): Map<string, Rule> {
  const rules = new Map<string, Rule>();
  for (const extension of script.extension?.filter((candidate) => candidate.url === SCRIPT_RULE) ?? []) {
    const ruleId = textOf(child(extension, 'ruleId')[0]);
    const file = textOf(child(extension, 'path')[0]);
    const rule = file ? KNOWN_RULES[path.basename(file).replace(/\.groovy$/, '')] : undefined;
    if (!ruleId || !rule) throw new UnsupportedTestScriptElement(`Touchstone rule ${ruleId ?? '(no ruleId)'} (${file ?? 'no path'}): the runner knows only ${Object.keys(KNOWN_RULES).join(', ')}`);
    rules.set(ruleId, rule);
  }
  return rules;
}

/** The rule an assert runs and its parameters, if it runs one. */
export function assertRule(extensions: Extension[] | undefined): { ruleId: string; params: Params } | undefined {
  const extension = extensions?.find((candidate) => candidate.url === ASSERT_RULE);
  if (!extension) return undefined;
  const params: Params = {};
  for (const param of child(extension, 'param')) {
    const name = textOf(child(param, 'name')[0]);
    const value = textOf(child(param, 'value')[0]);
    if (name && value !== undefined) params[name] = value;
  }
  return { ruleId: textOf(child(extension, 'ruleId')[0]) ?? '', params };
}

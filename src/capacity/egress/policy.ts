import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GatewayError } from '../../errors.js';
import { isObject } from '../../vocabulary/json.js';
import { valueSetMembers } from '../../vocabulary/terminology.js';

/**
 * The egress allowlist (`conformance/egress-policy.json`), checked and compiled once. The file's `grammar` field
 * describes the rules; docs/capacity.md explains each allowed element.
 */
export type PrimitiveType =
  | 'string'
  | 'code'
  | 'id'
  | 'uri'
  | 'url'
  | 'canonical'
  | 'instant'
  | 'integer'
  | 'unsignedInt'
  | 'positiveInt'
  | 'boolean';

export type Rule =
  | { kind: 'fixed'; value: unknown }
  | { kind: 'primitive'; accepts: (value: unknown) => boolean }
  | { kind: 'object'; elements: [string, Rule][]; required: string[][] }
  | { kind: 'list'; items: Rule; max: number };

export interface EgressPolicy {
  version: string;
  resources: ReadonlyMap<string, Rule>;
}

const PRIMITIVES: Record<PrimitiveType, (value: unknown) => boolean> = {
  string: (value) => typeof value === 'string' && value.trim().length > 0,
  code: (value) => typeof value === 'string' && /^[^\s]+( [^\s]+)*$/.test(value),
  id: (value) => typeof value === 'string' && /^[A-Za-z0-9\-.]{1,64}$/.test(value),
  uri: (value) => typeof value === 'string' && /^\S+$/.test(value),
  url: (value) => typeof value === 'string' && /^\S+$/.test(value),
  canonical: (value) => typeof value === 'string' && /^\S+$/.test(value),
  instant: (value) =>
    typeof value === 'string' &&
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value)),
  integer: (value) => Number.isSafeInteger(value) && Math.abs(value as number) <= 2_147_483_647,
  unsignedInt: (value) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 2_147_483_647,
  positiveInt: (value) => Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= 2_147_483_647,
  boolean: (value) => typeof value === 'boolean',
};

export class EgressPolicyError extends GatewayError {
  static override readonly code = 'ERR_EGRESS_POLICY_INVALID';

  constructor(at: string, message: string) {
    super(`egress policy ${at}: ${message}`);
  }
}

type RawRule = Record<string, unknown>;

function compile(raw: unknown, at: string): Rule {
  if (!isObject(raw)) throw new EgressPolicyError(at, 'a rule is an object');
  const rule: RawRule = raw;
  const forms = ['fixed', 'type', 'elements', 'items'].filter((key) => key in rule);
  if (forms.length !== 1) throw new EgressPolicyError(at, 'a rule has exactly one of fixed, type, elements, items');
  if ('fixed' in rule) return { kind: 'fixed', value: rule.fixed };
  if ('type' in rule) return compilePrimitive(rule, at);
  if ('items' in rule) {
    if (!Number.isInteger(rule.max) || (rule.max as number) < 1) throw new EgressPolicyError(at, 'items needs max >= 1');
    return { kind: 'list', items: compile(rule.items, `${at}[]`), max: rule.max as number };
  }
  return compileObject(rule, at);
}

function compilePrimitive(rule: RawRule, at: string): Rule {
  const base = PRIMITIVES[rule.type as PrimitiveType];
  if (!base) throw new EgressPolicyError(at, `unknown type '${String(rule.type)}'`);
  const checks = [base];
  if (rule.oneOf !== undefined) {
    if (!Array.isArray(rule.oneOf)) throw new EgressPolicyError(at, 'oneOf is a list');
    const allowed = rule.oneOf;
    checks.push((value) => allowed.includes(value));
  }
  if (rule.pattern !== undefined) {
    const pattern = new RegExp(String(rule.pattern), 'u');
    checks.push((value) => typeof value === 'string' && pattern.test(value));
  }
  if (rule.maxLength !== undefined) {
    const maxLength = Number(rule.maxLength);
    checks.push((value) => typeof value === 'string' && value.length <= maxLength);
  }
  if (rule.valueSet !== undefined) {
    const codes = new Set([...valueSetMembers(String(rule.valueSet))].map((member) => member.slice(member.lastIndexOf('|') + 1)));
    checks.push((value) => typeof value === 'string' && codes.has(value));
  }
  return { kind: 'primitive', accepts: (value) => checks.every((check) => check(value)) };
}

function compileObject(rule: RawRule, at: string): Rule {
  if (typeof rule.elements !== 'object' || rule.elements === null) throw new EgressPolicyError(at, 'elements is an object');
  const elements = Object.entries(rule.elements).map(
    ([name, child]): [string, Rule] => [name, compile(child, `${at}.${name}`)],
  );
  const names = new Set(elements.map(([name]) => name));
  const required = ((rule.required as string[] | undefined) ?? []).map((alternatives) => alternatives.split('|'));
  for (const name of required.flat()) {
    if (!names.has(name)) throw new EgressPolicyError(at, `required '${name}' is not an allowed element`);
  }
  return { kind: 'object', elements, required };
}

export function compileEgressPolicy(raw: unknown): EgressPolicy {
  if (!isObject(raw) || typeof raw.version !== 'string') throw new EgressPolicyError('version', 'missing');
  if (typeof raw.resources !== 'object' || raw.resources === null) throw new EgressPolicyError('resources', 'missing');
  return {
    version: raw.version,
    resources: new Map(Object.entries(raw.resources).map(([type, rule]) => [type, compile(rule, type)])),
  };
}

export const EGRESS_POLICY_FILE = fileURLToPath(new URL('../../../conformance/egress-policy.json', import.meta.url));

let reviewed: EgressPolicy | undefined;

/** The reviewed policy from `conformance/`, compiled on first use. */
export function egressPolicy(): EgressPolicy {
  reviewed ??= compileEgressPolicy(JSON.parse(readFileSync(EGRESS_POLICY_FILE, 'utf8')));
  return reviewed;
}

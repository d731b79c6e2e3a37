import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import stu3Model from 'fhirpath/fhir-context/stu3/index.js';
import type { FhirVersion } from '../fhir/version.js';
import type { Constraint } from './definitions.js';
import { compilePresenceLogic, modelTypes } from './fhirpath-lite.js';

/** Invariants every element or resource carries, checked natively by the walker for speed. */
export const NATIVE_INVARIANTS = new Set(['ele-1', 'ext-1', 'dom-1', 'dom-2', 'dom-3', 'dom-4', 'dom-5', 'dom-6', 'ref-1']);

type Evaluate = (node: unknown, env: Record<string, unknown>) => unknown[];

export interface Invariant {
  key: string;
  expression: string;
  severity: 'error' | 'warning';
  human: string;
  /**
   * Evaluates the invariant on one instance of the element: true or false, or undefined when the expression
   * gives no answer (an empty result). An expression fhirpath.js cannot evaluate counts as holding.
   */
  evaluate(node: unknown, resource: unknown, rootResource: unknown): boolean | undefined;
  /** The names the expression mentions; undefined when it looks beyond the node's children (%resource, $this...). */
  names?: Set<string>;
  /** The outcome on a node without any of those children. */
  holdsWhenAbsent: boolean;
  /** Whether no answer counts as failing when nothing else tells (the expression answers true on an empty node). */
  emptyFails: boolean;
}

const MODELS = { r4: r4Model, stu3: stu3Model } as const;

/** Core invariants call trace(); its output is not wanted. */
const ignoreTrace = () => undefined;

const ENVIRONMENT = { ucum: 'http://unitsofmeasure.org', sct: 'http://snomed.info/sct', loinc: 'http://loinc.org' };

/** Expressions that read more than the node's own children cannot be short-cut by looking at its keys. */
const NOT_LOCAL = /%|\$this|children\(|descendants\(|repeat\(|resolve\(|hasValue\(\)\s*(or|and|$)|^\s*(empty|exists|hasValue)\(/;

function referencedNames(expression: string): Set<string> | undefined {
  if (NOT_LOCAL.test(expression)) return undefined;
  const withoutStrings = expression.replace(/'(?:[^'\\]|\\.)*'/g, "''");
  return new Set(withoutStrings.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []);
}

/**
 * Core invariants whose published expression contradicts their own text, as the HL7 validator corrects them:
 * R4's que-12 says "more than one enableWhen" but tests `count() > 2`.
 */
const CORRECTIONS: Record<string, { published: string; corrected: string }> = {
  'que-12': { published: 'enableWhen.count() > 2 implies enableBehavior.exists()', corrected: 'enableWhen.count() > 1 implies enableBehavior.exists()' },
};

function corrected(constraint: Constraint): Constraint {
  const correction = CORRECTIONS[constraint.key];
  return correction?.published === constraint.expression ? { ...constraint, expression: correction.corrected } : constraint;
}

/** FHIRPath invariants, each expression compiled once per element path with the release's model (fhirpath.js). */
export class InvariantCompiler {
  private readonly compiled = new Map<string, Invariant | undefined>();

  constructor(private readonly version: FhirVersion) {}

  compile(stated: Constraint, basePath: string): Invariant | undefined {
    if (NATIVE_INVARIANTS.has(stated.key) || !stated.expression) return undefined;
    const constraint = corrected(stated);
    const cacheKey = `${basePath}\u0000${constraint.key}\u0000${constraint.expression}`;
    if (this.compiled.has(cacheKey)) return this.compiled.get(cacheKey);
    const invariant = this.build(constraint, basePath.replace(/\[x\]/g, ''));
    this.compiled.set(cacheKey, invariant);
    return invariant;
  }

  private build(constraint: Constraint, base: string): Invariant | undefined {
    const native = compilePresenceLogic(constraint.expression!, modelTypes(MODELS[this.version] as never, base));
    if (native) {
      const onEmpty = native({});
      return {
        ...this.describe(constraint),
        evaluate: (node) => (typeof node === 'object' && node !== null ? native(node) : true),
        holdsWhenAbsent: onEmpty !== false,
        emptyFails: onEmpty === true,
      };
    }
    let evaluate: Evaluate;
    try {
      evaluate = fhirpath.compile({ base, expression: constraint.expression! }, MODELS[this.version] as never, {
        traceFn: ignoreTrace,
      }) as Evaluate;
    } catch {
      return undefined;
    }
    const run = (node: unknown, resource: unknown, rootResource: unknown): unknown[] | undefined => {
      try {
        return evaluate(node, { ...ENVIRONMENT, resource, rootResource });
      } catch {
        return undefined;
      }
    };
    const evaluateOn = (node: unknown, resource: unknown, rootResource: unknown): boolean | undefined => {
      const result = run(node, resource, rootResource);
      if (result === undefined) return true;
      if (result.length === 0) return undefined;
      return result.every((value) => value === true);
    };
    const onEmpty = evaluateOn({}, {}, {});
    return { ...this.describe(constraint), evaluate: evaluateOn, holdsWhenAbsent: onEmpty !== false, emptyFails: onEmpty === true };
  }

  private describe(constraint: Constraint) {
    return {
      key: constraint.key,
      expression: constraint.expression!,
      severity: constraint.severity,
      human: constraint.human,
      names: referencedNames(constraint.expression!),
    };
  }
}

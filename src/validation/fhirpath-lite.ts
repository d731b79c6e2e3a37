import { isObject } from '../vocabulary/json.js';
/**
 * Most invariants are presence logic over child elements (`name.exists() or telecom.exists()`,
 * `type = 'document' implies timestamp.hasValue()`). This compiles that subset of FHIRPath to plain functions,
 * which run without the allocations of a general FHIRPath engine; anything outside the subset returns undefined
 * and is left to fhirpath.js. The subset: paths of child names (or starting at `descendants()`), filtered with
 * `.where(...)` and passed through `.trace(...)`, ending in `.exists()`, `.empty()`, `.hasValue()`,
 * `.isDistinct()` or `.count()` compared with an integer, or compared with a literal (`=`, `!=`, `in (...)`;
 * strings, booleans, integers); `.not()`, `and`, `or`, `xor`, `implies` and parentheses, all with FHIRPath's
 * three-valued logic (undefined is the empty collection).
 */
export type Truth = boolean | undefined;
export type Predicate = (node: unknown) => Truth;
/** The FHIR type of the element at a path below the node, when known: comparisons are only compiled for string-like, boolean and integer elements. */
export type TypeOf = (path: string[]) => string | undefined;

const STRING_TYPES = new Set(['string', 'code', 'id', 'uri', 'url', 'canonical', 'oid', 'uuid', 'markdown']);
const INTEGER_TYPES = new Set(['integer', 'positiveInt', 'unsignedInt']);

/** FHIRPath compares typed values: a dateTime never equals a string literal, so only like with like is compiled. */
function comparable(type: string | undefined, literal: unknown): boolean {
  if (type === undefined) return false;
  if (typeof literal === 'string') return STRING_TYPES.has(type);
  if (typeof literal === 'boolean') return type === 'boolean';
  return INTEGER_TYPES.has(type);
}

type Token = { kind: 'name' | 'op' | 'punct' | 'literal'; text: string; value?: unknown };

/** descendants(): every element below the items reached so far. */
const DESCENDANTS = Symbol('descendants');

/** A step along a path: a child name, a where() filter on the items reached so far, or descendants(). */
type Step = string | Predicate | typeof DESCENDANTS;

/** After descendants() the element types are not known, so no comparison is compiled. */
const UNTYPED = '\u0000';

const TOKEN = /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)'|(-?\d+)(?![.\d])|(\(\)|!=|<=|>=|[().=|<>]))/y;
const OPERATORS = new Set(['and', 'or', 'xor', 'implies']);
const FUNCTIONS = new Set(['exists', 'empty', 'hasValue', 'isDistinct']);

function tokenize(expression: string): Token[] | undefined {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (!/^\s*$/.test(expression.slice(TOKEN.lastIndex))) {
    const match = TOKEN.exec(expression);
    if (!match) return undefined;
    const [, name, text, integer, punct] = match;
    if (name === 'true' || name === 'false') tokens.push({ kind: 'literal', text: name, value: name === 'true' });
    else if (name) tokens.push({ kind: OPERATORS.has(name) ? 'op' : 'name', text: name });
    else if (text !== undefined) tokens.push({ kind: 'literal', text, value: text.replace(/\\(.)/g, '$1') });
    else if (integer !== undefined) tokens.push({ kind: 'literal', text: integer, value: Number(integer) });
    else tokens.push({ kind: 'punct', text: punct });
  }
  return tokens;
}

const and = (a: Truth, b: Truth): Truth => (a === false || b === false ? false : a === true && b === true ? true : undefined);
const or = (a: Truth, b: Truth): Truth => (a === true || b === true ? true : a === false && b === false ? false : undefined);
const xor = (a: Truth, b: Truth): Truth => (a === undefined || b === undefined ? undefined : a !== b);
const implies = (a: Truth, b: Truth): Truth => (a === false ? true : a === true ? b : b === true ? true : undefined);
const not = (a: Truth): Truth => (a === undefined ? undefined : !a);

const BINARY: Record<string, (a: Truth, b: Truth) => Truth> = { and, or, xor, implies };

const COUNT_COMPARISONS: Record<string, (count: number, bound: number) => boolean> = {
  '=': (count, bound) => count === bound,
  '!=': (count, bound) => count !== bound,
  '<': (count, bound) => count < bound,
  '<=': (count, bound) => count <= bound,
  '>': (count, bound) => count > bound,
  '>=': (count, bound) => count >= bound,
};
/** Lowest binding first, as in FHIRPath: implies < or, xor < and. */
const LEVELS = [['implies'], ['or', 'xor'], ['and']];

class Parser {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly typeAt: TypeOf,
  ) {}

  parse(): Predicate | undefined {
    const result = this.level(0);
    return result && this.position === this.tokens.length ? result : undefined;
  }

  private accept(text: string): boolean {
    const token = this.tokens[this.position];
    if (token?.text !== text || token.kind === 'literal') return false;
    this.position++;
    return true;
  }

  private level(depth: number): Predicate | undefined {
    if (depth === LEVELS.length) return this.term();
    let left = this.level(depth + 1);
    for (;;) {
      const operator = this.tokens[this.position];
      if (!left || operator?.kind !== 'op' || !LEVELS[depth].includes(operator.text)) return left;
      this.position++;
      const right = this.level(depth + 1);
      if (!right) return undefined;
      const [a, b, combine] = [left, right, BINARY[operator.text]];
      left = (node) => combine(a(node), b(node));
    }
  }

  /** `( expr )`, `path.exists()` or `path = literal`, followed by any number of `.not()`. */
  private term(): Predicate | undefined {
    let predicate: Predicate | undefined;
    if (this.accept('(')) {
      predicate = this.level(0);
      if (!predicate || !this.accept(')')) return undefined;
    } else {
      predicate = this.pathTerm();
    }
    while (predicate && this.accept('.')) {
      if (!this.accept('not') || !this.accept('()')) return undefined;
      const inner = predicate;
      predicate = (node) => not(inner(node));
    }
    return predicate;
  }

  /** The path from the invariant's element to the current where() focus, for element types. */
  private focus: string[] = [];

  private pathTerm(): Predicate | undefined {
    const steps: Step[] = [];
    const names: string[] = [];
    for (;;) {
      const token = this.tokens[this.position];
      if (token?.kind !== 'name') return undefined;
      this.position++;
      if (steps.length > 0 && FUNCTIONS.has(token.text) && this.accept('()')) return presence(token.text, steps);
      if (steps.length > 0 && token.text === 'count' && this.accept('()')) return this.countComparison(steps);
      if (steps.length === 0 && token.text === 'descendants' && this.accept('()')) {
        steps.push(DESCENDANTS);
        names.push(UNTYPED);
      } else if (token.text === 'where' && this.accept('(')) {
        const filter = this.filter(names);
        if (!filter) return undefined;
        steps.push(filter);
      } else if (steps.length > 0 && token.text === 'trace' && this.accept('(')) {
        if (this.tokens[this.position++]?.kind !== 'literal' || !this.accept(')')) return undefined;
      } else {
        steps.push(token.text);
        names.push(token.text);
      }
      if (this.accept('.')) continue;
      return this.comparison(steps, names);
    }
  }

  /** The condition of a where(), read with the filtered items as focus; keeps the items it holds for. */
  private filter(names: string[]): Predicate | undefined {
    const outer = this.focus;
    this.focus = [...outer, ...names];
    const condition = this.level(0);
    this.focus = outer;
    if (!condition || !this.accept(')')) return undefined;
    return (item) => condition(item) === true;
  }

  private typeOf(names: string[]): string | undefined {
    return this.typeAt([...this.focus, ...names]);
  }

  private comparison(steps: Step[], names: string[]): Predicate | undefined {
    if (this.accept('in')) return this.membership(steps, names);
    const negated = this.accept('!=');
    if (!negated && !this.accept('=')) return undefined;
    const literal = this.tokens[this.position++];
    if (literal?.kind !== 'literal' || !comparable(this.typeOf(names), literal.value)) return undefined;
    const expected = literal.value;
    return (node) => {
      const values = elementsAt(node, steps, true);
      if (values.length === 0) return undefined;
      const equal = values.length === 1 && values[0] === expected;
      return negated ? !equal : equal;
    };
  }

  /** `path.count() <= 1`: a count is never empty, so neither is the comparison. */
  private countComparison(steps: Step[]): Predicate | undefined {
    const operator = this.tokens[this.position++];
    const literal = this.tokens[this.position++];
    const compare = operator?.kind === 'punct' ? COUNT_COMPARISONS[operator.text] : undefined;
    if (!compare || typeof literal?.value !== 'number' || literal.kind !== 'literal') return undefined;
    const bound = literal.value;
    return (node) => compare(elementsAt(node, steps, true).length, bound);
  }

  /** `path in ('a' | 'b')`: undefined for no element (or, an error in FHIRPath, several). */
  private membership(steps: Step[], names: string[]): Predicate | undefined {
    if (!this.accept('(')) return undefined;
    const allowed = new Set<unknown>();
    do {
      const literal = this.tokens[this.position++];
      if (literal?.kind !== 'literal' || !comparable(this.typeOf(names), literal.value)) return undefined;
      allowed.add(literal.value);
    } while (this.accept('|'));
    if (!this.accept(')')) return undefined;
    return (node) => {
      const values = elementsAt(node, steps, true);
      return values.length === 1 ? allowed.has(values[0]) : undefined;
    };
  }
}

function presence(name: string, path: Step[]): Predicate {
  const exists: (node: unknown) => boolean =
    path.length === 1 && typeof path[0] === 'string' ? childExists(path[0]) : (node) => elementsAt(node, path, true).length > 0;
  switch (name) {
    case 'exists':
      return exists;
    case 'empty':
      return (node) => !exists(node);
    case 'isDistinct':
      return (node) => isDistinct(elementsAt(node, path, false));
    default: {
      // hasValue(): one element, which is a primitive with a value (not just an `_x` companion).
      return (node) => {
        const values = elementsAt(node, path, true);
        return values.length === 1 && typeof values[0] !== 'object';
      };
    }
  }
}

function isDistinct(values: unknown[]): boolean {
  const seen = new Set(values.map((value) => (typeof value === 'object' ? JSON.stringify(value) : value)));
  return seen.size === values.length;
}


/**
 * The elements at a path, as FHIRPath sees them: a choice name (`value`) finds its typed property, and a
 * primitive that only has an `_x` companion (id or extensions) still exists.
 */
function elementsAt(node: unknown, path: Step[], withCompanions: boolean): unknown[] {
  let current: unknown[] = [node];
  for (const step of path) {
    if (typeof step === 'function') {
      current = current.filter(step);
      continue;
    }
    if (step === DESCENDANTS) {
      current = descendantsOf(current);
      continue;
    }
    const next: unknown[] = [];
    for (const item of current) {
      if (isObject(item)) collect(item[step] ?? typedChoice(item, step), withCompanions ? item[`_${step}`] : undefined, next);
    }
    current = next;
  }
  return current;
}

/** Every element below the items, depth first (primitive companions and resourceType are not elements). */
function descendantsOf(items: unknown[]): unknown[] {
  const found: unknown[] = [];
  const visit = (item: unknown) => {
    if (!isObject(item)) return;
    for (const key in item) {
      if (key === 'resourceType' || key.charCodeAt(0) === 95) continue;
      const children: unknown[] = [];
      collect(item[key], undefined, children);
      for (const child of children) {
        found.push(child);
        visit(child);
      }
    }
  };
  items.forEach(visit);
  return found;
}

/** The common `name.exists()`, without collecting anything. */
function childExists(name: string): (node: unknown) => boolean {
  const companion = `_${name}`;
  const present = (value: unknown) => value !== undefined && value !== null && (!Array.isArray(value) || value.some((v) => v !== null));
  return (node) => isObject(node) && (present(node[name] ?? typedChoice(node, name)) || present(node[companion]));
}

/**
 * Adds the elements of a property to a collection: its values, and where a value is missing (null in an
 * array, or no value at all) its `_x` companion when companions count.
 */
function collect(value: unknown, companion: unknown, into: unknown[]): void {
  if (!Array.isArray(value) && !Array.isArray(companion)) {
    const element = value ?? companion;
    if (element !== undefined && element !== null) into.push(element);
    return;
  }
  const values = Array.isArray(value) ? value : [];
  const companions = Array.isArray(companion) ? companion : [];
  for (let i = 0; i < Math.max(values.length, companions.length); i++) {
    const element = values[i] ?? companions[i];
    if (element !== undefined && element !== null) into.push(element);
  }
}

function typedChoice(item: Record<string, unknown>, stem: string): unknown {
  for (const key in item) {
    const next = key.charCodeAt(stem.length);
    if (next >= 65 && next <= 90 && key.startsWith(stem)) return item[key];
  }
  return undefined;
}

/** A native predicate for the expression, or undefined when it is outside the subset. */
export function compilePresenceLogic(expression: string, typeOf: TypeOf = () => undefined): Predicate | undefined {
  const tokens = tokenize(expression);
  return tokens && tokens.length > 0 ? new Parser(tokens, typeOf).parse() : undefined;
}

interface ModelTypes {
  path2Type: Record<string, string>;
  pathsDefinedElsewhere: Record<string, string>;
}

/** Element types from a fhirpath.js model (its path2Type), following datatypes and content references. */
export function modelTypes(model: ModelTypes, base: string): TypeOf {
  const baseType = model.path2Type[base];
  const start = baseType && baseType !== 'BackboneElement' && baseType !== 'Element' ? baseType : base;
  return (path) => {
    let current = start;
    let type: string | undefined;
    for (const name of path) {
      let at = `${current}.${name}`;
      type = model.path2Type[at];
      const elsewhere = model.pathsDefinedElsewhere[current];
      if (type === undefined && elsewhere) {
        at = `${elsewhere}.${name}`;
        type = model.path2Type[at];
      }
      if (type === undefined) return undefined;
      current = type === 'BackboneElement' || type === 'Element' ? at : type;
    }
    return type;
  };
}

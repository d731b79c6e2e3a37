import { asList } from './values.js';

/**
 * Most invariants are presence logic over child elements (`name.exists() or telecom.exists()`,
 * `type = 'document' implies timestamp.hasValue()`). This compiles that subset of FHIRPath to plain functions,
 * which run without the allocations of a general FHIRPath engine; anything outside the subset returns undefined
 * and is left to fhirpath.js. The subset: paths of child names with `.exists()`, `.empty()`, `.hasValue()`,
 * comparisons of a path with a literal (`=`, `!=`; strings, booleans, integers), `.not()`, and `and`, `or`,
 * `xor`, `implies` and parentheses, all with FHIRPath's three-valued logic (undefined is the empty collection).
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

const TOKEN = /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|'((?:[^'\\]|\\.)*)'|(-?\d+)(?![.\d])|(\(\)|!=|[().=]))/y;
const OPERATORS = new Set(['and', 'or', 'xor', 'implies']);
const FUNCTIONS = new Set(['exists', 'empty', 'hasValue']);

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
/** Lowest binding first, as in FHIRPath: implies < or, xor < and. */
const LEVELS = [['implies'], ['or', 'xor'], ['and']];

class Parser {
  private position = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly typeOf: TypeOf,
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

  private pathTerm(): Predicate | undefined {
    const path: string[] = [];
    for (;;) {
      const token = this.tokens[this.position];
      if (token?.kind !== 'name') return undefined;
      this.position++;
      if (path.length > 0 && FUNCTIONS.has(token.text) && this.accept('()')) return presence(token.text, path);
      path.push(token.text);
      if (this.accept('.')) continue;
      return this.comparison(path);
    }
  }

  private comparison(path: string[]): Predicate | undefined {
    const negated = this.accept('!=');
    if (!negated && !this.accept('=')) return undefined;
    const literal = this.tokens[this.position++];
    if (literal?.kind !== 'literal' || !comparable(this.typeOf(path), literal.value)) return undefined;
    const expected = literal.value;
    return (node) => {
      const values = elementsAt(node, path, true);
      if (values.length === 0) return undefined;
      const equal = values.length === 1 && values[0] === expected;
      return negated ? !equal : equal;
    };
  }
}

function presence(name: string, path: string[]): Predicate {
  switch (name) {
    case 'exists':
      return (node) => elementsAt(node, path, true).length > 0;
    case 'empty':
      return (node) => elementsAt(node, path, true).length === 0;
    default: {
      // hasValue(): one element, which is a primitive with a value (not just an `_x` companion).
      return (node) => {
        const values = elementsAt(node, path, true);
        return values.length === 1 && typeof values[0] !== 'object';
      };
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The elements at a path of child names, as FHIRPath sees them: a choice name (`value`) finds its typed
 * property, and a primitive that only has an `_x` companion (id or extensions) still exists.
 */
function elementsAt(node: unknown, path: string[], withCompanions: boolean): unknown[] {
  let current: unknown[] = [node];
  for (const name of path) {
    const next: unknown[] = [];
    for (const item of current) {
      if (!isRecord(item)) continue;
      const value = item[name] ?? typedChoice(item, name);
      if (value !== undefined) next.push(...asList(value).filter((v) => v !== null));
      else if (withCompanions && item[`_${name}`] !== undefined) next.push(...asList(item[`_${name}`]).filter((v) => v !== null));
    }
    current = next;
  }
  return current;
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
  return (path) => {
    let current = base;
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

import { asList } from './values.js';

/**
 * Most invariants are presence logic over child elements (`name.exists() or telecom.exists()`,
 * `code.empty() or system.exists()`). This compiles that subset of FHIRPath to a plain function, which runs
 * without the allocations of a general FHIRPath engine; anything outside the subset returns undefined and is
 * left to fhirpath.js. Subset: paths of child names with `.exists()`, `.empty()`, `.hasValue()` and `.not()`,
 * combined with `and`, `or`, `xor`, `implies` and parentheses. Presence is always true or false, so the
 * two-valued logic here equals FHIRPath's three-valued logic on it.
 */
export type Predicate = (node: unknown) => boolean;

type Token = { kind: 'name' | 'op' | 'punct'; text: string };

const TOKEN = /\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\(\)|[().]))/y;
const OPERATORS = new Set(['and', 'or', 'xor', 'implies']);
const FUNCTIONS = new Set(['exists', 'empty', 'hasValue', 'not']);

function tokenize(expression: string): Token[] | undefined {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    if (/^\s*$/.test(expression.slice(TOKEN.lastIndex))) break;
    const match = TOKEN.exec(expression);
    if (!match) return undefined;
    if (match[1]) tokens.push({ kind: OPERATORS.has(match[1]) ? 'op' : 'name', text: match[1] });
    else tokens.push({ kind: 'punct', text: match[2] });
  }
  return tokens;
}

class Parser {
  private position = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Predicate | undefined {
    const result = this.implies();
    return result && this.position === this.tokens.length ? result : undefined;
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private accept(text: string): boolean {
    if (this.peek()?.text !== text) return false;
    this.position++;
    return true;
  }

  private implies(): Predicate | undefined {
    let left = this.or();
    while (left && this.accept('implies')) {
      const right = this.or();
      if (!right) return undefined;
      const [a, b] = [left, right];
      left = (node) => !a(node) || b(node);
    }
    return left;
  }

  private or(): Predicate | undefined {
    let left = this.and();
    while (left && (this.peek()?.text === 'or' || this.peek()?.text === 'xor')) {
      const operator = this.tokens[this.position++].text;
      const right = this.and();
      if (!right) return undefined;
      const [a, b] = [left, right];
      left = operator === 'or' ? (node) => a(node) || b(node) : (node) => a(node) !== b(node);
    }
    return left;
  }

  private and(): Predicate | undefined {
    let left = this.term();
    while (left && this.accept('and')) {
      const right = this.term();
      if (!right) return undefined;
      const [a, b] = [left, right];
      left = (node) => a(node) && b(node);
    }
    return left;
  }

  /** `( expr )` or `path.exists()`, either followed by any number of `.not()`. */
  private term(): Predicate | undefined {
    let predicate: Predicate | undefined;
    if (this.accept('(')) {
      predicate = this.implies();
      if (!predicate || !this.accept(')')) return undefined;
    } else {
      predicate = this.presence();
    }
    while (predicate && this.accept('.')) {
      if (!this.accept('not') || !this.accept('()')) return undefined;
      const inner = predicate;
      predicate = (node) => !inner(node);
    }
    return predicate;
  }

  private presence(): Predicate | undefined {
    const path: string[] = [];
    for (;;) {
      const token = this.peek();
      if (token?.kind !== 'name') return undefined;
      this.position++;
      if (FUNCTIONS.has(token.text) && this.accept('()')) return path.length ? this.test(token.text, path) : undefined;
      path.push(token.text);
      if (!this.accept('.')) return undefined;
    }
  }

  private test(name: string, path: string[]): Predicate | undefined {
    switch (name) {
      case 'exists':
        return (node) => elementsAt(node, path, true).length > 0;
      case 'empty':
        return (node) => elementsAt(node, path, true).length === 0;
      case 'hasValue':
        return (node) => elementsAt(node, path, false).some((value) => value !== null && typeof value !== 'object');
      default:
        return undefined;
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

/**
 * The elements at a path of child names, as FHIRPath sees them: a choice name (`value`) finds its typed
 * property, and a primitive that only has an `_x` companion (id or extensions) still exists.
 */
function elementsAt(node: unknown, path: string[], withCompanions: boolean): unknown[] {
  let current: unknown[] = [node];
  for (const name of path) {
    const next: unknown[] = [];
    for (const item of current) {
      if (!isRecord(item) || Array.isArray(item)) continue;
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
export function compilePresenceLogic(expression: string): Predicate | undefined {
  const tokens = tokenize(expression);
  return tokens && tokens.length > 0 ? new Parser(tokens).parse() : undefined;
}

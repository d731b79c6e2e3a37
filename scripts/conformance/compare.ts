/** The TestScript assert operators, on the text of what was found and the assert's `value`. */
export type Operator = 'equals' | 'notEquals' | 'in' | 'notIn' | 'greaterThan' | 'lessThan' | 'empty' | 'notEmpty' | 'contains' | 'notContains' | 'eval';

export const OPERATORS: ReadonlySet<string> = new Set<Operator>(['equals', 'notEquals', 'in', 'notIn', 'greaterThan', 'lessThan', 'empty', 'notEmpty', 'contains', 'notContains', 'eval']);

const list = (expected: string) => expected.split(',').map((item) => item.trim());

function order(actual: string, expected: string): number {
  const [a, b] = [Number(actual), Number(expected)];
  return Number.isNaN(a) || Number.isNaN(b) ? actual.localeCompare(expected) : a - b;
}

export function compare(actual: string | undefined, operator: string, expected = ''): boolean {
  switch (operator) {
    case 'empty':
      return actual === undefined || actual === '';
    case 'notEmpty':
      return actual !== undefined && actual !== '';
    case 'notEquals':
      return actual !== expected;
    case 'in':
      return actual !== undefined && list(expected).includes(actual);
    case 'notIn':
      return actual === undefined || !list(expected).includes(actual);
    case 'greaterThan':
      return actual !== undefined && order(actual, expected) > 0;
    case 'lessThan':
      return actual !== undefined && order(actual, expected) < 0;
    case 'contains':
      return actual?.includes(expected) ?? false;
    case 'notContains':
      return !(actual?.includes(expected) ?? false);
    default:
      return actual === expected;
  }
}

/** The words an assert's operator puts between what was found and what was expected, for the report. */
export function phrase(operator: string, expected: string | undefined): string {
  if (operator === 'empty' || operator === 'notEmpty') return operator === 'empty' ? 'expected nothing' : 'expected a value';
  return `expected ${operator === 'equals' ? '' : `${operator} `}${expected ?? ''}`.trim();
}

/** Every element of the expected value is in the actual one, arrays matched element by element in any order. */
export function containsMinimum(actual: unknown, minimum: unknown): boolean {
  if (Array.isArray(minimum)) return Array.isArray(actual) && minimum.every((item) => actual.some((candidate) => containsMinimum(candidate, item)));
  if (minimum !== null && typeof minimum === 'object') {
    if (actual === null || typeof actual !== 'object') return false;
    const found = actual as Record<string, unknown>;
    return Object.entries(minimum).every(([key, value]) => containsMinimum(found[key], value));
  }
  return actual === minimum;
}

import { JSON_NUMBER_TYPES } from '../fhir/xml-reader.js';

/**
 * Checks of primitive values: the JSON type, the regex from the type's definition, size limits, and the few
 * facts a regex cannot say (integer ranges, real calendar dates).
 */
export interface PrimitiveRule {
  type: string;
  json: 'string' | 'number' | 'boolean';
  regex?: RegExp;
  maxLength?: number;
  /** A further check returning a message when the value is wrong. */
  semantic?: (value: string | number) => string | undefined;
}


/** Regexes the STU3 definitions leave out, as the R4 definitions give them. */
const FALLBACK_REGEX: Record<string, string> = {
  instant:
    '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))',
  base64Binary: '(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+',
  uri: '\\S*',
  string: '[ \\r\\n\\t\\S]+',
  markdown: '[ \\r\\n\\t\\S]+',
};

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function integerCheck(min: number) {
  return (value: string | number) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return `${value} is not an integer`;
    if (value < min || value > INT32_MAX) return `${value} is out of range (${min}..${INT32_MAX})`;
    return undefined;
  };
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The regex accepts 2023-02-31; the calendar does not. */
function calendarCheck(value: string | number): string | undefined {
  const text = String(value);
  if (text.length < 10) return undefined;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const last = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
  return day >= 1 && day <= last ? undefined : `${text} is not a valid date`;
}

/** A scheme (lower case, as the HL7 validator wants it) and something after it, with no spaces. */
const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\S+$/;

export const isAbsoluteUrl = (text: string) => ABSOLUTE_URL.test(text);

/** A canonical names a resource by its url, never relatively: it is absolute or a `#fragment` (the HL7 validator's rule). */
function canonicalCheck(value: string | number): string | undefined {
  const text = String(value);
  return text.startsWith('#') || ABSOLUTE_URL.test(text) ? undefined : `Canonical URLs must be absolute URLs if they are not fragment references (${text})`;
}

const SEMANTIC: Record<string, PrimitiveRule['semantic']> = {
  canonical: canonicalCheck,
  integer: integerCheck(INT32_MIN),
  positiveInt: integerCheck(1),
  unsignedInt: integerCheck(0),
  decimal: (value) => (typeof value === 'number' && Number.isFinite(value) ? undefined : `${value} is not a decimal`),
  date: calendarCheck,
  dateTime: calendarCheck,
  instant: calendarCheck,
};

/** FHIR caps every string at 1 MB; binary content and narrative are not strings in that sense. */
const STRING_LIMIT = 1048576;
const UNLIMITED = new Set(['base64Binary', 'xhtml']);

export function primitiveRule(type: string, regex: string | undefined, maxLength: number | undefined): PrimitiveRule {
  const json = type === 'boolean' ? 'boolean' : JSON_NUMBER_TYPES.has(type) ? 'number' : 'string';
  const limit = maxLength ?? (json === 'string' && !UNLIMITED.has(type) ? STRING_LIMIT : undefined);
  const source = json === 'string' ? (regex ?? FALLBACK_REGEX[type]) : undefined;
  let compiled: RegExp | undefined;
  try {
    compiled = source ? new RegExp(`^(?:${source})$`) : undefined;
  } catch {
    compiled = undefined;
  }
  return { type, json, regex: compiled, maxLength: limit, semantic: SEMANTIC[type] };
}

const JSON_TYPE_NAMES = { string: 'a string', number: 'a number', boolean: 'a boolean' };

/** A message saying what is wrong with a primitive value, or undefined when it is fine. */
export function checkPrimitive(rule: PrimitiveRule, value: unknown): string | undefined {
  if (typeof value !== rule.json) {
    return `${rule.type} must be ${JSON_TYPE_NAMES[rule.json]} in JSON, not ${JSON.stringify(value)}`;
  }
  if (rule.json === 'string') {
    const text = value as string;
    if (text.length === 0) return 'A string value cannot be empty';
    if (rule.maxLength !== undefined && text.length > rule.maxLength) {
      return rule.maxLength === STRING_LIMIT
        ? 'value is longer than permitted maximum length of 1 MB (1048576 bytes)'
        : `value is longer than the permitted maximum length of ${rule.maxLength}`;
    }
    if (rule.regex && !rule.regex.test(text)) return `Not a valid ${rule.type}: ${quote(text)}`;
  }
  return rule.semantic?.(value as string | number);
}

function quote(text: string): string {
  return `'${text.length > 80 ? `${text.slice(0, 80)}...` : text}'`;
}

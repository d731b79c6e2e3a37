import { isObject } from '../vocabulary/json.js';
import type { TypedValue } from './definitions.js';

/**
 * `minValue[x]` and `maxValue[x]` (ElementDefinition): numbers, dates and times compare as they are; a Quantity
 * bound applies to a Quantity in the same unit (other units need UCUM conversion, which is not done here); a
 * Duration bound on a date, dateTime or instant is taken from the current time, as the HL7 validator does
 * (`maxValueDuration` 10 a: no later than ten years from now).
 */
export type BoundSide = 'min' | 'max';

/** Whether a value lies outside a bound: true, false, or undefined when the two cannot be compared here. */
export function outOfBound(value: unknown, bound: TypedValue, side: BoundSide, now = new Date()): boolean | undefined {
  if (bound.type === 'Duration' && typeof value === 'string') {
    const limit = fromNow(bound.value, side === 'min' ? -1 : 1, now);
    const instant = Date.parse(value);
    if (limit === undefined || Number.isNaN(instant)) return undefined;
    return side === 'min' ? instant < limit : instant > limit;
  }
  if (isObject(value) && isObject(bound.value)) return quantityOutside(value, bound.value, side);
  return side === 'min' ? isBelow(value, bound.value) : isBelow(bound.value, value);
}

function isBelow(value: unknown, bound: unknown): boolean {
  if (typeof value === 'number' && typeof bound === 'number') return value < bound;
  if (typeof value === 'string' && typeof bound === 'string' && value.length === bound.length) return value < bound;
  return false;
}

function quantityOutside(value: Record<string, unknown>, bound: Record<string, unknown>, side: BoundSide): boolean | undefined {
  if (typeof value.value !== 'number' || typeof bound.value !== 'number' || unitOf(value) !== unitOf(bound)) return undefined;
  return side === 'min' ? value.value < bound.value : value.value > bound.value;
}

function unitOf(quantity: Record<string, unknown>): string {
  return quantity.code !== undefined ? `${String(quantity.system ?? '')}|${String(quantity.code)}` : `|${String(quantity.unit ?? '')}`;
}

const CALENDAR_UNITS: Record<string, (date: Date, amount: number) => void> = {
  a: (date, amount) => date.setUTCFullYear(date.getUTCFullYear() + amount),
  mo: (date, amount) => date.setUTCMonth(date.getUTCMonth() + amount),
};
const MILLISECONDS: Record<string, number> = { wk: 604_800_000, d: 86_400_000, h: 3_600_000, min: 60_000, s: 1000, ms: 1 };

/** The current time moved by a UCUM Duration (`a`, `mo`, `wk`, `d`, `h`, `min`, `s`, `ms`), in milliseconds. */
function fromNow(duration: unknown, direction: 1 | -1, now: Date): number | undefined {
  if (!isObject(duration) || typeof duration.value !== 'number') return undefined;
  const code = String(duration.code ?? duration.unit);
  const date = new Date(now);
  if (CALENDAR_UNITS[code]) CALENDAR_UNITS[code](date, direction * duration.value);
  else if (MILLISECONDS[code]) date.setTime(date.getTime() + direction * duration.value * MILLISECONDS[code]);
  else return undefined;
  return date.getTime();
}

/**
 * FHIR date, dateTime and instant values as ranges of epoch milliseconds: a value stands for every instant it
 * covers at its precision (`2024` is the whole year, `2024-03-01T10:00` that minute). Values without a time zone are
 * read as UTC.
 */
export interface DateRange {
  start: number;
  end: number;
}

/** The widest range JavaScript dates allow: open period ends. */
export const EARLIEST = -8.64e15;
export const LATEST = 8.64e15;

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The range a FHIR date/dateTime/instant covers, or undefined when the text is not one. */
export function dateRange(text: string): DateRange | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction, zone] = match;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const millis = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  if (!validParts(year, month, day, hour, minute, second)) return undefined;

  const start = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMillis(zone);
  const next = nextBoundary({ year, month, day, hour, minute, second, millis }, precisionOf(match));
  const end = Date.UTC(next.year, next.month - 1, next.day, next.hour, next.minute, next.second, next.millis) - offsetMillis(zone) - 1;
  return { start, end };
}

type Precision = 'year' | 'month' | 'day' | 'minute' | 'second' | 'millis';

interface Parts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millis: number;
}

function precisionOf(match: RegExpExecArray): Precision {
  if (match[7] !== undefined) return 'millis';
  if (match[6] !== undefined) return 'second';
  if (match[5] !== undefined) return 'minute';
  if (match[3] !== undefined) return 'day';
  if (match[2] !== undefined) return 'month';
  return 'year';
}

/** The first instant after the value at its precision (Date.UTC normalises overflowing fields). */
function nextBoundary(parts: Parts, precision: Precision): Parts {
  const next = { ...parts };
  if (precision === 'year') next.year += 1;
  else if (precision === 'month') next.month += 1;
  else if (precision === 'day') next.day += 1;
  else if (precision === 'minute') next.minute += 1;
  else if (precision === 'second') next.second += 1;
  else next.millis += 1;
  return next;
}

function validParts(year: number, month: number, day: number, hour: number, minute: number, second: number): boolean {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return day >= 1 && date.getUTCMonth() === month - 1;
}

function offsetMillis(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [hours, minutes] = zone.slice(1).split(':').map(Number);
  return sign * (hours * 60 + minutes) * 60_000;
}

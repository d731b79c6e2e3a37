/** The moment a count was true: an instant with seconds and a time zone (as SANER requires), not in the future. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** How far a reporter's clock may run ahead of ours. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The measurement time normalised to UTC ISO, or the reason it is unusable. */
export function parseMeasuredAt(value: unknown, now: Date): { measuredAt: string } | { problem: string } {
  if (typeof value !== 'string' || !INSTANT.test(value) || Number.isNaN(Date.parse(value))) {
    return { problem: 'The measurement time must be a dateTime with seconds and a time zone' };
  }
  const time = Date.parse(value);
  if (time > now.getTime() + CLOCK_SKEW_MS) return { problem: `The measurement time ${value} lies in the future` };
  return { measuredAt: new Date(time).toISOString() };
}

import { readPublication } from '../capacity/coordination/publication.js';
import { isKnown } from '../capacity/model.js';
import type { Resource } from '../fhir/version.js';
import type { Scope, UnitOfWork } from '../store/repository.js';
import { displayOf } from './board.js';

/** Places free per care type at the end of each of the last days, for the chart (and its table). */
export interface AvailabilityHistory {
  days: string[];
  series: { careType: string; display: string; available: (number | null)[] }[];
}

const DAY_MS = 86_400_000;
const VERSIONS = 5000;

/**
 * From the reports stored at the coordination point (every version of each provider's report, as the board takes
 * it: `shown` rebuilds it through the egress allowlist): per day, each provider's last report made that day or before
 * (ordered as the board orders them, by the time the provider's gateway made them), summed per care type. A day before any report of a care type has no value (null), not zero.
 */
export async function availabilityHistory(
  store: UnitOfWork,
  scope: Scope,
  shown: (report: Resource) => Resource | undefined,
  now: Date,
  dayCount = 7,
): Promise<AvailabilityHistory> {
  const days = Array.from({ length: dayCount }, (_, index) => new Date(now.getTime() - (dayCount - 1 - index) * DAY_MS).toISOString().slice(0, 10));
  const since = `${days[0]}T00:00:00Z`;
  const versions = await store.resources.history(scope, { resourceType: 'MeasureReport', since: new Date(Date.parse(since) - DAY_MS).toISOString(), count: VERSIONS });
  const reports = versions
    .flatMap((entry) => (entry.resource ? (shown(entry.resource) ?? []) : []))
    .flatMap((report) => {
      const publication = readPublication(report, now);
      return 'resourceType' in publication ? [] : [publication];
    })
    .sort((a, b) => (a.publishedAt < b.publishedAt ? -1 : a.publishedAt > b.publishedAt ? 1 : 0));
  const careTypes = [...new Set(reports.flatMap((report) => report.availability.groups.map((group) => group.careType)))].sort();
  const series = careTypes.map((careType) => ({
    careType,
    display: displayOf(careType),
    available: days.map((day) => {
      const latest = new Map<string, number | undefined>();
      for (const report of reports) {
        if (report.publishedAt.slice(0, 10) > day) break;
        const group = report.availability.groups.find((candidate) => candidate.careType === careType);
        latest.set(report.provider.key, group && isKnown(group.available) ? group.available : undefined);
      }
      const counts = [...latest.values()].filter((count): count is number => count !== undefined);
      return counts.length === 0 ? null : counts.reduce((sum, count) => sum + count, 0);
    }),
  }));
  return { days, series };
}

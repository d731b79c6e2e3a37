import type { Resource } from '../fhir/version.js';
import {
  AVAILABILITY_MEASURE,
  AVAILABILITY_REPORT_PROFILE,
  DATA_ABSENT_REASON_EXTENSION,
  POPULATION_SYSTEM,
} from './canonical.js';
import { careType } from '../vocabulary/care-types.js';
import { isKnown, type Availability, type Count, type ProviderIdentity } from './model.js';
import { CARE_TYPE_SYSTEM } from '../vocabulary/canonical.js';

/**
 * Renders a provider's availability as a SANER-style MeasureReport (profile availability-report): `date` is when
 * the report was generated, `period` (start = end) the moment the counts were true.
 */
export function availabilityReport(provider: ProviderIdentity, availability: Availability, generatedAt: string): Resource {
  return {
    resourceType: 'MeasureReport',
    meta: { profile: [AVAILABILITY_REPORT_PROFILE] },
    status: 'complete',
    type: 'summary',
    measure: AVAILABILITY_MEASURE,
    date: generatedAt,
    reporter: { identifier: { ...provider.identifier }, display: provider.name },
    period: { start: availability.measuredAt, end: availability.measuredAt },
    group: availability.groups.map((group) => ({
      code: { coding: [{ system: CARE_TYPE_SYSTEM, code: group.careType, display: careType(group.careType)?.display }] },
      population: [
        population('available', group.available),
        ...(group.total === undefined ? [] : [population('total', group.total)]),
      ],
    })),
  } satisfies fhir4.MeasureReport;
}

function population(code: 'available' | 'total', count: Count) {
  return {
    code: { coding: [{ system: POPULATION_SYSTEM, code }] },
    ...(isKnown(count) ? { count } : { _count: { extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: count.absent }] } }),
  };
}

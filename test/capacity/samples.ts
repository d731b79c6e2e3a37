import fc from 'fast-check';
import type { Resource } from '../../src/fhir/version.js';
import { ENDPOINT_CONNECTION_TYPE_SYSTEM, ENDPOINT_ROLE_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { CARE_TYPES } from '../../src/vocabulary/care-types.js';
import type { Availability, CareTypeAvailability, Count, ProviderIdentity } from '../../src/capacity/model.js';
import { availabilityReport } from '../../src/capacity/report.js';
import type { AvailabilitySource } from '../../src/capacity/egress/payload.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';

/** Test material for the capacity domain: clean provider data, as a provider's gateway holds it. */
export interface ProviderSample {
  ura: string;
  name: string;
  postalCode: string;
  region: string;
  endpoints: { role: 'notification' | 'fhir' | 'oauth'; address: string }[];
}

export function organization(sample: ProviderSample): Resource {
  return {
    resourceType: 'Organization',
    id: `org-${sample.ura}`,
    extension: [{ url: ZORGREGIO_EXTENSION, valueId: sample.region }],
    identifier: [{ system: URA_SYSTEM, value: sample.ura }],
    name: sample.name,
    address: [{ line: ['Zorgstraat 1'], postalCode: sample.postalCode, city: 'Rotterdam' }],
  };
}

export function endpoint(role: string, address: string): Resource {
  return {
    resourceType: 'Endpoint',
    status: 'active',
    connectionType: { system: ENDPOINT_CONNECTION_TYPE_SYSTEM, code: 'hl7-fhir-rest' },
    payloadType: [{ coding: [{ system: ENDPOINT_ROLE_SYSTEM, code: role }] }],
    address,
  };
}

export function identity(sample: ProviderSample): ProviderIdentity {
  return { identifier: { system: URA_SYSTEM, value: sample.ura }, name: sample.name };
}

export function source(sample: ProviderSample, availability: Availability, generatedAt = MOMENT): AvailabilitySource {
  return {
    organization: organization(sample),
    endpoints: sample.endpoints.map((item) => endpoint(item.role, item.address)),
    report: availabilityReport(identity(sample), availability, generatedAt.toISOString()),
  };
}

export const providerSample: fc.Arbitrary<ProviderSample> = fc.record({
  ura: fc.stringMatching(/^[0-9]{8}$/),
  name: fc.stringMatching(/^[A-Z][a-z]{2,12}( [A-Z][a-z]{2,12}){0,3}$/),
  postalCode: fc.stringMatching(/^[1-9][0-9]{3} [A-Z]{2}$/),
  region: fc.stringMatching(/^[a-z]{3,10}(-[a-z]{3,10})?$/),
  endpoints: fc.uniqueArray(
    fc.record({
      role: fc.constantFrom('notification' as const, 'fhir' as const, 'oauth' as const),
      address: fc.stringMatching(/^[a-z]{3,8}$/).map((host) => `https://${host}.example/fhir`),
    }),
    { minLength: 1, maxLength: 3, selector: (item) => item.role },
  ),
});

const count: fc.Arbitrary<Count> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('unknown', 'temp-unknown', 'masked').map((absent) => ({ absent })) },
);

const group = (careType: string): fc.Arbitrary<CareTypeAvailability> =>
  fc
    .record({ available: count, extra: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }) })
    .map(({ available, extra }) =>
      extra === undefined ? { careType, available } : { careType, available, total: typeof available === 'number' ? available + extra : { absent: 'unknown' } },
    );

export const MOMENT = new Date('2025-03-14T10:00:00Z');

export const availability: fc.Arbitrary<Availability> = fc
  .record({
    careTypes: fc.subarray([...CARE_TYPES.keys()], { minLength: 1 }),
    minutesAgo: fc.integer({ min: 0, max: 24 * 60 }),
  })
  .chain(({ careTypes, minutesAgo }) =>
    fc.tuple(...careTypes.map(group)).map((groups) => ({
      measuredAt: new Date(MOMENT.getTime() - minutesAgo * 60_000).toISOString(),
      groups,
    })),
  );

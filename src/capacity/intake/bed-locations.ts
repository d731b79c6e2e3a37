import { badRequest, issue, outcome, type OperationOutcome, type OperationOutcomeIssue } from '../../fhir/outcome.js';
import { BED_STATUS_SYSTEM, LOCATION_PHYSICAL_TYPE_SYSTEM } from '../canonical.js';
import { CARE_TYPES, careType } from '../../vocabulary/care-types.js';
import { codeFrom, isObject, objects, stringAt, type JsonObject } from '../../vocabulary/json.js';
import { parseMeasuredAt } from '../measured-at.js';
import type { Availability, CareTypeAvailability } from '../model.js';
import { CARE_TYPE_SYSTEM } from '../../vocabulary/canonical.js';

/**
 * Counts a provider's bed census (a Bundle of bed Locations, profile bed-location) per care type. The Bundle is the
 * whole census at one moment (Bundle.timestamp, else now); the Locations themselves stay internal.
 *
 * Per care type: `total` counts beds in operation (Location.status active, operationalStatus not C = closed);
 * `available` counts those that are U (unoccupied). O (occupied) and H/I/K (housekeeping, isolated, contaminated)
 * are in operation but not free. Suspended and inactive beds count for nothing.
 */
const BED_STATUSES = ['C', 'H', 'I', 'K', 'O', 'U'];

interface Bed {
  careType: string;
  inOperation: boolean;
  free: boolean;
}

export function countBedLocations(bundle: unknown, now: Date): Availability | OperationOutcome {
  if (!isObject(bundle) || bundle.resourceType !== 'Bundle') return badRequest('Expected a Bundle of bed Locations');
  const problems: OperationOutcomeIssue[] = [];
  const time = parseMeasuredAt(bundle.timestamp ?? now.toISOString(), now);
  if ('problem' in time) problems.push(issue('error', 'value', time.problem, 'Bundle.timestamp'));
  const beds = objects(bundle.entry).flatMap((entry, index) => readBed(entry.resource, `Bundle.entry[${index}].resource`, problems));
  if (beds.length === 0 && problems.length === 0) problems.push(issue('error', 'required', 'The census holds no beds', 'Bundle.entry'));
  if (problems.length > 0 || 'problem' in time) return outcome('unprocessable', problems);
  return { measuredAt: time.measuredAt, groups: countPerCareType(beds) };
}

function readBed(location: unknown, at: string, problems: OperationOutcomeIssue[]): Bed[] {
  if (!isObject(location) || location.resourceType !== 'Location') {
    problems.push(issue('error', 'structure', 'Every entry must be a bed Location', at));
    return [];
  }
  const before = problems.length;
  const types = objects(location.type).map((type) => careType(codeFrom(type, CARE_TYPE_SYSTEM))).filter((type) => !!type);
  if (types.length !== 1) {
    problems.push(issue('error', 'code-invalid', `A bed needs exactly one care type from ${CARE_TYPE_SYSTEM} in Location.type`, `${at}.type`));
  } else if (types[0].setting !== 'verblijf') {
    problems.push(issue('error', 'business-rule', `Care type '${types[0].code}' has no beds; report it as a MeasureReport`, `${at}.type`));
  }
  if (codeFrom(location.physicalType, LOCATION_PHYSICAL_TYPE_SYSTEM) !== 'bd') {
    problems.push(issue('error', 'value', 'Location.physicalType must be bd (bed)', `${at}.physicalType`));
  }
  const status = operationalStatus(location);
  if (status === undefined) {
    problems.push(issue('error', 'code-invalid', `Location.operationalStatus needs a code from ${BED_STATUS_SYSTEM} (${BED_STATUSES.join(', ')})`, `${at}.operationalStatus`));
  }
  if (problems.length > before) return [];
  const inOperation = (location.status ?? 'active') === 'active' && status !== 'C';
  return [{ careType: types[0]!.code, inOperation, free: inOperation && status === 'U' }];
}

function operationalStatus(location: JsonObject): string | undefined {
  const coding = location.operationalStatus;
  const code = stringAt(coding, 'code');
  return stringAt(coding, 'system') === BED_STATUS_SYSTEM && code !== undefined && BED_STATUSES.includes(code) ? code : undefined;
}

function countPerCareType(beds: Bed[]): CareTypeAvailability[] {
  return [...CARE_TYPES.keys()]
    .map((code) => beds.filter((bed) => bed.careType === code))
    .filter((group) => group.length > 0)
    .map((group) => ({
      careType: group[0].careType,
      available: group.filter((bed) => bed.free).length,
      total: group.filter((bed) => bed.inOperation).length,
    }));
}

import { badRequest, issue, outcome, type OperationOutcome, type OperationOutcomeIssue } from '../../fhir/outcome.js';
import { DATA_ABSENT_REASON_EXTENSION, POPULATION_SYSTEM } from '../canonical.js';
import { careType } from '../../vocabulary/care-types.js';
import { codeFrom, isObject, objects, stringAt, type JsonObject } from '../../vocabulary/json.js';
import { parseMeasuredAt } from '../measured-at.js';
import type { Availability, CareTypeAvailability, Count } from '../model.js';
import { CARE_TYPE_SYSTEM } from '../../vocabulary/canonical.js';

/**
 * Reads a SANER-style availability MeasureReport (profile availability-report) into the domain model: the counts
 * per care type and the moment they were true (`period.end`; `date` is only when the report was made). Used for a
 * provider EHR's report at intake and for a provider gateway's publication at the coordination point. Whatever else
 * the report carries (extensions, contained resources, notes, other populations) is not read.
 */
export function readAvailabilityReport(resource: unknown, now: Date): Availability | OperationOutcome {
  if (!isObject(resource) || resource.resourceType !== 'MeasureReport') return badRequest('Expected a MeasureReport');
  const problems: OperationOutcomeIssue[] = [];
  if (resource.status !== 'complete') {
    problems.push(issue('error', 'value', `Only a complete report carries availability (status is '${String(resource.status)}')`, 'MeasureReport.status'));
  }
  const time = parseMeasuredAt(stringAt(resource.period, 'end'), now);
  if ('problem' in time) problems.push(issue('error', 'value', time.problem, 'MeasureReport.period.end'));
  const groups = objects(resource.group).flatMap((group, index) => readGroup(group, `MeasureReport.group[${index}]`, problems));
  if (groups.length === 0 && problems.length === 0) {
    problems.push(issue('error', 'required', 'A report needs at least one group (one per care type)', 'MeasureReport.group'));
  }
  for (const duplicate of duplicates(groups.map((group) => group.careType))) {
    problems.push(issue('error', 'business-rule', `Care type '${duplicate}' appears in more than one group`, 'MeasureReport.group'));
  }
  if (problems.length > 0 || 'problem' in time) return outcome('unprocessable', problems);
  return { measuredAt: time.measuredAt, groups };
}

function readGroup(group: JsonObject, at: string, problems: OperationOutcomeIssue[]): CareTypeAvailability[] {
  const type = careType(codeFrom(group.code, CARE_TYPE_SYSTEM));
  if (!type) {
    problems.push(issue('error', 'code-invalid', `group.code needs a care type from ${CARE_TYPE_SYSTEM}`, `${at}.code`));
    return [];
  }
  const counts = new Map<string, Count>();
  objects(group.population).forEach((population, index) => {
    const where = `${at}.population[${index}]`;
    const name = codeFrom(population.code, POPULATION_SYSTEM);
    if (name === undefined) return; // a population of the EHR's own: internal, not read
    if (name !== 'available' && name !== 'total') {
      problems.push(issue('error', 'code-invalid', `Unknown population '${name}' (expected available or total)`, `${where}.code`));
    } else if (counts.has(name)) {
      problems.push(issue('error', 'business-rule', `Population '${name}' appears twice`, `${where}.code`));
    } else {
      const count = readCount(population, where, problems);
      if (count !== undefined) counts.set(name, count);
    }
  });
  const available = counts.get('available');
  const total = counts.get('total');
  if (available === undefined) {
    problems.push(issue('error', 'required', "A group needs the population 'available'", `${at}.population`));
    return [];
  }
  if (typeof available === 'number' && typeof total === 'number' && available > total) {
    problems.push(issue('error', 'business-rule', `available (${available}) exceeds total (${total})`, `${at}.population`));
  }
  return [total === undefined ? { careType: type.code, available } : { careType: type.code, available, total }];
}

/** A count, or the data-absent-reason on `_count` (as the SANER examples do) or on the population. */
function readCount(population: JsonObject, at: string, problems: OperationOutcomeIssue[]): Count | undefined {
  if (population.count !== undefined) {
    if (Number.isSafeInteger(population.count) && (population.count as number) >= 0) return population.count as number;
    problems.push(issue('error', 'value', 'A count is a whole number of zero or more', `${at}.count`));
    return undefined;
  }
  const reason = absentReason(population._count) ?? absentReason(population);
  if (reason !== undefined) return { absent: reason };
  problems.push(issue('error', 'required', 'A population needs a count or a data-absent-reason', `${at}.count`));
  return undefined;
}

function absentReason(element: unknown): string | undefined {
  const extension = objects(isObject(element) ? element.extension : undefined).find(
    (item) => item.url === DATA_ABSENT_REASON_EXTENSION,
  );
  return stringAt(extension, 'valueCode');
}

function duplicates(values: string[]): string[] {
  return [...new Set(values.filter((value, index) => values.indexOf(value) !== index))];
}

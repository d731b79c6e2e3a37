import { ZORGREGIO_EXTENSION } from '../capacity/canonical.js';
import type { BoardChange } from '../capacity/coordination/service.js';
import { isObject, objects, stringAt } from '../vocabulary/json.js';
import type { Resource } from '../fhir/version.js';
import type { TaskStatusChange } from '../transfer/events.js';
import { CAPACITY_CHANGED_TOPIC, TASK_STATUS_CHANGED_TOPIC, TASK_STATUS_SYSTEM } from './canonical.js';
import type { Occurrence } from './events.js';
import type { TokenValue } from './filters.js';
import { CARE_TYPE_SYSTEM } from '../vocabulary/canonical.js';

/**
 * What the other capabilities report, as occurrences of this gateway's topics: a coordination point's board
 * changed (capacity-changed), an eOverdracht Task changed status (task-status-changed). Each names its focus at the
 * version the change wrote, and the values its topic's filters (`canFilterBy`) look at.
 */
export function capacityChanged(change: BoardChange, at: Date): Occurrence {
  const [provider] = objects(change.report.contained);
  const region = stringAt(objects(provider?.extension).find((extension) => extension.url === ZORGREGIO_EXTENSION), 'valueId');
  return {
    tenant: change.tenant,
    topic: CAPACITY_CHANGED_TOPIC,
    event: { timestamp: at.toISOString(), focus: focusOf(change.report, 'r4') },
    filterValues: {
      'care-type': change.careTypes.map((code) => ({ system: CARE_TYPE_SYSTEM, code })),
      region: region ? [{ code: region }] : [],
      provider: identifiers(provider?.identifier),
    },
  };
}

export function taskStatusChanged(change: TaskStatusChange, at: Date): Occurrence {
  const { task } = change;
  const owner: TokenValue[] = [...identifiers(isObject(task.owner) ? [task.owner.identifier] : [])];
  const ownerReference = stringAt(task.owner, 'reference');
  if (ownerReference) owner.push({ code: ownerReference });
  return {
    tenant: change.tenant,
    topic: TASK_STATUS_CHANGED_TOPIC,
    event: { timestamp: at.toISOString(), focus: focusOf(task, 'stu3') },
    filterValues: {
      owner,
      status: typeof task.status === 'string' ? [{ system: TASK_STATUS_SYSTEM, code: task.status }] : [],
    },
  };
}

function focusOf(resource: Resource, fhirVersion: 'r4' | 'stu3') {
  const versionId = resource.meta?.versionId;
  if (typeof resource.id !== 'string' || typeof versionId !== 'string') {
    throw new Error(`${resource.resourceType} must be the stored version (with id and meta.versionId) to raise an event`);
  }
  return { resourceType: resource.resourceType, id: resource.id, versionId, fhirVersion };
}

function identifiers(value: unknown): TokenValue[] {
  return objects(value).flatMap((identifier) => {
    const code = stringAt(identifier, 'value');
    if (!code) return [];
    const system = stringAt(identifier, 'system');
    return [system ? { system, code } : { code }];
  });
}

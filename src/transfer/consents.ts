import { createHash } from 'node:crypto';
import type { Resource } from '../fhir/version.js';
import { readOptional } from '../store/optional.js';
import { CONSENT_ACTION_SYSTEM, CONSENT_REQUIRES_PERSON_EXTENSION, CONSENT_SCOPE_SYSTEM, EOVERDRACHT_CONSENT_SCOPE } from '../vocabulary/canonical.js';
import { asList, isObject } from '../vocabulary/json.js';
import type { DocumentKind } from './codes.js';
import { nowInstant, organizationReference, type TransferContext } from './context.js';
import { scopeOf } from './storage.js';

/**
 * The sender's record of who may pull what (issue #14 item 2): resource-level R4 Consents as the Nuts generic
 * functions write them (network-protocols.md §1.7), in the tenant's R4 store, where its EHR reads them and the guard
 * judges every pull by them (auth/consents.ts). R4, not STU3: only R4 Consent has `scope` and `provision`, which
 * the Knooppunt's PIP reads (`Consent?data=Type/id`). Per transfer, written in the transaction of each change:
 * - `eoverdracht-task-{task}`: the workflow Task; actions `access` and, while the transfer runs, `correct` (the
 *   receiver's update of the Task it owns). It stays active after the end, `access` only, for a year (Bolt §4.2.1:
 *   "de toegang tot de Task resource blijft wel behouden, deze verloopt vanzelf na een jaar").
 * - `eoverdracht-advancenotice-{task}` and `eoverdracht-handoff-{task}`: a document (the Composition and everything
 *   it references), active while the Task's status opens it (Bolt §4.2.1: requested and accepted the advance
 *   notice, in-progress the handoff, which is then added and the advance notice's Consent set `inactive`; a later
 *   handoff replaces the earlier one's data); both `inactive` once the transfer is rejected, cancelled or completed.
 * Each carries the person policy (conformance/person-policy.json, `context.personPolicy`) for what it opens: where
 * the policy says so, the guard opens its resources only to a token that names a person (auth/consents.ts).
 */
export const consentIds = (taskId: string) => ({
  Task: consentId('eoverdracht-task-', taskId),
  advanceNotice: consentId('eoverdracht-advancenotice-', taskId),
  nursingHandoff: consentId('eoverdracht-handoff-', taskId),
});

/** FHIR ids are at most 64 characters: a Task id too long to follow the prefix is replaced by its hash (hex). */
function consentId(prefix: string, taskId: string): string {
  const id = prefix + taskId;
  return id.length <= 64 ? id : prefix + createHash('sha256').update(taskId).digest('hex').slice(0, 64 - prefix.length);
}

/** Where the Bolt names the basis of the access (grondslag). */
const BOLT_POLICY = 'https://nuts-foundation.gitbook.io/bolts/eoverdracht/leveranciersspecificatie#421-grondslag';
const YEAR_MS = 365 * 24 * 3600 * 1000;

type Party = { id: string; name: string; ura?: string };

export interface ConsentState {
  tenant: string;
  taskId: string;
  /** The organisation the Task is offered to (named by its URA, else its gateway id). */
  receiver: Party;
  /** The document the change opens: its kind and `Type/id` of the Composition and everything it references. */
  document?: { kind: DocumentKind; shared: string[] };
  /** The document the Task's status opens now (task-status.ts `accessibleDocument`); none once the transfer ended. */
  open: DocumentKind | undefined;
  /** The document the Task's status opened before this change. */
  previouslyOpen?: DocumentKind;
  /** The Task is new: nothing of it recorded yet. */
  opening?: boolean;
  /** The transfer ended (rejected, cancelled, completed). */
  ended: boolean;
}

const action = (code: string) => ({ coding: [{ system: CONSENT_ACTION_SYSTEM, code }] });

type Opened = keyof TransferContext['personPolicy'];

function consent(context: TransferContext, tenant: string, id: string, opened: Opened, receiver: Party, status: string, data: string[], actions: string[], end?: string): Resource {
  const holder = context.registry.hosted(tenant)!.organization;
  return {
    resourceType: 'Consent',
    id,
    ...(context.personPolicy[opened] ? { extension: [{ url: CONSENT_REQUIRES_PERSON_EXTENSION, valueBoolean: true }] } : {}),
    status,
    scope: { coding: [{ system: CONSENT_SCOPE_SYSTEM, code: EOVERDRACHT_CONSENT_SCOPE }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    dateTime: nowInstant(context),
    organization: [organizationReference(holder)],
    policy: [{ uri: BOLT_POLICY }],
    provision: {
      type: 'permit',
      ...(end ? { period: { end } } : {}),
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
          reference: organizationReference(receiver),
        },
      ],
      action: actions.map(action),
      data: data.map((key) => ({ meaning: 'instance', reference: { reference: key } })),
    },
  };
}

function dataOf(resource: Resource): string[] {
  const provision = isObject(resource.provision) ? resource.provision : undefined;
  return asList(provision?.data).flatMap((entry) => (isObject(entry) && isObject(entry.reference) && typeof entry.reference.reference === 'string' ? [entry.reference.reference] : []));
}

/**
 * Writes the transfer's Consents as its state asks, in the caller's transaction (`context.store`), reading only what
 * the change may alter: the Task's Consent at the start and at the end, a document's Consent when it opens or closes.
 */
export async function recordConsents(context: TransferContext, state: ConsentState): Promise<void> {
  const { tenant, taskId, receiver, ended } = state;
  const scope = scopeOf(tenant, 'r4');
  const ids = consentIds(taskId);
  const resources = context.store.resources;
  const read = (id: string) => readOptional(resources, scope, 'Consent', id);
  const write = (opened: Opened, status: string, data: string[], actions: string[], end?: string) =>
    resources.update(scope, consent(context, tenant, ids[opened], opened, receiver, status, data, actions, end));
  if (state.opening) {
    await write('Task', 'active', [`Task/${taskId}`], ['access', 'correct']);
  } else if (ended) {
    const taskConsent = await read(ids.Task);
    const taskEnded = taskConsent !== undefined && isObject(taskConsent.provision) && isObject(taskConsent.provision.period);
    if (!taskEnded) await write('Task', 'active', [`Task/${taskId}`], ['access'], new Date(context.clock() + YEAR_MS).toISOString());
  }
  for (const kind of ['advanceNotice', 'nursingHandoff'] as const) {
    const status = !ended && state.open === kind ? 'active' : 'inactive';
    const opened = state.document?.kind === kind ? state.document.shared : undefined;
    if (opened) {
      await write(kind, status, opened, ['access']);
      continue;
    }
    // Unchanged unless the document open now differs from the one before, or the transfer ended.
    if (state.opening || (!ended && state.open === state.previouslyOpen)) continue;
    const current = await read(ids[kind]);
    if (current && current.status !== status) await write(kind, status, dataOf(current), ['access']);
  }
}

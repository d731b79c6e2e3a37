import { GATEWAY_CANONICAL } from '../auth/canonical.js';
import type { Resource } from '../fhir/version.js';
import { readOptional } from '../store/optional.js';
import type { ResourceRepository } from '../store/repository.js';
import { scopeOf, writeIfUnchanged } from './storage.js';

/**
 * The gateway's bookkeeping of each transfer Task, kept beside the Task as an R4 Basic with the Task's id (in the
 * tenant's R4 scope, like the authorization credentials): which organisation is on the other side and the
 * credentials that open the Task and its document. A record read and saved again is saved only if unchanged since
 * (`versionId`); the tenant's EHR may read the Basic but not write it (`isTransferRecord`).
 */
export interface OutboundTransfer {
  /** The version of the Basic this was read from (none for a new transfer). */
  versionId?: string;
  /** The Task at this (sending) gateway. */
  task: string;
  receiver: string;
  /** Every Task of the same offer, this one included: the candidates cancelled when one gets the handoff. */
  offer: string[];
  taskCredentialId?: string;
  taskCredentialJwt?: string;
  documentCredentialId?: string;
  documentCredentialJwt?: string;
}

export interface InboundTransfer {
  versionId?: string;
  /** The local copy of the sender's Task at this (receiving) gateway. */
  task: string;
  sender: string;
  remoteTask: string;
  /** The newest credentials the sender handed over (JWTs). */
  taskCredential?: string;
  documentCredential?: string;
}

const KIND_SYSTEM = `${GATEWAY_CANONICAL}/CodeSystem/basic-kind`;
const RECORD_EXTENSION = `${GATEWAY_CANONICAL}/StructureDefinition/eoverdracht-transfer`;

type Fields = Record<string, string | string[] | undefined>;
type Extension = { url: string; valueString?: string; extension?: Extension[] };

function toBasic(kind: string, id: string, fields: Fields): Resource {
  const parts = Object.entries(fields).flatMap(([url, value]) =>
    (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((valueString) => ({ url, valueString })),
  );
  return {
    resourceType: 'Basic',
    id,
    code: { coding: [{ system: KIND_SYSTEM, code: kind }] },
    subject: { reference: `Task/${id}` },
    extension: [{ url: RECORD_EXTENSION, extension: parts }],
  };
}

function fieldsOf(basic: Resource): Map<string, string[]> {
  const record = ((basic.extension as Extension[] | undefined) ?? []).find((e) => e.url === RECORD_EXTENSION);
  const fields = new Map<string, string[]>();
  for (const part of record?.extension ?? []) if (part.valueString !== undefined) fields.set(part.url, [...(fields.get(part.url) ?? []), part.valueString]);
  return fields;
}

const isKind = (basic: Resource, kind: string) =>
  ((basic.code as { coding?: { system?: string; code?: string }[] } | undefined)?.coding ?? []).some((c) => c.system === KIND_SYSTEM && c.code === kind);

const OUTBOUND = 'eoverdracht-outbound';
const INBOUND = 'eoverdracht-inbound';

/** True for a transfer's bookkeeping Basic, either side. */
export const isTransferRecord = (resource: Resource): boolean =>
  resource.resourceType === 'Basic' && (isKind(resource, OUTBOUND) || isKind(resource, INBOUND));

async function save(resources: ResourceRepository, tenant: string, kind: string, transfer: OutboundTransfer | InboundTransfer): Promise<void> {
  const basic = toBasic(kind, transfer.task, { ...transfer, task: undefined, versionId: undefined });
  await writeIfUnchanged(resources, scopeOf(tenant, 'r4'), basic, transfer.versionId);
}

export async function saveOutbound(resources: ResourceRepository, tenant: string, transfer: OutboundTransfer): Promise<void> {
  await save(resources, tenant, OUTBOUND, transfer);
}

export async function readOutbound(resources: ResourceRepository, tenant: string, task: string): Promise<OutboundTransfer | undefined> {
  const basic = await readOptional(resources, scopeOf(tenant, 'r4'), 'Basic', task);
  if (!basic || !isKind(basic, OUTBOUND)) return undefined;
  const fields = fieldsOf(basic);
  const one = (name: string) => fields.get(name)?.[0];
  return {
    versionId: basic.meta?.versionId,
    task,
    receiver: one('receiver') ?? '',
    offer: fields.get('offer') ?? [task],
    taskCredentialId: one('taskCredentialId'),
    taskCredentialJwt: one('taskCredentialJwt'),
    documentCredentialId: one('documentCredentialId'),
    documentCredentialJwt: one('documentCredentialJwt'),
  };
}

export async function saveInbound(resources: ResourceRepository, tenant: string, transfer: InboundTransfer): Promise<void> {
  await save(resources, tenant, INBOUND, transfer);
}

export async function readInbound(resources: ResourceRepository, tenant: string, task: string): Promise<InboundTransfer | undefined> {
  const basic = await readOptional(resources, scopeOf(tenant, 'r4'), 'Basic', task);
  if (!basic || !isKind(basic, INBOUND)) return undefined;
  const fields = fieldsOf(basic);
  const one = (name: string) => fields.get(name)?.[0];
  return {
    versionId: basic.meta?.versionId,
    task,
    sender: one('sender') ?? '',
    remoteTask: one('remoteTask') ?? '',
    taskCredential: one('taskCredential'),
    documentCredential: one('documentCredential'),
  };
}

import type { Person } from '../fhir/principal.js';
import { isUniqueViolation, type StoreContext } from './context.js';
import { VersionConflict } from './optimistic.js';
import type {
  CapacityState,
  CapacityStates,
  CredentialRecord,
  CredentialRecords,
  TransferRecord,
  TransferRecords,
  Versioned,
} from './repository.js';

type Context = Pick<StoreContext, 'statements'>;

/**
 * A new record (no version read) is inserted, one read before is updated only while still at that version; a lost
 * race either way is a VersionConflict. `update` answers the rows it changed.
 */
async function writeAtVersion(what: string, version: number | undefined, insert: () => Promise<unknown>, update: (version: number) => Promise<unknown[]>) {
  if (version === undefined) {
    try {
      await insert();
    } catch (error) {
      throw isUniqueViolation(error) ? new VersionConflict(what) : error;
    }
    return;
  }
  if ((await update(version)).length === 0) throw new VersionConflict(what);
}

const TRANSFER_COLUMNS = [
  'side',
  'peer',
  'remote_task',
  'offer',
  'task_credential_id',
  'task_credential_jwt',
  'document_credential_id',
  'document_credential_jwt',
  'person',
] as const;

/** Transfer records, one row per (tenant, Task); read on every Task write, so by compiled statements. */
export class KyselyTransferRecords implements TransferRecords {
  constructor(private readonly context: Context) {}

  async find(tenant: string, task: string): Promise<Versioned<TransferRecord> | undefined> {
    const [row] = await this.context.statements.run(
      'find-transfer-record',
      (db, slot) => db.selectFrom('transfer_records').select([...TRANSFER_COLUMNS, 'version']).where('tenant', '=', slot(0)).where('task', '=', slot(1)),
      [tenant, task],
    );
    if (!row) return undefined;
    const value: TransferRecord = { task, side: row.side, peer: row.peer };
    if (row.remote_task !== null) value.remoteTask = row.remote_task;
    if (row.offer !== null) value.offer = JSON.parse(row.offer) as string[];
    if (row.task_credential_id !== null) value.taskCredentialId = row.task_credential_id;
    if (row.task_credential_jwt !== null) value.taskCredentialJwt = row.task_credential_jwt;
    if (row.document_credential_id !== null) value.documentCredentialId = row.document_credential_id;
    if (row.document_credential_jwt !== null) value.documentCredentialJwt = row.document_credential_jwt;
    if (row.person !== null) value.person = JSON.parse(row.person) as Person;
    return { value, version: Number(row.version) };
  }

  async save(tenant: string, record: TransferRecord, version?: number): Promise<void> {
    const columns = [
      record.side,
      record.peer,
      record.remoteTask ?? null,
      record.offer === undefined ? null : JSON.stringify(record.offer),
      record.taskCredentialId ?? null,
      record.taskCredentialJwt ?? null,
      record.documentCredentialId ?? null,
      record.documentCredentialJwt ?? null,
      record.person === undefined ? null : JSON.stringify(record.person),
    ];
    await writeAtVersion(
      `The transfer record of Task/${record.task}`,
      version,
      () => this.context.statements.insert('transfer_records', ['tenant', 'task', ...TRANSFER_COLUMNS, 'version'], [[tenant, record.task, ...columns, 1]]),
      (read) =>
        this.context.statements.run(
          'update-transfer-record',
          (db, slot) =>
            db
              .updateTable('transfer_records')
              .set({
                side: slot(0),
                peer: slot(1),
                remote_task: slot(2),
                offer: slot(3),
                task_credential_id: slot(4),
                task_credential_jwt: slot(5),
                document_credential_id: slot(6),
                document_credential_jwt: slot(7),
                person: slot(8),
                version: slot(9),
              })
              .where('tenant', '=', slot(10))
              .where('task', '=', slot(11))
              .where('version', '=', slot(12))
              .returning('version'),
          [...columns, read + 1, tenant, record.task, read],
        ),
    );
  }
}

/** Capacity states, one row per tenant. */
export class KyselyCapacityStates implements CapacityStates {
  constructor(private readonly context: Context) {}

  async find(tenant: string): Promise<Versioned<CapacityState> | undefined> {
    const [row] = await this.context.statements.run(
      'find-capacity-state',
      (db, slot) => db.selectFrom('capacity_states').select(['census', 'ledger', 'version']).where('tenant', '=', slot(0)),
      [tenant],
    );
    if (!row) return undefined;
    const ledger = JSON.parse(row.ledger) as CapacityState['ledger'];
    return { value: row.census === null ? { ledger } : { census: row.census, ledger }, version: Number(row.version) };
  }

  async save(tenant: string, state: CapacityState, version?: number): Promise<void> {
    const census = state.census ?? null;
    const ledger = JSON.stringify(state.ledger);
    await writeAtVersion(
      `The capacity state of '${tenant}'`,
      version,
      () => this.context.statements.insert('capacity_states', ['tenant', 'census', 'ledger', 'version'], [[tenant, census, ledger, 1]]),
      (read) =>
        this.context.statements.run(
          'update-capacity-state',
          (db, slot) =>
            db
              .updateTable('capacity_states')
              .set({ census: slot(0), ledger: slot(1), version: slot(2) })
              .where('tenant', '=', slot(3))
              .where('version', '=', slot(4))
              .returning('version'),
          [census, ledger, read + 1, tenant, read],
        ),
    );
  }
}

/** Authorization credentials, one row per (issuer, id); looked up on every request that presents one. */
export class KyselyCredentialRecords implements CredentialRecords {
  constructor(private readonly context: Context) {}

  async add(record: CredentialRecord): Promise<void> {
    await this.context.statements.insert(
      'authorization_credentials',
      ['issuer', 'id', 'jwt', 'issued_at', 'revoked_at'],
      [[record.issuer, record.id, record.jwt, record.issuedAt.getTime(), record.revokedAt?.getTime() ?? null]],
    );
  }

  async find(issuer: string, id: string): Promise<CredentialRecord | undefined> {
    const [row] = await this.context.statements.run(
      'find-credential',
      (db, slot) => db.selectFrom('authorization_credentials').select(['jwt', 'issued_at', 'revoked_at']).where('issuer', '=', slot(0)).where('id', '=', slot(1)),
      [issuer, id],
    );
    if (!row) return undefined;
    const record: CredentialRecord = { issuer, id, jwt: row.jwt, issuedAt: new Date(Number(row.issued_at)) };
    if (row.revoked_at !== null) record.revokedAt = new Date(Number(row.revoked_at));
    return record;
  }

  async revoke(issuer: string, id: string, at: Date): Promise<boolean> {
    const [row] = await this.context.statements.run(
      'revoke-credential',
      (db, slot) =>
        db
          .updateTable('authorization_credentials')
          .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(slot(2))) }))
          .where('issuer', '=', slot(0))
          .where('id', '=', slot(1))
          .returning('id'),
      [issuer, id, at.getTime()],
    );
    return row !== undefined;
  }
}

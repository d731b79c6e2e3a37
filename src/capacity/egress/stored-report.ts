import type { Resource } from '../../fhir/version.js';
import type { AuditTrail, ResourceRepository } from '../../store/repository.js';
import { objects } from '../../vocabulary/json.js';
import { buildAvailabilityPayload, type AvailabilitySource } from './payload.js';
import { egressPolicy, type EgressPolicy } from './policy.js';
import { recordEgress, type Sent } from './release.js';

/** A provider's report as a coordination point stored it, at one version (the focus of a subscription event). */
export interface ReportVersion {
  id: string;
  versionId: string;
}

/** What of the store the egress reads: the stored report versions. */
export interface EgressStore {
  resources: Pick<ResourceRepository, 'vread'>;
}

/** Versions never change: a payload built once serves every subscriber of the same event. */
const CACHE_LIMIT = 1000;

/**
 * Availability as it leaves a coordination point towards subscribers (subscriptions' `AvailabilityEgress` port,
 * wired in main.ts): the stored report version built from the egress allowlist once, whoever it goes to, with the
 * report's id (`ura-<URA>`) as its identity. Every body that carries it is recorded with the SHA-256 of its exact
 * bytes; the availability itself, the same in every body of one version, is kept in the first record of that version
 * (per process), so a thousand subscribers cost a thousand hashes and not a thousand copies. The bodies of one version
 * recorded in one turn of the event loop (a dispatcher round's concurrent deliveries) share one AuditEvent.
 */
export class StoredReportEgress {
  private readonly built = new Map<string, Promise<Resource | undefined>>();
  private readonly kept = new Set<string>();
  private pending: PendingRecord[] = [];

  constructor(private readonly policy: EgressPolicy = egressPolicy()) {}

  /** The report as it may leave, or undefined when nothing of it is publishable. */
  payload(store: EgressStore, tenant: string, report: ReportVersion): Promise<Resource | undefined> {
    const key = versionKey(tenant, report);
    let payload = this.built.get(key);
    if (!payload) {
      payload = this.build(store, tenant, report);
      if (this.built.size >= CACHE_LIMIT) this.built.clear();
      this.built.set(key, payload);
      payload.catch(() => this.built.delete(key));
    }
    return payload;
  }

  /**
   * Records bytes that carry the payload of `report` (built by `payload` before), right before they are sent; settles
   * once the record is written.
   */
  record(trail: Pick<AuditTrail, 'append'>, tenant: string, report: ReportVersion, sent: Sent): Promise<void> {
    const key = versionKey(tenant, report);
    let batch = this.pending.find((pending) => pending.key === key && pending.trail === trail);
    if (!batch) {
      if (this.pending.length === 0) setImmediate(() => void this.flush());
      batch = { key, trail, tenant, report, sent: [], settled: [] };
      this.pending.push(batch);
    }
    return new Promise((resolve, reject) => {
      batch.sent.push(sent);
      batch.settled.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batches = this.pending;
    this.pending = [];
    await Promise.all(batches.map((batch) => this.write(batch)));
  }

  private async write({ trail, tenant, report, sent, settled }: PendingRecord): Promise<void> {
    try {
      await recordEgress(trail, tenant, sent, this.policy.version, await this.toKeep(tenant, report));
      for (const { resolve } of settled) resolve();
    } catch (error) {
      for (const { reject } of settled) reject(error);
    }
  }

  /** The payload as JSON for the first record of its version, else nothing. */
  private async toKeep(tenant: string, report: ReportVersion): Promise<string | undefined> {
    const key = versionKey(tenant, report);
    const payload = await this.built.get(key);
    if (!payload || this.kept.has(key)) return undefined;
    if (this.kept.size >= CACHE_LIMIT) this.kept.clear();
    this.kept.add(key);
    return JSON.stringify(payload);
  }

  private async build(store: EgressStore, tenant: string, report: ReportVersion): Promise<Resource | undefined> {
    const stored = await store.resources.vread({ tenant, version: 'r4' }, 'MeasureReport', report.id, report.versionId);
    const { resourceType, ...payload } = buildAvailabilityPayload(availabilitySource(stored), this.policy);
    return resourceType === 'OperationOutcome' ? undefined : { resourceType, id: report.id, ...payload };
  }
}

interface PendingRecord {
  key: string;
  trail: Pick<AuditTrail, 'append'>;
  tenant: string;
  report: ReportVersion;
  sent: Sent[];
  settled: { resolve: () => void; reject: (error: unknown) => void }[];
}

const versionKey = (tenant: string, report: ReportVersion) => `${tenant}|${report.id}/${report.versionId}`;

/**
 * A published availability report read back as its parts: the egress builder puts the provider Organization first
 * in `contained`, then its Endpoints (the policy's `links`).
 */
function availabilitySource(report: Resource): AvailabilitySource {
  const [organization, ...endpoints] = objects(report.contained);
  return { organization, endpoints, report };
}

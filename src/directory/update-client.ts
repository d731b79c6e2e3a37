import { retryDelay, type BackoffPolicy } from '../outbox/backoff.js';
import type { UnitOfWork } from '../store/repository.js';
import { codings, objects, stringAt } from '../vocabulary/json.js';
import type { DirectoryCounterparties } from './counterparties.js';
import { readChanges, type Fetch, type HistoryChange, type HistoryClientOptions } from './history-client.js';
import { DIRECTORY_RESOURCE_TYPES, PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM, ROOT_RESOURCE_TYPES } from './payload-types.js';
import { applyChanges, type Applied } from './query-directory.js';
import { isHttpAddress, keyOf, referencedId, urasOf, validateRound, type DirectoryAuthority, type DirectoryContents } from './validation.js';

/**
 * The mCSD update client: from the configured root directories (regional, national) it discovers the organisations'
 * own administration directories (Endpoints of payloadType admin-directory that a URA-bearing Organization
 * references) and keeps the local query directory in sync with them, a round at a time: each resource type's
 * `_history` since the previous round, newest-first de-duplicated, validated, written. A directory that fails waits
 * (exponential backoff) before it is asked again; the others go on.
 */
export interface DirectoryStatus {
  base: string;
  kind: 'root' | 'organization';
  /** The URAs the directory speaks for (organisation directories). */
  uras: string[];
  result: 'never' | 'ok' | 'failed';
  lastAttempt?: string;
  lastSuccess?: string;
  /** The `_since` of the next round: how far the local copy is known to be current. */
  since?: string;
  counts: Applied & { warnings: number };
  warnings: string[];
  error?: string;
  failures: number;
  nextAttempt?: string;
}

export interface UpdateClientOptions {
  roots: string[];
  store: UnitOfWork;
  counterparties: DirectoryCounterparties;
  fetch?: Fetch;
  pageSize?: number;
  maxEntries?: number;
  timeoutMs?: number;
  /** Directories never followed (this gateway's own, to avoid a loop through its own data); trailing `/` ignored. */
  exclude?: string[];
  backoff?: Pick<BackoffPolicy, 'baseMs' | 'maxMs'>;
  /** How many directories are read at once. */
  concurrency?: number;
  clock?: () => number;
  onWarning?: (base: string, warning: string) => void;
}

interface DirectoryRecord {
  status: DirectoryStatus;
  authority: DirectoryAuthority;
  contents: DirectoryContents;
  /** Counts the rounds that changed `contents` (the counterparties of an unchanged directory are not rebuilt). */
  version: number;
  since?: string;
}

const DEFAULT_BACKOFF = { baseMs: 5_000, maxMs: 15 * 60_000 };
/** Without a server time on the first page, the next round starts a little before the local clock. */
const CLOCK_MARGIN_MS = 2_000;
const MAX_WARNINGS_KEPT = 50;

const trimmed = (url: string) => url.replace(/\/+$/, '');

export class UpdateClient {
  private readonly roots = new Map<string, DirectoryRecord>();
  private readonly organizations = new Map<string, DirectoryRecord>();
  private readonly history: HistoryClientOptions;
  private readonly clock: () => number;
  private running: Promise<DirectoryStatus[]> | undefined;
  /** The round asked for while another ran: it starts when that one ends, for everyone who asked meanwhile. */
  private asked: Promise<DirectoryStatus[]> | undefined;

  constructor(private readonly options: UpdateClientOptions) {
    this.history = {
      fetch: options.fetch ?? fetch,
      pageSize: options.pageSize ?? 100,
      maxEntries: options.maxEntries ?? 200_000,
      timeoutMs: options.timeoutMs ?? 30_000,
    };
    this.clock = options.clock ?? Date.now;
    for (const root of options.roots) this.roots.set(trimmed(root), newRecord(trimmed(root), 'root', { resourceTypes: ROOT_RESOURCE_TYPES }));
  }

  /**
   * One sync of every directory. A scheduled round skips the directories still backing off, and joins a round that
   * runs. One asked for (`ignoreBackoff`) tries them all, and must see what changed before it was asked: while a round
   * runs, which may have read those directories already, it waits for that round and then runs one more.
   */
  sync(options: { ignoreBackoff?: boolean } = {}): Promise<DirectoryStatus[]> {
    const ignoreBackoff = options.ignoreBackoff ?? false;
    if (!this.running) return this.start(ignoreBackoff);
    if (!ignoreBackoff) return this.running;
    this.asked ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.asked = undefined;
        return this.running ?? this.start(true);
      });
    return this.asked;
  }

  private start(ignoreBackoff: boolean): Promise<DirectoryStatus[]> {
    this.running = this.syncAll(ignoreBackoff).finally(() => (this.running = undefined));
    return this.running;
  }

  status(): DirectoryStatus[] {
    return [...this.roots.values(), ...this.organizations.values()].map((record) => ({ ...record.status, counts: { ...record.status.counts } }));
  }

  private async syncAll(ignoreBackoff: boolean): Promise<DirectoryStatus[]> {
    for (const root of this.roots.values()) await this.syncDirectory(root, ignoreBackoff);
    await this.followDiscovered(this.discovered());
    await this.inParallel([...this.organizations.values()], (record) => this.syncDirectory(record, ignoreBackoff));
    this.options.counterparties.rebuild([...this.organizations.entries()].map(([base, record]) => ({ base, contents: record.contents, version: record.version })));
    return this.status();
  }

  /** Admin-directory Endpoints referenced by URA-bearing Organizations of the roots: directory base → its URAs. */
  private discovered(): Map<string, Set<string>> {
    const excluded = new Set((this.options.exclude ?? []).map(trimmed));
    const found = new Map<string, Set<string>>();
    for (const root of this.roots.values()) {
      for (const organization of root.contents.values()) {
        const ura = organization.resourceType === 'Organization' ? urasOf(organization)[0] : undefined;
        if (!ura) continue;
        for (const reference of objects(organization.endpoint)) {
          const endpoint = root.contents.get(keyOf('Endpoint', referencedId(reference) ?? ''));
          if (!endpoint || !isAdminDirectory(endpoint)) continue;
          const base = trimmed(stringAt(endpoint, 'address') as string);
          if (excluded.has(base)) continue;
          let uras = found.get(base);
          if (!uras) found.set(base, (uras = new Set()));
          uras.add(ura);
        }
      }
    }
    return found;
  }

  /** New directories are followed from scratch; one whose URAs changed is read again in full; one no longer named is emptied. */
  private async followDiscovered(found: Map<string, Set<string>>): Promise<void> {
    for (const [base, record] of this.organizations) {
      if (found.has(base)) continue;
      await this.forget(record);
      this.organizations.delete(base);
    }
    for (const [base, uras] of found) {
      const record = this.organizations.get(base);
      if (record && sameSet(record.authority.uras, uras)) continue;
      if (record) await this.forget(record);
      this.organizations.set(base, newRecord(base, 'organization', { resourceTypes: DIRECTORY_RESOURCE_TYPES, uras }));
    }
  }

  /** Deletes a directory's resources from the query directory. */
  private async forget(record: DirectoryRecord): Promise<void> {
    const deletions: HistoryChange[] = [...record.contents.values()].map((resource) => ({
      resourceType: resource.resourceType as string,
      id: resource.id as string,
      method: 'DELETE',
    }));
    await applyChanges(this.options.store, record.status.base, deletions);
  }

  private async syncDirectory(record: DirectoryRecord, ignoreBackoff: boolean): Promise<void> {
    const { status } = record;
    const now = this.clock();
    if (!ignoreBackoff && status.nextAttempt && Date.parse(status.nextAttempt) > now) return;
    status.lastAttempt = new Date(now).toISOString();
    try {
      const rounds = await Promise.all(record.authority.resourceTypes.map((type) => readChanges(status.base, type, record.since, this.history)));
      const changes = rounds.flatMap((round) => round.changes);
      const { accepted, warnings } = validateRound(changes, record.contents, record.authority);
      warnings.unshift(...rounds.flatMap((round) => round.warnings));
      const applied = record.status.kind === 'organization' ? await applyChanges(this.options.store, status.base, accepted) : countOf(accepted);
      for (const change of accepted) {
        if (change.resource) record.contents.set(keyOf(change.resourceType, change.id), change.resource);
        else record.contents.delete(keyOf(change.resourceType, change.id));
      }
      if (accepted.length > 0) record.version += 1;
      record.since = earliest(rounds.map((round) => round.answeredAt)) ?? new Date(now - CLOCK_MARGIN_MS).toISOString();
      for (const warning of warnings) this.options.onWarning?.(status.base, warning);
      Object.assign(status, {
        result: 'ok',
        lastSuccess: new Date(this.clock()).toISOString(),
        since: record.since,
        counts: { ...applied, warnings: warnings.length },
        warnings: warnings.slice(0, MAX_WARNINGS_KEPT),
        failures: 0,
      } satisfies Partial<DirectoryStatus>);
      delete status.error;
      delete status.nextAttempt;
    } catch (error) {
      status.result = 'failed';
      status.error = (error as Error).message;
      status.failures += 1;
      status.nextAttempt = new Date(now + retryDelay({ ...DEFAULT_BACKOFF, ...this.options.backoff, horizonMs: Infinity }, status.failures)).toISOString();
    }
  }

  private async inParallel<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await work(items[next++] as T);
    };
    await Promise.all(Array.from({ length: Math.min(items.length, this.options.concurrency ?? 4) }, worker));
  }
}

function newRecord(base: string, kind: DirectoryStatus['kind'], authority: DirectoryAuthority): DirectoryRecord {
  return {
    authority,
    version: 0,
    contents: new Map(),
    status: { base, kind, uras: [...(authority.uras ?? [])], result: 'never', counts: { created: 0, updated: 0, deleted: 0, warnings: 0 }, warnings: [], failures: 0 },
  };
}

function isAdminDirectory(endpoint: Record<string, unknown>): boolean {
  if (!isHttpAddress(endpoint.address)) return false;
  return objects(endpoint.payloadType)
    .flatMap(codings)
    .some((coding) => coding.system === PAYLOAD_TYPE_SYSTEM && coding.code === PAYLOAD_TYPES.adminDirectory);
}

function countOf(changes: HistoryChange[]): Applied {
  const deleted = changes.filter((change) => !change.resource).length;
  return { created: 0, updated: changes.length - deleted, deleted };
}

/** The earliest server time of the round's first pages: nothing written after it can have been missed. */
function earliest(times: (string | undefined)[]): string | undefined {
  if (times.some((time) => time === undefined)) return undefined;
  return (times as string[]).sort()[0];
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): boolean {
  return a !== undefined && a.size === b.size && [...a].every((item) => b.has(item));
}


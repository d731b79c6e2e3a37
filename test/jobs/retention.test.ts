import { beforeAll, describe, expect, it } from '@jest/globals';
import type { Kysely } from 'kysely';
import { createAuditor } from '../../src/audit/auditor.js';
import { DEFAULT_AUDIT } from '../../src/config/config.js';
import { applyRetention, pruneOlderThan, type Retention } from '../../src/jobs/retention.js';
import type { NewOutboxMessage, Store } from '../../src/store/repository.js';
import { backends, useBackend } from '../store/backends.js';

/**
 * What is past its retention goes, oldest first and a chunk at a time: delivered outbox messages (dead letters and
 * unfinished ones stay), subscription events, and AuditEvents as configured.
 */
const HOURLY: Retention = { deliveredOutboxHours: 1, subscriptionEventHours: 1, audit: DEFAULT_AUDIT };
const DAY = 24 * 3_600_000;
describe.each(backends)('retention on %s', (_name, makeBackend) => {
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  const messages = (count: number, tenant: string): NewOutboxMessage[] =>
    Array.from({ length: count }, (_, i) => ({ tenant, kind: 'test.retention', destination: 'https://x.example/', payload: { i } }));
  const statuses = async (tenant: string) => (await store.outbox.list(tenant, { limit: 10_000 })).map((message) => message.status).sort();
  const soon = () => new Date(Date.now() + 1000);

  it('deletes delivered outbox messages queued before the cut-off, and nothing else', async () => {
    const tenant = 'retention-a';
    const [first, second, third, pending] = await store.outbox.enqueueAll(messages(4, tenant));
    await store.outbox.completeAll([first!, second!]);
    await store.outbox.fail(third!, 'gave up');
    expect(await store.outbox.pruneDelivered(new Date(Date.now() - 60_000), 10)).toBe(0);
    expect(await store.outbox.pruneDelivered(soon(), 1)).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'delivered', 'pending']);
    expect(await pruneOlderThan((before, limit) => store.outbox.pruneDelivered(before, limit), soon())).toBe(1);
    expect(await statuses(tenant)).toEqual(['dead', 'pending']);
    expect((await store.outbox.list(tenant)).map((message) => message.id).sort()).toEqual([third, pending].sort());
  });

  it('gets through more than one chunk', async () => {
    const tenant = 'retention-b';
    await store.outbox.completeAll(await store.outbox.enqueueAll(messages(5_003, tenant)));
    expect(await pruneOlderThan((before, limit) => store.outbox.pruneDelivered(before, limit), soon())).toBe(5_003);
    expect(await statuses(tenant)).toEqual([]);
  });

  it('deletes subscription events raised before the cut-off, oldest first, and leaves the numbering as it was', async () => {
    const tenant = 'retention-c';
    await store.streams.append(tenant, 'subscription-1', ['one', 'two']);
    expect(await store.streams.pruneBefore(new Date(Date.now() - 60_000), 10)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cutOff = new Date();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.streams.append(tenant, 'subscription-1', ['three']);
    expect(await store.streams.pruneBefore(cutOff, 10)).toBe(2);
    expect((await store.streams.read(tenant, 'subscription-1', { from: 1, limit: 10 })).map((event) => [event.number, event.payload])).toEqual([[3, 'three']]);
    expect(await store.streams.head(tenant, 'subscription-1')).toBe(3);
    expect(await store.streams.append(tenant, 'subscription-1', ['four'])).toEqual([4]);
  });

  it('applies both retentions from one clock', async () => {
    const tenant = 'retention-d';
    await store.outbox.completeAll(await store.outbox.enqueueAll(messages(3, tenant)));
    await store.streams.appendEach(tenant, [{ stream: 'subscription-2', payload: 'x' }, { stream: 'subscription-3', payload: 'y' }]);
    const now = Date.now() + 1000;
    expect(await applyRetention(store, HOURLY, now)).toMatchObject({ outboxMessages: 0, subscriptionEvents: 0 });
    const later = await applyRetention(store, HOURLY, now + 3_600_000);
    expect(later.outboxMessages).toBeGreaterThanOrEqual(3);
    expect(later.subscriptionEvents).toBeGreaterThanOrEqual(2);
    expect(await statuses(tenant)).toEqual([]);
  });

  it('deletes jti keys and access tokens once they have expired, and keeps the live ones', async () => {
    const now = Date.now();
    const token = (id: string, expiresAt: number) => ({ id, secretHash: 'h', claims: '{}', expiresAt: new Date(expiresAt) });
    expect(await store.replay.remember('retention:expired', new Date(now - 1000))).toBe(true);
    expect(await store.replay.remember('retention:live', new Date(now + 60_000))).toBe(true);
    await store.accessTokens.save(token('01900000-0000-7000-8000-000000000001', now - 1000));
    await store.accessTokens.save(token('01900000-0000-7000-8000-000000000002', now + 60_000));
    const deleted = await applyRetention(store, HOURLY, now);
    expect({ replayKeys: deleted.replayKeys, accessTokens: deleted.accessTokens }).toEqual({ replayKeys: 1, accessTokens: 1 });
    expect(await store.accessTokens.find('01900000-0000-7000-8000-000000000001')).toBeUndefined();
    expect(await store.accessTokens.find('01900000-0000-7000-8000-000000000002')).toBeDefined();
    expect(await store.replay.remember('retention:live', new Date(now + 60_000))).toBe(false);
  });

  describe('the audit trail', () => {
    const now = Date.parse('2026-06-01T00:00:00Z');
    const tenant = 'retention-audit';
    /** Writes, as the token endpoint would, a refusal of a verified requester and one of an unverified request, `daysAgo` old. */
    async function refusals(daysAgo: number): Promise<void> {
      const auditor = createAuditor(store, { clock: () => now - daysAgo * DAY });
      await auditor.record({ type: 'token', tenant, requester: `hospital-${daysAgo}`, requesterKind: 'organization', outcome: 'refused', description: 'invalid_grant: jti has been used before' });
      await auditor.record({ type: 'unverified-token', tenant, requesterKind: 'organization', claimed: { iss: `hospital-${daysAgo}` }, description: 'invalid_grant: signature verification failed' });
    }
    const trail = async () =>
      (await store.audit.search(tenant, { resourceType: 'AuditEvent', params: [], count: 100, offset: 0, sort: [], include: [], revinclude: [], total: 'none' })).resources.map(
        (event) => [event.recorded, (event.agent as { who?: unknown }[])[0]!.who === undefined ? 'unverified' : 'verified'],
      );
    const references = async () => {
      const db = (store as unknown as { db: Kysely<any> }).db;
      return (await db.selectFrom('audit_references').select('value').where('tenant', '=', tenant).orderBy('value').execute()).map((row) => row.value);
    };
    const day = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString();

    it('keeps everything for good by default but the refusals of unverified requesters, which go after unverifiedRetentionDays', async () => {
      await refusals(400);
      await refusals(91);
      await refusals(89);
      const deleted = await applyRetention(store, { ...HOURLY, audit: { unverifiedRetentionDays: 90 } }, now);
      expect({ unverified: deleted.unverifiedAuditEvents, all: deleted.auditEvents }).toEqual({ unverified: 2, all: 0 });
      expect(await trail()).toEqual([
        [day(400), 'verified'],
        [day(91), 'verified'],
        [day(89), 'verified'],
        [day(89), 'unverified'],
      ]);
    });

    it('deletes every event, with its references, past retentionDays when that is set', async () => {
      expect(await references()).toEqual(['hospital-400', 'hospital-89', 'hospital-91']);
      const deleted = await applyRetention(store, { ...HOURLY, audit: { retentionDays: 365, unverifiedRetentionDays: 90 } }, now);
      expect({ unverified: deleted.unverifiedAuditEvents, all: deleted.auditEvents }).toEqual({ unverified: 0, all: 1 });
      expect(await trail()).toEqual([
        [day(91), 'verified'],
        [day(89), 'verified'],
        [day(89), 'unverified'],
      ]);
      expect(await references()).toEqual(['hospital-89', 'hospital-91']);
    });
  });
});

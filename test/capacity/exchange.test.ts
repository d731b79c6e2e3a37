import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Principal } from '../../src/fhir/principal.js';
import { parseConfig, type GatewayConfig } from '../../src/config/config.js';
import { RemoteFailure } from '../../src/fhir/client/remote.js';
import type { OperationOutcome } from '../../src/fhir/outcome.js';
import type { Resource } from '../../src/fhir/version.js';
import { httpStatus } from '../../src/rest/status.js';
import { createDispatcher } from '../../src/outbox/dispatcher.js';
import { openStore } from '../../src/store/index.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { BED_STATUS_SYSTEM, POPULATION_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { createCapacity, type Capacity } from '../../src/capacity/index.js';
import { PUBLISH_KIND } from '../../src/capacity/provider/publisher.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { eventually } from '../harness/eventually.js';

/**
 * The capacity exchange in one process, on real SQLite stores: two providers' gateway (two tenants) publishes through
 * its outbox to a coordination point's gateway. The HTTP hop is replaced by a direct call carrying the exact bytes;
 * the cross-process version runs the real gateways.
 */
const JWKS = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] };
const ZCC = { id: 'zcc-rijnmond', name: 'ZCC Rijnmond', ura: '90000001' };
const VVT_A = { id: 'vvt-a', name: 'Zorggroep Maas', ura: '10000001' };
const VVT_B = { id: 'vvt-b', name: 'Huize Rotte', ura: '10000002' };

const directories: string[] = [];
let offset = 0;
const clock = () => Date.now() + offset;
const now = () => new Date(clock());

function providerConfig(): GatewayConfig {
  return parseConfig({
    publicBaseUrl: 'https://vvt-gateway.example',
    organizations: [VVT_A, VVT_B].map((org) => ({ ...org, roles: ['receiver'] })),
    trusted: [{ ...ZCC, jwks: JWKS, endpoints: { fhir: 'https://zcc.example/fhir' } }],
    coordinationPoint: { organization: ZCC.id },
  });
}

function coordinationConfig(): GatewayConfig {
  return parseConfig({
    publicBaseUrl: 'https://zcc.example',
    organizations: [{ ...ZCC, roles: ['coordination-point'] }],
    trusted: [VVT_A, VVT_B].map((org) => ({ ...org, jwks: JWKS })),
  });
}

async function freshStore(): Promise<Store> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'capacity-'));
  directories.push(dataDir);
  return openStore({ dataDir });
}

const population = (code: string, count: number) => ({ code: { coding: [{ system: POPULATION_SYSTEM, code }] }, count });
const measured = (minutesAgo = 1) => new Date(clock() - minutesAgo * 60_000).toISOString();

function ehrReport(groups: [string, number, number][], extra: Record<string, unknown> = {}): Resource {
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: 'https://vervolgzorg-gateway.example/fhir/Measure/care-availability',
    date: measured(0),
    period: { start: measured(), end: measured() },
    extension: [{ url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueMoney: { value: 312.5, currency: 'EUR' } }],
    group: groups.map(([careType, available, total]) => ({
      code: { coding: [{ system: CARE_TYPE_SYSTEM, code: careType }] },
      population: [population('available', available), population('total', total)],
    })),
    ...extra,
  };
}

const r4 = (tenant: string): Scope => ({ tenant, version: 'r4' });

interface Sent {
  body: string;
  requester: string;
  purpose: string;
}

/** The coordination point's gateway, called with the exact bytes the provider's gateway sends. */
function callsTo(point: () => { capacity: Capacity; store: Store }, sent: Sent[] = []) {
  return {
    remote: (_url: string, call: { requester: string; purposeOfUse: string }) => ({
      read: () => Promise.reject(new Error('not asked in these tests')),
      async post(body: Resource | string): Promise<void> {
        sent.push({ body: String(body), requester: call.requester, purpose: call.purposeOfUse });
        const principal: Principal = { tenant: ZCC.id, kind: 'organization', requester: call.requester, purposeOfUse: call.purposeOfUse, resources: [] };
        const { capacity, store } = point();
        const [outcome, resource] = await capacity.coordination.receive(store, r4(ZCC.id), principal, JSON.parse(String(body)), now());
        const status = httpStatus(outcome);
        if (status >= 300) throw new RemoteFailure(status, resource ?? outcome);
      },
    }),
  };
}

describe('capacity exchange: providers publish, the coordination point shows, matches and ages them', () => {
  let providerStore: Store;
  let cpStore: Store;
  let provider: Capacity;
  let cp: Capacity;
  const sent: Sent[] = [];
  const toCoordinationPoint = callsTo(() => ({ capacity: cp, store: cpStore }), sent);

  beforeAll(async () => {
    [providerStore, cpStore] = await Promise.all([freshStore(), freshStore()]);
    cp = createCapacity({ config: coordinationConfig(), store: cpStore, client: { remote: () => ({ read: () => Promise.reject(new Error('no calls out')), post: () => Promise.reject(new Error('no calls out')) }) }, clock });
    provider = createCapacity({ config: providerConfig(), store: providerStore, clock, publishDebounceMs: 0, client: toCoordinationPoint });
  });

  afterAll(async () => {
    await Promise.all([providerStore.close(), cpStore.close()]);
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });

  const deliver = () => createDispatcher({ outbox: providerStore.outbox, handlers: provider.outboxHandlers }).drain();
  const board = () => Object.fromEntries(cp.coordination.board(ZCC.id).allRows(now()).map((row) => [`${row.provider.split('|')[1]} ${row.careType}`, row.available]));

  it('intake keeps the internal report whole; what reaches the coordination point is only the allowlist', async () => {
    const [outcome, stored] = await provider.provider.submitReport(providerStore, r4(VVT_A.id), ehrReport([['elv-hoog', 3, 10], ['grz', 1, 8]]), now());
    expect(outcome.id).toBe('created');
    expect(await providerStore.resources.read(r4(VVT_A.id), 'MeasureReport', stored!.id!)).toMatchObject({ extension: [{ valueMoney: { value: 312.5 } }] });
    await deliver();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ requester: VVT_A.id, purpose: 'capacity-publication' });
    expect(sent[0].body).not.toMatch(/tarief|312/);
    expect(board()).toEqual({ '10000001 elv-hoog': 3, '10000001 grz': 1 });
    const atCp = await cpStore.resources.read(r4(ZCC.id), 'MeasureReport', 'ura-10000001');
    expect((atCp.contained as Resource[])[0]).toEqual({
      resourceType: 'Organization',
      id: 'provider',
      identifier: [{ system: URA_SYSTEM, value: VVT_A.ura }],
      name: VVT_A.name,
      meta: { profile: [expect.stringMatching(/provider-organization$/)] },
      endpoint: [{ reference: '#endpoint-1' }, { reference: '#endpoint-2' }, { reference: '#endpoint-3' }],
    });
    const audit = await providerStore.resources.search(r4(VVT_A.id), { resourceType: 'AuditEvent', params: [], count: 10, offset: 0, sort: [], include: [], revinclude: [], total: 'none' });
    const details = (audit.resources[0].entity as { detail: { type: string; valueString?: string }[] }[])[0].detail;
    expect(details).toEqual(
      expect.arrayContaining([
        { type: 'sha256', valueString: createHash('sha256').update(sent[0].body).digest('hex') },
        { type: 'destination', valueString: 'https://zcc.example/fhir/MeasureReport' },
      ]),
    );
  });

  it('a bed census is counted, stored internally and published; the board shows both providers', async () => {
    await providerStore.resources.update(r4(VVT_B.id), {
      resourceType: 'Organization',
      id: 'self',
      identifier: [{ system: URA_SYSTEM, value: VVT_B.ura }, { system: 'http://verzekeraar.example/contract', value: 'K-7' }],
      name: VVT_B.name,
      extension: [{ url: ZORGREGIO_EXTENSION, valueId: 'rijnmond' }],
      address: [{ postalCode: '3012 AB', city: 'Rotterdam' }],
    });
    const bed = (id: string, status: string) => ({
      resource: {
        resourceType: 'Location',
        id,
        operationalStatus: { system: BED_STATUS_SYSTEM, code: status },
        type: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }],
        physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] },
      },
    });
    const census = { resourceType: 'Bundle', type: 'collection', timestamp: measured(), entry: [bed('b1', 'U'), bed('b2', 'U'), bed('b3', 'O')] };
    const [outcome] = await provider.provider.submitCensus(providerStore, r4(VVT_B.id), census, now());
    expect(outcome.id).toBe('created');
    expect(await providerStore.resources.read(r4(VVT_B.id), 'Location', 'b3')).toMatchObject({ operationalStatus: { code: 'O' } });
    await deliver();
    expect(board()).toEqual({ '10000001 elv-hoog': 3, '10000001 grz': 1, '10000002 elv-hoog': 2 });
    expect(sent.at(-1)!.body).not.toContain('K-7');
    const [, answer] = await cp.coordination.match(cpStore, r4(ZCC.id), { 'care-type': ['elv-hoog'], postcode: ['3011 AA'] }, now());
    const names = (answer!.parameter as { name: string; part?: { name: string; valueString?: string }[] }[])
      .filter((parameter) => parameter.name === 'candidate')
      .map((candidate) => candidate.part!.find((part) => part.name === 'name')!.valueString);
    expect(names).toEqual([VVT_B.name, VVT_A.name]);
  });

  it('an accepted transfer takes a place at once; a cancelled one gives it back', async () => {
    const task = (status: string) => ({ resourceType: 'Task', id: 'transfer-1', status, performerType: [{ coding: [{ system: CARE_TYPE_SYSTEM, code: 'elv-hoog' }] }] });
    await providerStore.transaction((tx) => provider.onTaskStatusChange({ tenant: VVT_A.id, side: 'receiver', task: task('accepted'), previousStatus: 'received' }, tx));
    await deliver();
    expect(board()['10000001 elv-hoog']).toBe(2);
    await providerStore.transaction((tx) => provider.onTaskStatusChange({ tenant: VVT_A.id, side: 'receiver', task: task('cancelled'), previousStatus: 'accepted' }, tx));
    await deliver();
    expect(board()['10000001 elv-hoog']).toBe(3);
    const before = sent.length;
    await provider.onTaskStatusChange({ tenant: VVT_A.id, side: 'sender', task: task('accepted'), previousStatus: 'received' }, providerStore);
    await deliver();
    expect(sent).toHaveLength(before);
  });

  it('changes close together go out as one publication', async () => {
    const slow = createCapacity({ config: providerConfig(), store: providerStore, clock, publishDebounceMs: 60_000, client: { remote: () => ({ read: () => Promise.reject(new Error('not sent in this test')), post: () => Promise.reject(new Error('not sent in this test')) }) } });
    await slow.provider.submitReport(providerStore, r4(VVT_A.id), ehrReport([['elv-hoog', 3, 10]]), now());
    await slow.provider.submitReport(providerStore, r4(VVT_A.id), ehrReport([['elv-hoog', 2, 10]]), now());
    expect(await providerStore.outbox.list(VVT_A.id, { status: 'pending', kind: PUBLISH_KIND })).toHaveLength(1);
  });

  it('a running dispatcher, woken by the change feed when the debounce is over, delivers outside the transaction that scheduled it', async () => {
    const dispatcher = createDispatcher({ outbox: providerStore.outbox, changes: providerStore.changes, handlers: provider.outboxHandlers, pollMs: 60_000 });
    const woken = createCapacity({ config: providerConfig(), store: providerStore, clock, publishDebounceMs: 20, client: toCoordinationPoint });
    await dispatcher.start();
    try {
      await woken.provider.submitReport(providerStore, r4(VVT_B.id), ehrReport([['elv-hoog', 1, 3]]), now());
      await eventually('1 elv-hoog on the board', async () => (board()['10000002 elv-hoog'] === 1 ? true : undefined));
      await woken.provider.submitReport(providerStore, r4(VVT_B.id), ehrReport([['elv-hoog', 2, 3]]), now());
      await eventually('2 elv-hoog on the board', async () => (board()['10000002 elv-hoog'] === 2 ? true : undefined));
    } finally {
      await dispatcher.stop();
    }
  });

  it('refuses a report for another provider than the publishing organisation', async () => {
    const source = await provider.provider.source(providerStore, VVT_A.id, now());
    const { buildAvailabilityPayload } = await import('../../src/capacity/egress/payload.js');
    const principal: Principal = { tenant: ZCC.id, kind: 'organization', requester: VVT_B.id, purposeOfUse: 'capacity-publication', resources: [] };
    const [outcome] = await cp.coordination.receive(cpStore, r4(ZCC.id), principal, buildAvailabilityPayload(source!), now());
    expect(outcome).toMatchObject({ id: 'forbidden' });
  });

  it('a silent provider turns unknown on the board and in the stored report; a restarted point rebuilds the board', async () => {
    offset = 61 * 60_000;
    await cp.coordination.sweep(cpStore, now());
    expect(board()).toEqual({ '10000001 elv-hoog': { absent: 'unknown' }, '10000001 grz': { absent: 'unknown' }, '10000002 elv-hoog': { absent: 'unknown' } });
    const stored = await cpStore.resources.read(r4(ZCC.id), 'MeasureReport', 'ura-10000002');
    expect(JSON.stringify(stored)).not.toContain('"count"');
    const [, answer] = await cp.coordination.match(cpStore, r4(ZCC.id), { 'care-type': ['elv-hoog'], region: ['rijnmond'] }, now());
    expect((answer!.parameter as { name: string }[]).filter((parameter) => parameter.name === 'candidate')).toHaveLength(0);

    const restarted = createCapacity({ config: coordinationConfig(), store: cpStore, client: { remote: () => ({ read: () => Promise.reject(new Error('no calls out')), post: () => Promise.reject(new Error('no calls out')) }) }, clock });
    await restarted.coordination.rebuild(cpStore, [ZCC.id], now());
    const rows = (capacity: Capacity) => capacity.coordination.board(ZCC.id).allRows(now());
    expect(rows(restarted)).toEqual(rows(cp));
    offset = 0;
  });

  it('refuses bad intake with an OperationOutcome and publishes nothing', async () => {
    const before = (await providerStore.outbox.list(VVT_B.id)).length;
    const [outcome] = await provider.provider.submitReport(providerStore, r4(VVT_B.id), ehrReport([['ic', 1, 2]]), now());
    expect((outcome as OperationOutcome).id).toBe('unprocessable');
    expect(await providerStore.outbox.list(VVT_B.id)).toHaveLength(before);
  });
});

describe('capacity exchange: a report the coordination point cannot raise events for', () => {
  it("is not taken: the provider's outbox sends it again, and then report and events are stored together", async () => {
    const [providerStore, cpStore] = await Promise.all([freshStore(), freshStore()]);
    try {
      const changes: string[] = [];
      let failures = 1;
      const cp = createCapacity({
        config: coordinationConfig(),
        store: cpStore,
        client: { remote: () => ({ read: () => Promise.reject(new Error('no calls out')), post: () => Promise.reject(new Error('no calls out')) }) },
        clock,
        onBoardChange: async (change) => {
          if (failures-- > 0) throw new Error('raising the events failed');
          changes.push(`${change.report.id}/${change.report.meta?.versionId}`);
        },
      });
      const provider = createCapacity({ config: providerConfig(), store: providerStore, clock, publishDebounceMs: 0, client: callsTo(() => ({ capacity: cp, store: cpStore })) });
      const deliver = () => createDispatcher({ outbox: providerStore.outbox, handlers: provider.outboxHandlers, backoff: { baseMs: 0, maxMs: 0, horizonMs: 60_000 } }).drain();

      await provider.provider.submitReport(providerStore, r4(VVT_A.id), ehrReport([['elv-hoog', 3, 10]]), now());
      await deliver();
      expect(await providerStore.outbox.list(VVT_A.id, { kind: PUBLISH_KIND })).toMatchObject([
        { status: 'delivered', attempts: 2, lastError: expect.stringContaining('raising the events failed') },
      ]);
      // Version 1: the first attempt left nothing behind, and the stored version is the one the events name.
      expect(changes).toEqual(['ura-10000001/1']);
      expect(await cpStore.resources.read(r4(ZCC.id), 'MeasureReport', 'ura-10000001')).toMatchObject({ meta: { versionId: '1' } });
      expect(cp.coordination.board(ZCC.id).allRows(now())).toMatchObject([{ careType: 'elv-hoog', available: 3 }]);
    } finally {
      await Promise.all([providerStore.close(), cpStore.close()]);
    }
  });
});

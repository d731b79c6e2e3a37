import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { pino } from 'pino';
import { operationDefinition } from '../../src/rest/operations/definitions.js';
import { readOperationInput, readParameters } from '../../src/rest/operations/parameters.js';
import { issue, outcome } from '../../src/fhir/outcome.js';
import type { Resource } from '../../src/fhir/version.js';
import { DATA_ABSENT_REASON_EXTENSION } from '../../src/capacity/canonical.js';
import { CapacityBoard } from '../../src/capacity/coordination/board.js';
import {
  compareCandidates,
  matchCapacity,
  matchResult,
  parseMatchQuery,
  type MatchQuery,
} from '../../src/capacity/coordination/match.js';
import { postcode4 } from '../../src/capacity/coordination/postcode.js';
import { readPublication, type Publication } from '../../src/capacity/coordination/publication.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import type { Availability } from '../../src/capacity/model.js';
import { CoordinationPoint, type BoardChange, listedPublishers } from '../../src/capacity/coordination/service.js';
import type { Principal } from '../../src/fhir/principal.js';
import type { Scope, Store } from '../../src/store/repository.js';
import { OUTBOX_KINDS } from '../../src/subscriptions/canonical.js';
import { SubscriptionDirectory } from '../../src/subscriptions/directory.js';
import { EventRecorder, streamOf } from '../../src/subscriptions/events.js';
import { subscriptionTopics } from '../../src/subscriptions/topics.js';
import { capacityChanged } from '../../src/subscriptions/triggers.js';
import { backends, freshTenant, useBackend } from '../store/backends.js';
import { topicSubscription } from '../subscriptions/support.js';
import { pausedAfterFirstRead } from './paused-store.js';
import { MOMENT, source, type ProviderSample } from './samples.js';
import { DEFAULT_LIMITS } from '../../src/config/config.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

const HOUR = 3_600_000;
const minutesBefore = (minutes: number) => new Date(MOMENT.getTime() - minutes * 60_000).toISOString();

function provider(ura: string, postalCode: string, region = 'rijnmond'): ProviderSample {
  return { ura, name: `VVT ${ura}`, postalCode, region, endpoints: [{ role: 'notification', address: `https://vvt${ura}.example/notify` }] };
}

function publication(sample: ProviderSample, availability: Availability, publishedAt = MOMENT): Publication {
  const payload = buildAvailabilityPayload(source(sample, availability, publishedAt));
  const read = readPublication(payload, MOMENT);
  if ('resourceType' in read) throw new Error(JSON.stringify(read));
  return read;
}

const elvHoog = (available: number, minutes = 10): Availability => ({
  measuredAt: minutesBefore(minutes),
  groups: [{ careType: 'elv-hoog', available, total: available + 5 }],
});

describe('coordination point: reading publications', () => {
  const sample = provider('11111111', '3011 AB');

  it('rejects what is not an availability report of its contained provider', () => {
    const payload = buildAvailabilityPayload(source(sample, elvHoog(1))) as Resource & { reporter: object };
    expect(readPublication({ resourceType: 'Bundle', type: 'collection' }, MOMENT)).toMatchObject({ id: 'bad-request' });
    expect(readPublication({ ...payload, reporter: { ...payload.reporter, reference: 'Organization/1' } }, MOMENT)).toMatchObject({
      id: 'unprocessable',
      issue: [{ expression: ['MeasureReport.reporter'] }],
    });
    expect(readPublication(buildAvailabilityPayload(source(sample, elvHoog(1), new Date('2099-01-01T00:00:00Z'))), MOMENT)).toMatchObject({
      id: 'unprocessable',
      issue: [{ expression: ['MeasureReport.date'] }],
    });
  });

  it('rejects a report by another provider than the Organization it contains', () => {
    const other = source(provider('22222222', '3011 AB'), elvHoog(1));
    const mixed = buildAvailabilityPayload({ ...source(sample, elvHoog(1)), report: other.report });
    expect(readPublication(mixed, MOMENT)).toMatchObject({ id: 'unprocessable', issue: [{ expression: ['MeasureReport.reporter'] }] });
  });
});

describe('coordination point: the board', () => {
  it('shows the latest count per provider and care type, and ignores an older publication', () => {
    const board = new CapacityBoard(HOUR);
    const a = provider('11111111', '3011 AB');
    expect(board.apply(publication(a, elvHoog(3), new Date(MOMENT.getTime() - 1000)))).toEqual(['elv-hoog']);
    expect(board.apply(publication(a, elvHoog(2)))).toEqual(['elv-hoog']);
    expect(board.apply(publication(a, elvHoog(9), new Date(MOMENT.getTime() - 2000)))).toBeUndefined();
    expect(board.apply(publication(a, elvHoog(2)))).toEqual([]);
    expect(board.rows('elv-hoog', MOMENT)).toEqual([
      { provider: `${URA_SYSTEM}|11111111`, careType: 'elv-hoog', available: 2, total: 7, measuredAt: minutesBefore(10), stale: false },
    ]);
  });

  it("takes a provider's newer report as its whole picture: care types it no longer reports leave the board", () => {
    const board = new CapacityBoard(HOUR);
    const a = provider('11111111', '3011 AB');
    board.apply(publication(a, { measuredAt: minutesBefore(30), groups: [{ careType: 'elv-hoog', available: 2 }, { careType: 'grz', available: 1 }] }, new Date(MOMENT.getTime() - 1000)));
    expect(board.apply(publication(a, { measuredAt: minutesBefore(5), groups: [{ careType: 'grz', available: 1 }] }))).toEqual(['elv-hoog', 'grz']);
    expect(board.allRows(MOMENT).map((row) => [row.careType, row.measuredAt])).toEqual([['grz', minutesBefore(5)]]);
  });

  it('shows a provider silent longer than the staleness period as unknown, never its old numbers', () => {
    const board = new CapacityBoard(HOUR);
    board.apply(publication(provider('11111111', '3011 AB'), elvHoog(4, 10)));
    const later = new Date(MOMENT.getTime() + HOUR);
    expect(board.rows('elv-hoog', later)).toEqual([
      expect.objectContaining({ available: { absent: 'unknown' }, total: { absent: 'unknown' }, stale: true }),
    ]);
    expect(board.rows('elv-hoog', new Date(MOMENT.getTime() + HOUR - 11 * 60_000))[0]).toMatchObject({ available: 4, stale: false });
  });
});

describe('coordination point: $match-capacity', () => {
  const query = (overrides: Partial<MatchQuery> = {}): MatchQuery => ({
    careType: 'elv-hoog',
    postalCode: '3011 AB',
    date: '2025-03-14',
    count: 10,
    includeUnknown: false,
    ...overrides,
  });

  it('parses query parameters and Parameters alike, and says what is wrong', () => {
    expect(parseMatchQuery({ 'care-type': [`${CARE_TYPE_SYSTEM}|grz`], region: ['rijnmond'] }, MOMENT)).toEqual({
      careType: 'grz',
      region: 'rijnmond',
      date: '2025-03-14',
      count: 10,
      includeUnknown: false,
    });
    const parameters = {
      resourceType: 'Parameters',
      parameter: [
        { name: 'care-type', valueCode: 'elv-hoog' },
        { name: 'postcode', valueString: '3011 AB' },
        { name: 'date', valueDate: '2025-03-21' },
        { name: 'count', valuePositiveInt: 3 },
        { name: 'include-unknown', valueBoolean: true },
      ],
    };
    const input = readOperationInput(operationDefinition('MeasureReport-match-capacity'), { query: {}, body: parameters });
    expect(parseMatchQuery(input.asText(), MOMENT)).toEqual({ ...query({ date: '2025-03-21', count: 3, includeUnknown: true }) });
    const problems: [Record<string, string[]>, string][] = [
      [{ 'care-type': ['ic'], postcode: ['3011'] }, 'care-type'],
      [{ 'care-type': ['grz'] }, 'postcode'],
      [{ 'care-type': ['grz'], postcode: ['ABCD'] }, 'postcode'],
      [{ 'care-type': ['grz'], postcode: ['3011'], date: ['2025-02-30'] }, 'date'],
      [{ 'care-type': ['grz'], postcode: ['3011'], date: ['2025-03-13'] }, 'date'],
      [{ 'care-type': ['grz'], postcode: ['3011'], count: ['0'] }, 'count'],
      [{ 'care-type': ['grz'], postcode: ['3011'], 'include-unknown': ['yes'] }, 'include-unknown'],
    ];
    for (const [input, expression] of problems) {
      expect(parseMatchQuery(input, MOMENT)).toMatchObject({ id: 'bad-request', issue: [{ expression: [expression] }] });
    }
  });

  it('ranks free places first, then postcode-4 proximity, then freshness; leaves out full providers', () => {
    const board = new CapacityBoard(HOUR);
    board.apply(publication(provider('11111111', '3000 AA'), elvHoog(1, 20)));
    board.apply(publication(provider('22222222', '3012 BB'), elvHoog(5, 20)));
    board.apply(publication(provider('33333333', '3012 CC'), elvHoog(2, 5)));
    board.apply(publication(provider('44444444', '3011 AA'), elvHoog(0, 1)));
    board.apply(publication(provider('55555555', '3011 AA'), { measuredAt: minutesBefore(1), groups: [{ careType: 'elv-hoog', available: { absent: 'unknown' } }] }));
    const ranked = matchCapacity(board, query(), MOMENT).map((candidate) => candidate.provider.name);
    expect(ranked).toEqual(['VVT 33333333', 'VVT 22222222', 'VVT 11111111']);
    const withUnknown = matchCapacity(board, query({ includeUnknown: true, count: 4 }), MOMENT).map((candidate) => candidate.provider.name);
    expect(withUnknown).toEqual(['VVT 33333333', 'VVT 22222222', 'VVT 11111111', 'VVT 55555555']);
  });

  it('filters on region and answers with a Parameters resource carrying the eOverdracht endpoints', () => {
    const board = new CapacityBoard(HOUR);
    board.apply(publication(provider('11111111', '3011 AB', 'rijnmond'), elvHoog(2)));
    board.apply(publication(provider('22222222', '3011 AB', 'haaglanden'), elvHoog(2)));
    board.apply(publication(provider('33333333', '3011 AB', 'rijnmond'), { measuredAt: minutesBefore(2 * 60), groups: [{ careType: 'elv-hoog', available: 9 }] }));
    const asked = query({ postalCode: undefined, region: 'rijnmond', includeUnknown: true });
    const result = matchResult(asked, matchCapacity(board, asked, MOMENT)) as unknown as { parameter: { name: string; part?: Record<string, unknown>[] }[] };
    expect(() => readParameters(operationDefinition('MeasureReport-match-capacity'), 'out', result)).not.toThrow();
    const candidates = result.parameter.filter((parameter) => parameter.name === 'candidate').map((candidate) => candidate.part!);
    expect(candidates).toHaveLength(2);
    const first = Object.fromEntries(candidates[0].map((part) => [part.name, part]));
    expect(first).toMatchObject({
      rank: { valueInteger: 1 },
      provider: { valueIdentifier: { system: URA_SYSTEM, value: '11111111' } },
      available: { valueInteger: 2 },
      stale: { valueBoolean: false },
      endpoint: { resource: { resourceType: 'Endpoint', address: 'https://vvt11111111.example/notify' } },
    });
    expect(first.distance).toBeUndefined();
    const stale = Object.fromEntries(candidates[1].map((part) => [part.name, part]));
    expect(stale).toMatchObject({
      available: { _valueInteger: { extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: 'unknown' }] } },
      stale: { valueBoolean: true },
    });
  });

  it('property: the answer equals filtering and sorting the whole board by hand', () => {
    const entry = fc.record({
      ura: fc.stringMatching(/^[0-9]{8}$/),
      pc4: fc.integer({ min: 1000, max: 9999 }),
      region: fc.constantFrom('rijnmond', 'haaglanden'),
      careType: fc.constantFrom('elv-hoog', 'grz'),
      available: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(undefined)),
      minutes: fc.integer({ min: 0, max: 120 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (item) => item.ura, maxLength: 25 }),
        fc.record({ pc4: fc.integer({ min: 1000, max: 9999 }), region: fc.option(fc.constantFrom('rijnmond', 'haaglanden'), { nil: undefined }), includeUnknown: fc.boolean(), count: fc.integer({ min: 1, max: 30 }) }),
        (entries, ask) => {
          const board = new CapacityBoard(HOUR);
          for (const item of entries) {
            board.apply(publication(provider(item.ura, String(item.pc4), item.region), {
              measuredAt: minutesBefore(item.minutes),
              groups: [{ careType: item.careType, available: item.available ?? { absent: 'unknown' } }],
            }));
          }
          const asked = query({ postalCode: String(ask.pc4), region: ask.region, includeUnknown: ask.includeUnknown, count: ask.count });
          const expected = entries
            .filter((item) => item.careType === 'elv-hoog' && (ask.region === undefined || item.region === ask.region))
            .map((item) => ({ ...item, known: item.available !== undefined && item.minutes * 60_000 <= HOUR }))
            .filter((item) => (item.known ? item.available! > 0 : ask.includeUnknown))
            .sort((a, b) => Number(b.known) - Number(a.known) || Math.abs(a.pc4 - ask.pc4) - Math.abs(b.pc4 - ask.pc4) || a.minutes - b.minutes || a.ura.localeCompare(b.ura))
            .slice(0, ask.count)
            .map((item) => item.ura);
          const candidates = matchCapacity(board, asked, MOMENT);
          expect(candidates.map((candidate) => candidate.provider.identifiers[0].value)).toEqual(expected);
          for (let index = 1; index < candidates.length; index++) expect(compareCandidates(candidates[index - 1], candidates[index])).toBeLessThan(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads postcode-4 from full and short postcodes only', () => {
    expect([postcode4('3011 AB'), postcode4('3011AB'), postcode4('3011'), postcode4('0123'), postcode4('30111'), postcode4(undefined)]).toEqual([
      3011, 3011, 3011, undefined, undefined, undefined,
    ]);
  });
});

/** Providers publishing to the coordination point of the tests below, by the id of their `trusted` entry. */
const publishers = { 'vvt-66': provider('66666666', '3011 AB'), 'vvt-77': provider('77777777', '3012 AB') };
type Publisher = keyof typeof publishers;
const keyOf = (publisher: Publisher) => `${URA_SYSTEM}|${publishers[publisher].ura}`;
const principal = (tenant: string, requester: Publisher = 'vvt-66'): Principal => ({
  tenant,
  kind: 'organization',
  requester,
  purposeOfUse: 'capacity-publication',
  resources: [],
});
const payloadOf = (availability: Availability, publishedAt = MOMENT, publisher: Publisher = 'vvt-66') =>
  buildAvailabilityPayload(source(publishers[publisher], availability, publishedAt));

/**
 * A coordination-point tenant with a capacity-changed subscription, and its coordination point: `instance()` makes
 * another one (another gateway instance on the same database, given its own store). Events are raised by the real
 * recorder, then fail while `faults.failing` is set or for `faults.provider`; what the points log is in `logged`.
 */
async function coordinationTenant(store: Store) {
  const tenant = freshTenant('zcc');
  const scope: Scope = { tenant, version: 'r4' };
  const subscription = await store.resources.create(scope, topicSubscription({ endpoint: 'https://ziekenhuis.example/hook' }));
  const recorder = new EventRecorder(new SubscriptionDirectory(subscriptionTopics(), DEFAULT_LIMITS, 0, Date.now), Date.now);
  const faults: { failing: boolean; provider?: string } = { failing: false };
  const logged: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
  const instance = () =>
    new CoordinationPoint({
      publishers: listedPublishers(Object.entries(publishers).map(([id, sample]) => ({ id, name: sample.name, ura: sample.ura, endpoints: {} }))),
      staleAfterMs: HOUR,
      logger,
      onChange: async (change: BoardChange, tx) => {
        await recorder.record(tx, capacityChanged(change, MOMENT));
        if (faults.failing || change.provider === faults.provider) throw new Error('raising the events failed');
      },
    });
  const idOf = (publisher: Publisher) => `ura-${publishers[publisher].ura}`;
  return {
    tenant,
    scope,
    point: instance(),
    instance,
    faults,
    logged,
    events: () => store.streams.head(tenant, streamOf(String(subscription.id))),
    notifications: () => store.outbox.list(tenant, { kind: OUTBOX_KINDS.notify }),
    stored: (publisher: Publisher = 'vvt-66') => store.resources.read(scope, 'MeasureReport', idOf(publisher)),
    /** The stored versions of a provider's report, oldest first. */
    versions: async (publisher: Publisher = 'vvt-66') =>
      (await store.resources.history(scope, { resourceType: 'MeasureReport', id: idOf(publisher), count: 100 })).reverse().map((entry) => entry.resource!),
  };
}

/** The elv-hoog count available in a stored report. */
function availableIn(report: Resource): unknown {
  const read = readPublication(report, new Date(MOMENT.getTime() + 2 * HOUR));
  if ('resourceType' in read) throw new Error(JSON.stringify(read));
  return read.availability.groups.find((group) => group.careType === 'elv-hoog')?.available;
}

/**
 * "Nothing accepted is ever lost": a provider's report and the subscription events of its change are written in one
 * transaction. Raising the events fails once (after they were written): neither the report nor the events remain,
 * and the board is unchanged; the provider's gateway gets the error and sends again, and then both are there.
 */
describe.each(backends)('coordination point on %s: a stored report and its subscription events commit together', (_name, makeBackend) => {
  const payload = payloadOf(elvHoog(3));
  const reportId = 'ura-66666666';
  const backend = useBackend(makeBackend);
  let store: Store;

  beforeAll(async () => {
    store = await backend.open();
  });

  it('stores a report only with its events: after a failure neither is there, sent again both are', async () => {
    const { tenant, scope, point, faults, events, notifications, stored } = await coordinationTenant(store);
    faults.failing = true;
    await expect(point.receive(store, scope, principal(tenant), payload, MOMENT)).rejects.toThrow('raising the events failed');
    await expect(stored()).rejects.toMatchObject({ outcome: { id: 'not-found' } });
    expect([await events(), await notifications()]).toEqual([0, []]);
    expect(point.board(tenant).allRows(MOMENT)).toEqual([]);

    faults.failing = false;
    const [outcome, report] = await point.receive(store, scope, principal(tenant), payload, MOMENT);
    expect(outcome.id).toBe('created');
    expect(await stored()).toMatchObject({ id: reportId, meta: { versionId: report!.meta!.versionId } });
    expect(await events()).toBe(1);
    expect((await notifications()).map((message) => message.payload)).toMatchObject([
      { number: 1, event: { focus: { resourceType: 'MeasureReport', id: reportId, versionId: report!.meta!.versionId } } },
    ]);
    expect(point.board(tenant).allRows(MOMENT)).toMatchObject([{ careType: 'elv-hoog', available: 3 }]);
  });

  it('marks a silent provider unknown in the store only with its events: a failed sweep is logged and done again by the next', async () => {
    const { tenant, scope, point, faults, events, stored, logged } = await coordinationTenant(store);
    await point.receive(store, scope, principal(tenant), payload, MOMENT);
    const later = new Date(MOMENT.getTime() + HOUR);
    faults.failing = true;
    await point.sweep(store, later);
    expect(JSON.stringify(await stored())).toContain('"count":3');
    expect(await events()).toBe(1);
    expect(logged).toMatchObject([{ tenant, provider: keyOf('vvt-66'), err: { message: 'raising the events failed' } }]);

    faults.failing = false;
    await point.sweep(store, later);
    expect(JSON.stringify(await stored())).not.toContain('"count"');
    expect(await events()).toBe(2);
  });
});

/**
 * The coordination point decides against the stored report, in the transaction that replaces it (If-Match on the
 * version it read): the store keeps the newest report, the board follows the store, and a sweep marks unknown only a
 * stored report that is stale and not yet marked, once, whichever instance sweeps.
 */
describe.each(backends)('coordination point on %s: concurrent reports and sweeps', (name, makeBackend) => {
  const later = new Date(MOMENT.getTime() + HOUR);
  const older = payloadOf(elvHoog(3, 10), new Date(MOMENT.getTime() - 60_000));
  const newer = payloadOf(elvHoog(5, 5), MOMENT);
  const fresh = payloadOf({ measuredAt: new Date(later.getTime() - 60_000).toISOString(), groups: [{ careType: 'elv-hoog', available: 4 }] }, later);
  const onPostgres = name === 'postgres' ? it : it.skip;
  const backend = useBackend(makeBackend);
  let store: Store;
  /** The store of a second gateway instance on the same database. */
  let other: Store;

  beforeAll(async () => {
    [store, other] = [await backend.open(), await backend.open()];
  });

  /** Each stored version of the report is at least as new as the one before (by `MeasureReport.date`). */
  const publishedInOrder = (versions: Resource[]) =>
    versions.map((version) => String(version.date)).every((date, i, dates) => i === 0 || dates[i - 1] <= date);
  /** How many of the answers to `receive` stored the report. */
  const applied = (answers: Awaited<ReturnType<CoordinationPoint['receive']>>[]) => answers.filter(([, resource]) => resource !== undefined).length;

  it.each([
    ['newer first', [newer, older]],
    ['older first', [older, newer]],
  ])('two reports of one provider at once (%s): the newer is stored and on the board, events only for what was stored', async (_order, payloads) => {
    const { tenant, scope, point, events, stored, versions } = await coordinationTenant(store);
    const answers = await Promise.all(payloads.map((payload) => point.receive(store, scope, principal(tenant), payload, MOMENT)));
    expect(availableIn(await stored())).toBe(5);
    expect(point.board(tenant).allRows(MOMENT)).toMatchObject([{ available: 5, measuredAt: minutesBefore(5) }]);
    expect(publishedInOrder(await versions())).toBe(true);
    expect(await events()).toBe(applied(answers));

    // Arriving late on its own, the older one is answered as such and raises nothing.
    expect(await point.receive(store, scope, principal(tenant), older, MOMENT)).toEqual([
      outcome('ok', [issue('information', 'informational', 'Older than the report on the board; not applied')]),
    ]);
    expect(await events()).toBe(applied(answers));
  });

  it('two reports of one provider at once on two instances: the store keeps the newer', async () => {
    const { tenant, scope, point, instance, events, stored, versions } = await coordinationTenant(store);
    const second = instance();
    const answers = await Promise.all([
      second.receive(other, scope, principal(tenant), newer, MOMENT),
      point.receive(store, scope, principal(tenant), older, MOMENT),
    ]);
    expect(availableIn(await stored())).toBe(5);
    expect(second.board(tenant).allRows(MOMENT)).toMatchObject([{ available: 5 }]);
    expect(publishedInOrder(await versions())).toBe(true);
    expect(await events()).toBe(applied(answers));
  });

  onPostgres('a first report created by another writer after this one found none is not overwritten by an older one', async () => {
    const { tenant, scope, point, events, stored, versions } = await coordinationTenant(store);
    const paused = pausedAfterFirstRead(store);
    const late = point.receive(paused.store, scope, principal(tenant), older, MOMENT);
    await Promise.race([paused.reached, late]);
    await point.receive(store, scope, principal(tenant), newer, MOMENT);
    paused.release();
    expect(await late).toMatchObject([{ issue: [{ details: { text: 'Older than the report on the board; not applied' } }] }]);
    expect(availableIn(await stored())).toBe(5);
    expect(await versions()).toHaveLength(1);
    expect(await events()).toBe(1);
  });

  it('two instances sweeping the same stale provider: one rewrite, one set of events', async () => {
    const { tenant, scope, point, instance, events, stored, versions } = await coordinationTenant(store);
    const second = instance();
    await point.receive(store, scope, principal(tenant), payloadOf(elvHoog(3)), MOMENT);
    await second.rebuild(other, [tenant], MOMENT);
    await Promise.all([point.sweep(store, later), second.sweep(other, later)]);
    // Sweeping again finds the stored report already marked unknown.
    await Promise.all([point.sweep(store, later), second.sweep(other, later)]);
    expect(JSON.stringify(await stored())).not.toContain('"count"');
    expect(await versions()).toHaveLength(2);
    expect(await events()).toBe(2);
  });

  it('a sweep at the moment a fresh report arrives does not mark the fresh report unknown', async () => {
    const { tenant, scope, point, stored } = await coordinationTenant(store);
    await point.receive(store, scope, principal(tenant), payloadOf(elvHoog(3)), MOMENT);
    await Promise.all([point.receive(store, scope, principal(tenant), fresh, later), point.sweep(store, later)]);
    expect(availableIn(await stored())).toBe(4);
    expect(point.board(tenant).allRows(later)).toMatchObject([{ available: 4, stale: false }]);
  });

  onPostgres("a fresh report committed between the sweep's read and its write is not marked unknown", async () => {
    const { tenant, scope, point, stored, events } = await coordinationTenant(store);
    await point.receive(store, scope, principal(tenant), payloadOf(elvHoog(3)), MOMENT);
    const paused = pausedAfterFirstRead(store);
    const sweeping = point.sweep(paused.store, later);
    await paused.reached;
    await point.receive(store, scope, principal(tenant), fresh, later);
    paused.release();
    await sweeping;
    expect(availableIn(await stored())).toBe(4);
    expect(await events()).toBe(2);
  });

  it('a provider whose sweep fails does not stop the sweep of the others', async () => {
    const { tenant, scope, point, faults, stored, logged } = await coordinationTenant(store);
    await point.receive(store, scope, principal(tenant, 'vvt-66'), payloadOf(elvHoog(3), MOMENT, 'vvt-66'), MOMENT);
    await point.receive(store, scope, principal(tenant, 'vvt-77'), payloadOf(elvHoog(2), MOMENT, 'vvt-77'), MOMENT);
    faults.provider = keyOf('vvt-66');
    await point.sweep(store, later);
    expect(JSON.stringify(await stored('vvt-66'))).toContain('"count":3');
    expect(JSON.stringify(await stored('vvt-77'))).not.toContain('"count"');
    expect(logged).toMatchObject([{ level: 50, tenant, provider: keyOf('vvt-66'), err: { message: 'raising the events failed' } }]);
  });
});

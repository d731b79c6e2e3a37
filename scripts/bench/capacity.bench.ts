/**
 * Capacity figures, each beside a baseline measured in the same run:
 * - `$match-capacity` p95 on a coordination board of 500 providers x 10 care types (the care-type index of
 *   CapacityBoard), against a naive linear scan over all 5,000 rows with the same qualification and ranking;
 * - egress throughput: availability payloads built from the allowlist out of internal data full of tariffs,
 *   contained resources and narrative, against a plain deep copy (structuredClone) of the same input;
 * - intake → published p50: an EHR report accepted at a provider's gateway until it is on the coordination point's
 *   board (intake, state, outbox, delivery with allowlist and audit record, the point's checks, store and board), on
 *   two SQLite stores in this process with the HTTP hop replaced by a direct call; against the bare store writes of
 *   that path (create the report at the provider, update it at the point).
 */
import { ENDPOINT_CONNECTION_TYPE_SYSTEM, ENDPOINT_ROLE_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { CARE_TYPES } from '../../src/vocabulary/care-types.js';
import { CapacityBoard, shown, staleBefore, type BoardRow } from '../../src/capacity/coordination/board.js';
import { candidateFilter, compareCandidates, matchCapacity, type MatchQuery } from '../../src/capacity/coordination/match.js';
import { readPublication, type Publication } from '../../src/capacity/coordination/publication.js';
import { buildAvailabilityPayload, type AvailabilitySource } from '../../src/capacity/egress/payload.js';
import type { Availability, ProviderIdentity } from '../../src/capacity/model.js';
import { availabilityReport } from '../../src/capacity/report.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCapacity } from '../../src/capacity/index.js';
import { parseConfig } from '../../src/config/config.js';
import { RemoteFailure } from '../../src/fhir/client/remote.js';
import type { Resource } from '../../src/fhir/version.js';
import { createDispatcher } from '../../src/outbox/dispatcher.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import type { Figure } from './index.js';
import { percentile, round } from './stats.js';
import { URA_SYSTEM } from '../../src/vocabulary/canonical.js';

const PROVIDERS = 500;
const PUBLICATIONS = 200;
const QUERIES = 3_000;
const PAYLOADS = 20_000;
const STALE_AFTER_MS = 60 * 60_000;
const NOW = new Date('2025-03-14T12:00:00Z');
const CARE_TYPE_CODES = [...CARE_TYPES.keys()];
const REGIONS = ['rijnmond', 'haaglanden', 'zuid-holland-zuid'];

/** A small deterministic generator, so every run uses the same region. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/** One provider's internal data, with the competition-sensitive extras a real EHR sends along. */
function internalSource(index: number, next: () => number): AvailabilitySource {
  const ura = String(10_000_000 + index);
  const provider: ProviderIdentity = { identifier: { system: URA_SYSTEM, value: ura }, name: `Zorggroep ${index}` };
  const availability: Availability = {
    measuredAt: new Date(NOW.getTime() - Math.floor(next() * 2 * STALE_AFTER_MS)).toISOString(),
    groups: CARE_TYPE_CODES.map((careType) => {
      const total = Math.floor(next() * 30);
      return next() < 0.1 ? { careType, available: { absent: 'unknown' } } : { careType, available: Math.floor(next() * (total + 1)), total };
    }),
  };
  const tariff = { url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueMoney: { value: 150 + index, currency: 'EUR' } };
  return {
    organization: {
      resourceType: 'Organization',
      id: `org-${ura}`,
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Contract 2025, omzetplafond 1,2 mln</div>' },
      contained: [{ resourceType: 'Contract', id: 'c1', status: 'executed', term: [{ text: 'tarief ELV hoog 312,50' }] }],
      extension: [
        { url: ZORGREGIO_EXTENSION, valueId: REGIONS[index % REGIONS.length] },
        { url: 'http://vvt.example/fhir/StructureDefinition/omzetplafond', valueMoney: { value: 1_200_000, currency: 'EUR' } },
      ],
      identifier: [
        { system: URA_SYSTEM, value: ura },
        { system: 'http://zorgverzekeraar.example/contract', value: `K-${index}` },
      ],
      name: provider.name,
      address: [{ line: ['Zorgstraat 1'], postalCode: `${3000 + Math.floor(next() * 400)} AB`, city: 'Rotterdam' }],
    },
    endpoints: ['notification', 'fhir', 'oauth'].map((role) => ({
      resourceType: 'Endpoint',
      status: 'active',
      connectionType: { system: ENDPOINT_CONNECTION_TYPE_SYSTEM, code: 'hl7-fhir-rest' },
      payloadType: [{ coding: [{ system: ENDPOINT_ROLE_SYSTEM, code: role }] }],
      address: `https://vvt${ura}.example/${role}`,
      header: ['X-Contract: K-1'],
    })),
    report: {
      ...availabilityReport(provider, availability, NOW.toISOString()),
      extension: [tariff],
      contained: [{ resourceType: 'Basic', id: 'staff', code: { text: 'rooster: 14 fte' } }],
    } as Resource,
  };
}

function region(next: () => number): { sources: AvailabilitySource[]; publications: Publication[] } {
  const sources = Array.from({ length: PROVIDERS }, (_, index) => internalSource(index, next));
  const publications = sources.map((source) => {
    const publication = readPublication(buildAvailabilityPayload(source), NOW);
    if ('resourceType' in publication) throw new Error(`bench data does not publish: ${JSON.stringify(publication)}`);
    return publication;
  });
  return { sources, publications };
}

function queries(next: () => number): MatchQuery[] {
  return Array.from({ length: QUERIES }, () => ({
    careType: CARE_TYPE_CODES[Math.floor(next() * CARE_TYPE_CODES.length)],
    postalCode: String(3000 + Math.floor(next() * 400)),
    ...(next() < 0.5 ? { region: REGIONS[Math.floor(next() * REGIONS.length)] } : {}),
    date: '2025-03-14',
    count: 10,
    includeUnknown: next() < 0.5,
  }));
}

/** The baseline: every row of the region in one list, scanned whole for each query. */
function naiveMatch(rows: BoardRow[], board: CapacityBoard, query: MatchQuery) {
  const qualify = candidateFilter(query);
  const cutoff = staleBefore(NOW, STALE_AFTER_MS);
  return rows
    .filter((row) => row.careType === query.careType)
    .map((row) => shown(row, cutoff))
    .flatMap((row) => qualify(row, board.provider(row.provider)) ?? [])
    .sort(compareCandidates)
    .slice(0, query.count);
}

function matchFigure(publications: Publication[], asked: MatchQuery[]): Figure {
  const board = new CapacityBoard(STALE_AFTER_MS);
  for (const publication of publications) board.apply(publication);
  const rows = board.allRows(new Date(0));
  const time = (work: () => unknown) => {
    const start = performance.now();
    work();
    return performance.now() - start;
  };
  for (const query of asked.slice(0, 200)) {
    const indexed = matchCapacity(board, query, NOW).map((candidate) => candidate.provider.key);
    const naive = naiveMatch(rows, board, query).map((candidate) => candidate.provider.key);
    if (indexed.join() !== naive.join()) throw new Error('indexed and naive match disagree');
  }
  // interleaved, so that both see the same load on this shared machine
  const indexedTimes: number[] = [];
  const naiveTimes: number[] = [];
  for (const query of asked) {
    indexedTimes.push(time(() => matchCapacity(board, query, NOW)));
    naiveTimes.push(time(() => naiveMatch(rows, board, query)));
  }
  const [indexed, naive] = [percentile(indexedTimes, 95), percentile(naiveTimes, 95)];
  return {
    name: 'capacity.match.p95',
    value: round(indexed),
    unit: 'ms',
    baseline: round(naive),
    baselineName: 'linear scan of all rows, same qualification and ranking',
    providers: PROVIDERS,
    careTypes: CARE_TYPE_CODES.length,
    queries: QUERIES,
  };
}

function egressFigure(sources: AvailabilitySource[]): Figure {
  const rate = (work: (source: AvailabilitySource) => unknown) => {
    const start = performance.now();
    for (let i = 0; i < PAYLOADS; i++) work(sources[i % sources.length]);
    return PAYLOADS / ((performance.now() - start) / 1000);
  };
  rate((source) => buildAvailabilityPayload(source));
  const copy = rate((source) => structuredClone(source));
  const built = rate((source) => buildAvailabilityPayload(source));
  return {
    name: 'capacity.egress.throughput',
    value: Math.round(built),
    unit: 'payloads/s',
    baseline: Math.round(copy),
    baselineName: 'structuredClone of the same internal data (no filtering)',
    careTypesPerPayload: CARE_TYPE_CODES.length,
    payloads: PAYLOADS,
  };
}

async function publicationFigure(): Promise<Figure> {
  const folders = [mkdtempSync(path.join(tmpdir(), 'capacity-bench-')), mkdtempSync(path.join(tmpdir(), 'capacity-bench-'))];
  const [providerStore, pointStore] = await Promise.all(folders.map((dataDir) => openStore({ dataDir })));
  try {
    return await publicationLatency(providerStore, pointStore);
  } finally {
    await Promise.all([providerStore.close(), pointStore.close()]);
    for (const folder of folders) rmSync(folder, { recursive: true, force: true });
  }
}

async function publicationLatency(providerStore: Store, pointStore: Store): Promise<Figure> {
  const provider = { id: 'vvt', name: 'Zorggroep', ura: '10000001' };
  const point = { id: 'zcc', name: 'ZCC', ura: '90000001' };
  const jwks = { keys: [] };
  const pointScope = { tenant: point.id, version: 'r4' as const };
  const coordination = createCapacity({
    config: parseConfig({ publicBaseUrl: 'https://zcc.example', organizations: [{ ...point, roles: ['coordination-point'] }], trusted: [{ ...provider, jwks }] }),
    store: pointStore,
    client: { remote: () => ({ read: () => Promise.reject(new Error('no calls out')), post: () => Promise.reject(new Error('no calls out')) }) },
  }).coordination;
  const capacity = createCapacity({
    config: parseConfig({
      publicBaseUrl: 'https://vvt.example',
      organizations: [{ ...provider, roles: ['receiver'] }],
      trusted: [{ ...point, jwks, endpoints: { fhir: 'https://zcc.example/fhir' } }],
      coordinationPoint: { organization: point.id },
    }),
    store: providerStore,
    publishDebounceMs: 0,
    client: {
      remote: (_url, call) => ({
        read: () => Promise.reject(new Error('not asked in this bench')),
        async post(body) {
          const principal = { tenant: point.id, kind: 'organization' as const, requester: call.requester, purposeOfUse: call.purposeOfUse, resources: [] };
          const [outcome] = await coordination.receive(pointStore, pointScope, principal, JSON.parse(String(body)), new Date());
          if (outcome.id !== 'created' && outcome.id !== 'ok') throw new RemoteFailure(422, outcome);
        },
      }),
    },
  });
  const dispatcher = createDispatcher({ outbox: providerStore.outbox, handlers: capacity.outboxHandlers });
  const identity = { identifier: { system: URA_SYSTEM, value: provider.ura }, name: provider.name };
  const report = (available: number) =>
    availabilityReport(identity, { measuredAt: new Date().toISOString(), groups: CARE_TYPE_CODES.map((careType) => ({ careType, available, total: 40 })) }, new Date().toISOString());
  const onBoard = (available: number) => coordination.board(point.id).rows(CARE_TYPE_CODES[0], new Date())[0]?.available === available;

  const published: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < PUBLICATIONS; i++) {
    const available = i % 30;
    let start = performance.now();
    await capacity.provider.submitReport(providerStore, { tenant: provider.id, version: 'r4' }, report(available), new Date());
    await dispatcher.drain();
    if (!onBoard(available)) throw new Error('the report did not reach the board');
    published.push(performance.now() - start);
    start = performance.now();
    const stored = await providerStore.resources.create({ tenant: provider.id, version: 'r4' }, report(available));
    await pointStore.resources.update(pointScope, { ...stored, id: 'bare' });
    bare.push(performance.now() - start);
  }
  return {
    name: 'capacity.intake-to-published.p50',
    value: round(percentile(published, 50)),
    unit: 'ms',
    baseline: round(percentile(bare, 50)),
    baselineName: 'the bare store writes of the path (create at the provider, update at the point)',
    p95: round(percentile(published, 95)),
    publications: PUBLICATIONS,
    transport: 'in-process call instead of HTTP',
  };
}

export async function run(): Promise<Figure[]> {
  const next = random(20250314);
  const { sources, publications } = region(next);
  return [matchFigure(publications, queries(next)), egressFigure(sources), await publicationFigure()];
}

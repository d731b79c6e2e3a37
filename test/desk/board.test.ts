import { describe, expect, it } from '@jest/globals';
import { CapacityBoard } from '../../src/capacity/coordination/board.js';
import { readPublication, type Publication } from '../../src/capacity/coordination/publication.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import type { Availability } from '../../src/capacity/model.js';
import type { Resource } from '../../src/fhir/version.js';
import type { UnitOfWork } from '../../src/store/repository.js';
import { boardFilterQuery, boardView, readBoardFilter } from '../../src/desk/board.js';
import { availabilityHistory } from '../../src/desk/history.js';
import { carriesFormToken, DeskSessions } from '../../src/desk/sessions.js';
import { MOMENT, source, type ProviderSample } from '../capacity/samples.js';

const HOUR = 3_600_000;
const provider = (ura: string, postalCode: string, region: string): ProviderSample => ({ ura, name: `VVT ${ura}`, postalCode, region, endpoints: [] });

function publication(sample: ProviderSample, availability: Availability): Publication {
  const read = readPublication(buildAvailabilityPayload(source(sample, availability)), MOMENT);
  if ('resourceType' in read) throw new Error(JSON.stringify(read));
  return read;
}

const at = (minutesAgo: number) => new Date(MOMENT.getTime() - minutesAgo * 60_000).toISOString();

function region(): CapacityBoard {
  const board = new CapacityBoard(HOUR);
  board.apply(publication(provider('11111111', '3011 AB', 'rijnmond'), { measuredAt: at(5), groups: [{ careType: 'elv-hoog', available: 3, total: 10 }, { careType: 'grz', available: 1, total: 4 }] }));
  board.apply(publication(provider('22222222', '3062 CD', 'rijnmond'), { measuredAt: at(5), groups: [{ careType: 'elv-hoog', available: 2, total: 6 }] }));
  board.apply(publication(provider('33333333', '2511 EF', 'haaglanden'), { measuredAt: at(120), groups: [{ careType: 'elv-hoog', available: 4, total: 8 }] }));
  return board;
}

describe('the board as the desk shows it', () => {
  it('groups per care type with the region totals, and marks a silent provider unknown since its last report', () => {
    const view = boardView(region(), {}, MOMENT);
    const elv = view.sections.find((section) => section.code === 'elv-hoog')!;
    expect(elv).toMatchObject({ available: 5, total: 16, unknown: 1 });
    expect(elv.lines.map((line) => [line.name, line.available, line.stale])).toEqual([
      ['VVT 11111111', 3, false],
      ['VVT 22222222', 2, false],
      ['VVT 33333333', undefined, true],
    ]);
    expect(elv.lines[2].measuredAt).toBe(at(120));
    expect(view.regions).toEqual(['haaglanden', 'rijnmond']);
  });

  it('filters by care type, region, and postcode with a distance', () => {
    const board = region();
    expect(boardView(board, { careType: 'grz' }, MOMENT).sections.map((section) => section.code)).toEqual(['grz']);
    expect(boardView(board, { region: 'haaglanden' }, MOMENT).sections[0].lines.map((line) => line.name)).toEqual(['VVT 33333333']);
    const near = boardView(board, { postcode: '3012', distance: 10 }, MOMENT);
    expect(near.sections.flatMap((section) => section.lines.map((line) => line.name))).toEqual(['VVT 11111111', 'VVT 11111111']);
  });

  it('reads the filter form leniently and writes it back as a query', () => {
    expect(readBoardFilter({ 'care-type': 'grz', postcode: '30', distance: '-1', region: '' })).toEqual({ careType: 'grz' });
    const filter = readBoardFilter({ postcode: '3011 AB', distance: '20' });
    expect(boardFilterQuery(filter)).toBe('postcode=3011+AB&distance=20');
  });
});

describe('desk sessions', () => {
  it('end when their time is up, or at sign-out', () => {
    let now = 0;
    const sessions = new DeskSessions(HOUR, () => now);
    const session = sessions.open({ subject: 's', name: 'S', organizations: ['zcc'] });
    expect(sessions.find(session.id)?.tenant).toBe('zcc');
    now = HOUR - 1;
    expect(sessions.find(session.id)).toBeDefined();
    now = HOUR;
    expect(sessions.find(session.id)).toBeUndefined();
    const next = sessions.open({ subject: 's', name: 'S', organizations: ['zcc'] });
    sessions.close(next.id);
    expect(sessions.find(next.id)).toBeUndefined();
    expect(sessions.find(undefined)).toBeUndefined();
  });

  it('accept a form only with the session token', () => {
    const session = new DeskSessions(HOUR).open({ subject: 's', name: 'S', organizations: ['zcc'] });
    expect(carriesFormToken(session, session.csrf)).toBe(true);
    expect(carriesFormToken(session, undefined)).toBe(false);
    expect(carriesFormToken(session, `${session.csrf.slice(1)}x`)).toBe(false);
  });
});

describe('the availability history for the chart', () => {
  const sample = provider('11111111', '3011 AB', 'rijnmond');
  const version = (available: number, measuredMinutesAgo: number, publishedMinutesAgo: number) =>
    buildAvailabilityPayload(
      source(sample, { measuredAt: at(measuredMinutesAgo), groups: [{ careType: 'elv-hoog', available, total: 10 }] }, new Date(MOMENT.getTime() - publishedMinutesAgo * 60_000)),
    );
  const storeOf = (versions: Resource[]) =>
    ({ resources: { history: async () => versions.map((resource) => ({ resource, resourceType: 'MeasureReport', id: 'ura-11111111', versionId: '1', lastUpdated: '', method: 'PUT' as const })) } }) as unknown as UnitOfWork;

  it("takes each provider's last report of the day in the order the provider made them, as the board does", async () => {
    // an accepted transfer: the same census (measured 30 minutes ago), published again one place fewer
    const history = await availabilityHistory(storeOf([version(2, 30, 5), version(3, 30, 30)]), { tenant: 't', version: 'r4' }, (report) => report, MOMENT, 3);
    expect(history.days).toEqual(['2025-03-12', '2025-03-13', '2025-03-14']);
    expect(history.series).toEqual([{ careType: 'elv-hoog', display: expect.any(String), available: [null, null, 2] }]);
  });

  it('leaves out what the board would not take', async () => {
    const history = await availabilityHistory(storeOf([version(2, 30, 5)]), { tenant: 't', version: 'r4' }, () => undefined, MOMENT, 3);
    expect(history.series).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import type { TrustedOrganization } from '../../src/config/config.js';
import { parseConfig } from '../../src/config/config.js';
import { createCapacity } from '../../src/capacity/index.js';
import { coordinationPointFinder } from '../../src/capacity/provider/coordination-point.js';
import { isOperationOutcomeError } from '../../src/fhir/outcome.js';
import { Publisher } from '../../src/capacity/provider/publisher.js';
import type { ProviderCapacity } from '../../src/capacity/provider/service.js';
import type { Store, UnitOfWork } from '../../src/store/repository.js';

/** The coordination point is looked up in the trust registry when needed: one found in the directory later counts. */
const ZCC: TrustedOrganization = { id: 'zcc', name: 'ZCC', ura: '44444444', endpoints: { fhir: 'https://zcc.example/fhir/stu3', capacity: 'https://zcc.example/fhir' } };

/** A registry that learns organisations after it was made, as the directory's counterparties do after a sync. */
function learningRegistry() {
  const known: TrustedOrganization[] = [];
  return {
    learn: (organization: TrustedOrganization) => known.push(organization),
    trusted: (id: string) => known.find((organization) => organization.id === id),
    trustedByUra: (ura: string) => known.find((organization) => organization.ura === ura),
  };
}

describe('the coordination point this gateway reaches', () => {
  it('is found by URA at call time, not only at start, with its capacity base over its eOverdracht one', () => {
    const registry = learningRegistry();
    const find = coordinationPointFinder({ ura: ZCC.ura! }, registry);
    expect(find()).toBeUndefined();
    registry.learn(ZCC);
    expect(find()).toEqual({ organization: ZCC, base: 'https://zcc.example/fhir' });
  });

  it('is found by the id of a trusted organisation, its FHIR base when it names no capacity base', () => {
    const registry = learningRegistry();
    registry.learn({ ...ZCC, endpoints: { fhir: 'https://zcc.example/fhir' } });
    expect(coordinationPointFinder({ organization: 'zcc' }, registry)()?.base).toBe('https://zcc.example/fhir');
  });

  it('is not reachable without a FHIR base', () => {
    const registry = learningRegistry();
    registry.learn({ ...ZCC, endpoints: { oauth: 'https://zcc.example/oauth2/token' } });
    expect(coordinationPointFinder({ ura: ZCC.ura! }, registry)()).toBeUndefined();
  });

  it('queues no publication while the coordination point is unknown, and one to its capacity base once found', async () => {
    const registry = learningRegistry();
    const enqueued: { destination: string }[] = [];
    const outbox = { list: async () => [], enqueue: async (message: { destination: string }) => void enqueued.push(message) };
    const tx = { outbox } as unknown as UnitOfWork;
    const publisher = new Publisher({ store: {} as Store, provider: {} as ProviderCapacity, client: { remote: () => ({}) as never }, coordinationPoint: coordinationPointFinder({ ura: ZCC.ura! }, registry) });
    await publisher.schedule(tx, 'vvt');
    expect(enqueued).toEqual([]);
    registry.learn(ZCC);
    await publisher.schedule(tx, 'vvt');
    expect(enqueued.map((message) => message.destination)).toEqual(['https://zcc.example/fhir/MeasureReport']);
  });

  it('answers an EHR’s $match-capacity with not-found while the directory does not know it yet', async () => {
    const config = parseConfig({ publicBaseUrl: 'https://hospital.example', organizations: [{ id: 'hospital', name: 'H', roles: ['sender'] }], coordinationPoint: { ura: '44444444' } });
    const remote = () => {
      throw new Error('nothing to call');
    };
    const capacity = createCapacity({ config, store: {} as Store, client: { remote }, publishers: learningRegistry() });
    const refusal: unknown = await capacity.askCoordinationPoint!('hospital', 'care-type=elv-hoog').catch((error: unknown) => error);
    expect(isOperationOutcomeError(refusal, 'not-found')).toBe(true);
  });
});

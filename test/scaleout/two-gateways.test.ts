import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { JWT_BEARER_GRANT } from '../../src/auth/rules.js';
import { type Gateway } from '../../src/main.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { eventually } from '../harness/eventually.js';
import { removeFolder, temporaryFolder } from '../harness/folders.js';
import { freePort, startSite } from '../harness/gateways.js';
import { hostedOrganization, party, signed, trustedOrganization, type Party } from '../harness/parties.js';
import { backends, POSTGRES_URL } from '../store/backends.js';
import { eventNumbers, publication, receiver, topicSubscription, type Receiver } from '../subscriptions/support.js';

/**
 * Scale-out (DESIGN §6): two instances of one coordination point's gateway on one PostgreSQL schema, behind one public
 * URL (as behind a load balancer). A grant's `jti` used at one is refused at the other; a report received by one is
 * on the other's board at once (change fan-out); subscription notifications queued by both are delivered once each,
 * in order of their event numbers, while both instances' dispatchers claim from the one outbox.
 */
const postgres = backends.some(([name]) => name === 'postgres');
const schema = `scaleout_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
let zcc: Party;
let hospital: Party;
let providers: Party[];
let hooks: Receiver;
let a: Gateway;
let b: Gateway;
const dirs: string[] = [];

async function instance(port: number, publicBaseUrl: string): Promise<Gateway> {
  const dataDir = temporaryFolder('scaleout-');
  dirs.push(dataDir);
  return startSite({ dataDir }, {
    mode: 'production',
    port,
    publicBaseUrl,
    dataDir,
    databaseUrl: POSTGRES_URL,
    databaseSchema: schema,
    organizations: [await hostedOrganization(zcc, ['coordination-point'])],
    trusted: [...(await Promise.all(providers.map((provider) => trustedOrganization(provider)))), await trustedOrganization(hospital)],
    subscriptions: { allowedEndpoints: [hooks.url] },
  });
}

(postgres ? describe : describe.skip)('two gateway instances on one PostgreSQL schema', () => {
  beforeAll(async () => {
    [zcc, hospital, ...providers] = await Promise.all([
      party('zcc', 'ZCC Rijnmond', '44444444'),
      party('hospital', 'Ziekenhuis Zuid', '11111111'),
      party('vvt-1', 'Zorggroep Maas', '22222222'),
      party('vvt-2', 'Huize Rotte', '33333333'),
      party('vvt-3', 'De Zeven Zeeën', '55555555'),
    ]);
    hooks = await receiver();
    const [portA, portB] = [await freePort(), await freePort()];
    const publicBaseUrl = `http://127.0.0.1:${portA}`;
    // Started at the same moment, as an orchestrator scaling out would.
    const started = await Promise.allSettled([instance(portA, publicBaseUrl), instance(portB, publicBaseUrl)]);
    const running = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.all(running.map((gateway) => gateway.close()));
      throw failed.reason;
    }
    [a, b] = running;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await hooks?.close();
    for (const dir of dirs) removeFolder(dir);
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  });

  const grant = async (target: Gateway, assertion: string) => {
    const response = await fetch(`${target.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('refuses at one instance a grant whose jti was used at the other', async () => {
    const audience = `${a.config.publicBaseUrl}/oauth2/token`;
    for (const [first, second] of [
      [a, b],
      [b, a],
    ]) {
      const assertion = await signed(hospital.id, hospital.jwk, { purposeOfUse: 'capacity-subscription', vcs: [] }, audience, zcc.id);
      expect((await grant(first, assertion)).status).toBe(200);
      expect(await grant(second, assertion)).toMatchObject({ status: 400, body: { error: 'invalid_grant', error_description: expect.stringMatching(/jti|replay|used/i) } });
    }
  });

  /** An access token from `issuer`'s token endpoint (the grant addressed to the shared public URL). */
  const accessToken = async (issuer: Gateway, requester: Party, purposeOfUse: string): Promise<string> => {
    const assertion = await signed(requester.id, requester.jwk, { purposeOfUse, vcs: [] }, `${issuer.config.publicBaseUrl}/oauth2/token`, zcc.id);
    const { status, body } = await grant(issuer, assertion);
    expect(status).toBe(200);
    return body.access_token as string;
  };

  const publish = async (target: Gateway, provider: Party, available: number) => {
    const token = await accessToken(target, provider, 'capacity-publication');
    const answer = await fhirCall(target.url, token, 'POST', '/fhir/MeasureReport', publication(provider, 'rijnmond', [['elv-hoog', available]]));
    expect(answer.status).toBeLessThan(300);
  };

  /** What `target` answers to $match-capacity, with a token the other instance issued. */
  const availableOn = async (target: Gateway, provider: Party): Promise<number | undefined> => {
    const token = await accessToken(target === a ? b : a, hospital, 'capacity-subscription');
    const { body } = await fhirCall(target.url, token, 'GET', '/fhir/MeasureReport/$match-capacity?care-type=elv-hoog&region=rijnmond&count=100');
    const candidates = ((body.parameter as { name: string; part: Record<string, unknown>[] }[]) ?? []).filter((p) => p.name === 'candidate');
    const found = candidates.find((c) => c.part.some((p) => p.name === 'name' && p.valueString === provider.name));
    return found?.part.find((p) => p.name === 'available')?.valueInteger as number | undefined;
  };

  it('shows a report received by one instance on the other instance’s board', async () => {
    await publish(a, providers[0], 4);
    expect(await eventually('the report on B', async () => ((await availableOn(b, providers[0])) === 4 ? true : undefined))).toBe(true);
    await publish(b, providers[0], 3);
    expect(await eventually('the newer report on A', async () => ((await availableOn(a, providers[0])) === 3 ? true : undefined))).toBe(true);
  });

  it('delivers every notification queued at either instance once, in event order, while both dispatchers claim', async () => {
    const ehr = await ehrToken(a.url, zcc);
    const created = await fhirCall(a.url, ehr, 'POST', '/fhir/Subscription', topicSubscription({ endpoint: `${hooks.url}/zcc`, content: 'id-only' }));
    expect(created.status).toBe(201);
    await eventually('the subscription active', async () => ((await fhirCall(b.url, ehr, 'GET', `/fhir/Subscription/${created.body.id}`)).body.status === 'active' ? true : undefined));

    const ROUNDS = 8;
    // Each provider's reports in sequence (alternating instances), the providers at once; every report a new count.
    await Promise.all(
      providers.map(async (provider) => {
        for (let round = 1; round <= ROUNDS; round += 1) await publish(round % 2 === 0 ? a : b, provider, 10 + round);
      }),
    );
    const expected = providers.length * ROUNDS;
    const numbers = await eventually('every event at the subscriber', async () => {
      const received = eventNumbers(hooks, '/zcc');
      return new Set(received).size >= expected ? received : undefined;
    });
    expect([...new Set(numbers)].sort((x, y) => x - y)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    expect(numbers).toHaveLength(expected);
    expect(numbers).toEqual([...numbers].sort((x, y) => x - y));
  });
});

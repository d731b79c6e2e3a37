import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { buildAvailabilityPayload } from '../../src/capacity/egress/payload.js';
import { availabilityReport } from '../../src/capacity/report.js';
import type { Resource } from '../../src/fhir/version.js';
import type { Gateway } from '../../src/main.js';
import { FILTER_CRITERIA_EXTENSION, HEARTBEAT_PERIOD_EXTENSION, PAYLOAD_CONTENT_EXTENSION } from '../../src/subscriptions/canonical.js';
import { CAPACITY_CHANGED_TOPIC } from '../../src/subscriptions/index.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { ehrToken, fhirCall, organizationToken } from '../harness/calls.js';
import { removeFolder } from '../harness/folders.js';
import { newSite, startSite, type Site } from '../harness/gateways.js';
import { hostedOrganization, party, trustedOrganization, type Party } from '../harness/parties.js';

/**
 * Subscription tests on loopback: a coordination point's gateway (in this process), a provider that publishes to it
 * with its own Nuts-style token, and receivers (plain HTTP servers) that record what they are sent and answer as told.
 */
export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  /** Everything received, in arrival order. */
  all: Received[];
  at(path: string): Received[];
  /** The status to answer with (default 200); a function decides per request, and may answer with a JSON body. */
  answer: number | ((request: Received) => number | Promise<number | { status: number; json: unknown }>);
  /** Requests being handled right now, and the most at once. */
  inFlight: number;
  maxInFlight: number;
  /** Delay before answering. */
  delayMs: number;
  close(): Promise<void>;
}

export async function receiver(port = 0): Promise<Receiver> {
  const state: Receiver = {
    url: '',
    all: [],
    at: (path) => state.all.filter((request) => request.path === path),
    answer: 200,
    inFlight: 0,
    maxInFlight: 0,
    delayMs: 0,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      state.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      const request: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      if (state.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, state.delayMs));
      const answer = typeof state.answer === 'function' ? await state.answer(request) : state.answer;
      const { status, json } = typeof answer === 'number' ? { status: answer, json: undefined } : answer;
      // A request the sender gave up on (it timed out and hung up) was not delivered.
      if (status >= 200 && status < 300 && !req.socket.destroyed) state.all.push(request);
      state.inFlight -= 1;
      if (json === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

/** The notification Bundle's status Parameters as a name → value map (notification-event parts flattened). */
export function statusOf(body: string): { type?: string; status?: string; eventsSinceStart?: number; topic?: string; events: { number: number; focus?: string }[]; bundle: Resource } {
  const bundle = JSON.parse(body) as Resource & { entry: { resource: Resource & { parameter: Record<string, unknown>[] } }[] };
  const parameters = bundle.entry[0].resource.parameter;
  const value = (name: string) => parameters.find((parameter) => parameter.name === name);
  return {
    type: value('type')?.valueCode as string | undefined,
    status: value('status')?.valueCode as string | undefined,
    eventsSinceStart: Number(value('events-since-subscription-start')?.valueString),
    topic: value('topic')?.valueCanonical as string | undefined,
    events: parameters
      .filter((parameter) => parameter.name === 'notification-event')
      .map((parameter) => {
        const parts = parameter.part as Record<string, unknown>[];
        const number = Number(parts.find((part) => part.name === 'event-number')?.valueString);
        const focus = (parts.find((part) => part.name === 'focus')?.valueReference as { reference: string } | undefined)?.reference;
        return focus ? { number, focus } : { number };
      }),
    bundle,
  };
}

/** The event numbers of the event notifications a receiver got at `path`, in arrival order. */
export function eventNumbers(target: Receiver, path: string): number[] {
  return target.at(path).flatMap((request) => {
    const status = statusOf(request.body);
    return status.type === 'event-notification' ? status.events.map((event) => event.number) : [];
  });
}

export interface TopicSubscriptionOptions {
  endpoint: string;
  content?: 'empty' | 'id-only' | 'full-resource';
  filters?: string[];
  headers?: string[];
  heartbeatSeconds?: number;
  topic?: string;
  payload?: string;
}

export function topicSubscription(options: TopicSubscriptionOptions): Resource {
  return {
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'Beschikbaarheid in de regio volgen',
    criteria: options.topic ?? CAPACITY_CHANGED_TOPIC,
    ...(options.filters?.length ? { _criteria: { extension: options.filters.map((valueString) => ({ url: FILTER_CRITERIA_EXTENSION, valueString })) } } : {}),
    channel: {
      type: 'rest-hook',
      endpoint: options.endpoint,
      payload: options.payload ?? 'application/fhir+json',
      _payload: { extension: [{ url: PAYLOAD_CONTENT_EXTENSION, valueCode: options.content ?? 'id-only' }] },
      ...(options.headers ? { header: options.headers } : {}),
      ...(options.heartbeatSeconds ? { extension: [{ url: HEARTBEAT_PERIOD_EXTENSION, valueUnsignedInt: options.heartbeatSeconds }] } : {}),
    },
  };
}

/** A provider's availability report as its gateway publishes it (built by the egress allowlist). */
export function publication(provider: Party, region: string, groups: [string, number][], at = new Date()): Resource {
  const identity = { identifier: { system: URA_SYSTEM, value: provider.ura }, name: provider.name };
  const measuredAt = new Date(at.getTime() - 1000).toISOString();
  const report = availabilityReport(identity, { measuredAt, groups: groups.map(([careType, available]) => ({ careType, available })) }, at.toISOString());
  const organization = {
    resourceType: 'Organization',
    extension: [{ url: ZORGREGIO_EXTENSION, valueId: region }],
    identifier: [{ system: URA_SYSTEM, value: provider.ura }],
    name: provider.name,
  };
  return buildAvailabilityPayload({ organization, endpoints: [], report });
}

export const careType = (code: string) => ({ system: CARE_TYPE_SYSTEM, code });

/** A coordination point's gateway in this process, trusting providers (to publish) and subscribers. */
export interface World {
  site: Site;
  gateway: Gateway;
  url: string;
  zcc: Party;
  providers: Party[];
  hospital: Party;
  /** The coordination point's own EHR token. */
  ehr(): Promise<string>;
  /** A hospital token for the board and subscriptions (purpose capacity-subscription). */
  hospitalToken(): Promise<string>;
  /** Publishes a provider's report as its gateway would; answers the coordination point's status. */
  publish(provider: Party, groups: [string, number][], region?: string): Promise<number>;
  close(): Promise<void>;
}

export async function world(options: { subscriptions?: Record<string, unknown>; hospitalEndpoints?: Record<string, string>; providers?: number; mode?: 'production' | 'development' } = {}): Promise<World> {
  const zcc = await party('zcc', 'ZCC Rijnmond', '44444444');
  const providers = await Promise.all(Array.from({ length: options.providers ?? 2 }, (_, i) => party(`vvt-${i + 1}`, `Zorggroep ${i + 1}`, String(22222222 + i))));
  const hospital = await party('hospital', 'Ziekenhuis Zuid', '11111111');
  const site = await newSite([{ party: zcc, roles: ['coordination-point'] }], 'subscriptions-');
  const raw = {
    mode: options.mode ?? 'production',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    organizations: [await hostedOrganization(zcc, ['coordination-point'])],
    trusted: [
      ...(await Promise.all(providers.map((provider) => trustedOrganization(provider)))),
      await trustedOrganization(hospital, options.hospitalEndpoints ?? {}),
    ],
    ...(options.subscriptions ? { subscriptions: options.subscriptions } : {}),
  };
  const gateway = await startSite(site, raw);
  let ehr: Promise<string> | undefined;
  return {
    site,
    gateway,
    url: gateway.url,
    zcc,
    providers,
    hospital,
    ehr: () => (ehr ??= ehrToken(gateway.url, zcc)),
    async hospitalToken() {
      const { status, body } = await organizationToken(gateway.url, hospital, zcc.id, 'capacity-subscription', []);
      if (status !== 200) throw new Error(`hospital token refused: ${JSON.stringify(body)}`);
      return body.access_token as string;
    },
    async publish(provider, groups, region = 'rijnmond') {
      const { status: granted, body: grant } = await organizationToken(gateway.url, provider, zcc.id, 'capacity-publication', []);
      if (granted !== 200) throw new Error(`publication token refused: ${JSON.stringify(grant)}`);
      const answer = await fhirCall(gateway.url, grant.access_token as string, 'POST', '/fhir/MeasureReport', publication(provider, region, groups));
      return answer.status;
    },
    async close() {
      await gateway.close();
      removeFolder(site.dataDir);
    },
  };
}

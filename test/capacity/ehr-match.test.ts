import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Gateway } from '../../src/main.js';
import { ehrToken, fhirCall } from '../harness/calls.js';
import { newSite, startSite, type Site } from '../harness/gateways.js';
import { removeFolder } from '../harness/folders.js';
import { hostedOrganization, trustedOrganization } from '../harness/parties.js';
import { world, type World } from '../subscriptions/support.js';

/**
 * A hospital's EHR asks its own gateway for `$match-capacity`; the gateway asks the coordination point it is
 * configured with, with a token of its own (purpose capacity-subscription): the EHR never holds the organisation's
 * key, and never needs a token of the coordination point.
 */
let w: World;
let site: Site;
let hospitalGateway: Gateway;

beforeAll(async () => {
  w = await world({ providers: 1 });
  expect(await w.publish(w.providers[0]!, [['elv-hoog', 2]])).toBe(201);
  site = await newSite([{ party: w.hospital, roles: ['sender'] }], 'ehr-match-');
  hospitalGateway = await startSite(site, {
    mode: 'production',
    port: site.port,
    publicBaseUrl: site.url,
    dataDir: site.dataDir,
    organizations: [await hostedOrganization(w.hospital, ['sender'])],
    trusted: [await trustedOrganization(w.zcc, { oauth: `${w.url}/oauth2/token`, fhir: `${w.url}/fhir` })],
    coordinationPoint: { organization: w.zcc.id },
  });
}, 60_000);

afterAll(async () => {
  await hospitalGateway?.close();
  if (site) removeFolder(site.dataDir);
  await w?.close();
});

describe("a hospital's $match-capacity through its own gateway", () => {
  it('answers the coordination point’s candidates', async () => {
    const token = await ehrToken(hospitalGateway.url, w.hospital);
    const answer = await fhirCall(hospitalGateway.url, token, 'GET', '/fhir/MeasureReport/$match-capacity?care-type=elv-hoog&postcode=3011AB');
    expect(answer.status).toBe(200);
    const candidates = (answer.body.parameter as { name: string; part?: { name: string; valueString?: string }[] }[]).filter((parameter) => parameter.name === 'candidate');
    expect(candidates.map((candidate) => candidate.part!.find((part) => part.name === 'name')?.valueString)).toEqual([w.providers[0]!.name]);
  });

  it('passes on what the coordination point refuses, as its OperationOutcome', async () => {
    const token = await ehrToken(hospitalGateway.url, w.hospital);
    const answer = await fhirCall(hospitalGateway.url, token, 'GET', '/fhir/MeasureReport/$match-capacity?care-type=no-such-care');
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.body.resourceType).toBe('OperationOutcome');
  });
});

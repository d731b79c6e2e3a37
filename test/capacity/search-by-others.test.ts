import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { importSigningKey } from '../../src/auth/jwk.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { fhirCall, organizationToken } from '../harness/calls.js';
import { party, type Party } from '../harness/parties.js';

/**
 * The competition line on the read side: another organisation never reads a provider's internal capacity data
 * (its EHR's reports with whatever they carry, its bed Locations). The capacity purposes are granted only by a
 * coordination point, whose board holds nothing but what the egress allowlist let through.
 */
let gateway: TestGateway;
let hospital: Party;

beforeAll(async () => {
  hospital = await party('hospital', 'Ziekenhuis Zuid', '11111111');
  const jwks = { keys: [(await importSigningKey(hospital.id, hospital.jwk)).publicJwk] };
  gateway = await startTestGateway(['vvt'], { trusted: [{ id: hospital.id, name: hospital.name, ura: hospital.ura, jwks, endpoints: {} }] });
  const bed = { resourceType: 'Location', id: 'bed-1', extension: [{ url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueString: 'tarief 250' }] };
  expect((await fhirCall(gateway.url, await gateway.token('vvt'), 'PUT', '/fhir/Location/bed-1', bed)).status).toBe(201);
}, 60_000);
afterAll(async () => {
  await gateway?.close();
});

describe("another organisation and a provider's internal capacity data", () => {
  it.each(['capacity-subscription', 'capacity-publication'])('gets no %s token from a provider that is no coordination point', async (purpose) => {
    const grant = await organizationToken(gateway.url, hospital, 'vvt', purpose, []);
    expect(grant).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });
});

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { PAYLOAD_TYPES, PAYLOAD_TYPE_SYSTEM } from '../../src/directory/payload-types.js';
import { ORGANIZATION_ID_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';
import { startTestGateway, type TestGateway } from '../harness/gateways.js';
import { McsdDirectories } from '../harness/mcsd-directories.js';

/**
 * A gateway as a directory: it publishes its organisation's administration directory at /mcsd/{id} (its own
 * Endpoints filled in, only directory data, open to update clients), and with a root directory configured it syncs
 * the organisations' directories the root names, on demand, with its status as an operation and in /metrics.
 */
let provider: TestGateway;
let hospital: TestGateway;
let root: McsdDirectories;
let providerEhr: string;
let hospitalEhr: string;

beforeAll(async () => {
  root = await new McsdDirectories().start();
  provider = await startTestGateway(['vvt'], { directory: {} });
  hospital = await startTestGateway(['hospital'], { directory: { roots: [root.base('lrza')], schedule: '0 0 1 1 *' } });
  providerEhr = `Bearer ${await provider.token('vvt')}`;
  hospitalEhr = `Bearer ${await hospital.token('hospital')}`;
});
afterAll(async () => {
  await hospital?.close();
  await provider?.close();
  await root?.close();
});

const providerUra = () => provider.config.organizations[0]!.ura!;
const publishedUrl = () => `${provider.config.publicBaseUrl}/mcsd/vvt`;

describe('the administration directory a gateway publishes', () => {
  it('holds the organisation with its URA and the Endpoints the gateway serves for it, readable without a token', async () => {
    const history = await request(provider.url).get('/mcsd/vvt/Endpoint/_history');
    expect(history.status).toBe(200);
    const endpoints = history.body.entry.map((entry: { resource: { payloadType: { coding: { code: string }[] }[]; address: string } }) => [
      entry.resource.payloadType[0]!.coding[0]!.code,
      entry.resource.address,
    ]);
    expect(endpoints).toEqual(
      expect.arrayContaining([
        [PAYLOAD_TYPES.twiinNotification, `${provider.config.publicBaseUrl}/eoverdracht/notification`],
        [PAYLOAD_TYPES.eOverdrachtServer, `${provider.config.publicBaseUrl}/fhir/stu3`],
        [PAYLOAD_TYPES.nutsOAuth, `${provider.config.publicBaseUrl}/oauth2/vvt`],
        [PAYLOAD_TYPES.rfc003Token, `${provider.config.publicBaseUrl}/oauth2/token`],
      ]),
    );
    const organizations = await request(provider.url).get(`/mcsd/vvt/Organization?identifier=${URA_SYSTEM}|${providerUra()}`);
    expect(organizations.body.entry[0].resource).toMatchObject({
      identifier: expect.arrayContaining([{ system: ORGANIZATION_ID_SYSTEM, value: 'vvt' }]),
      endpoint: expect.arrayContaining([{ reference: 'Endpoint/gateway-notification' }]),
    });
  });

  it('refuses an Endpoint without an http(s) address, as update clients would', async () => {
    const put = (path: string, body: unknown) => request(provider.url).put(path).set('Authorization', providerEhr).set('Content-Type', 'application/fhir+json').send(JSON.stringify(body));
    const endpoint = await put('/fhir/Endpoint/local', { resourceType: 'Endpoint', id: 'local', status: 'active', connectionType: { code: 'hl7-fhir-rest' }, payloadType: [{ text: 'x' }], address: 'file:///etc/passwd' });
    expect([endpoint.status, endpoint.body.issue[0].expression]).toEqual([422, ['Endpoint.address']]);
  });

  it('publishes the EHR’s directory entries through the allowlist, and nothing but directory data', async () => {
    const service = {
      resourceType: 'HealthcareService',
      id: 'elv-hoog',
      providedBy: { reference: 'Organization/gateway-organization' },
      name: 'ELV hoog',
      extraDetails: 'Tarief 312 euro per dag',
      comment: 'alleen voor verzekeraar X',
    };
    expect((await request(provider.url).put('/fhir/HealthcareService/elv-hoog').set('Authorization', providerEhr).set('Content-Type', 'application/fhir+json').send(JSON.stringify(service))).status).toBe(201);
    const bed = { resourceType: 'Location', id: 'bed-1', physicalType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/location-physical-type', code: 'bd' }] }, name: 'Bed 1' };
    await request(provider.url).put('/fhir/Location/bed-1').set('Authorization', providerEhr).set('Content-Type', 'application/fhir+json').send(JSON.stringify(bed));
    await request(provider.url).post('/fhir/Patient').set('Authorization', providerEhr).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient' }));

    const published = await request(provider.url).get('/mcsd/vvt/HealthcareService/elv-hoog');
    expect(published.status).toBe(200);
    expect(published.body.name).toBe('ELV hoog');
    expect(published.body.extraDetails).toBeUndefined();
    expect(published.body.comment).toBeUndefined();
    expect((await request(provider.url).get('/mcsd/vvt/Location/bed-1')).status).toBe(404);
    expect((await request(provider.url).get('/mcsd/vvt/Location/_history')).body.entry).toEqual([]);
    expect((await request(provider.url).get('/mcsd/vvt/Patient')).status).toBe(403);
    expect((await request(provider.url).get('/mcsd/vvt/Patient/_history')).status).toBe(403);
    expect((await request(provider.url).get('/mcsd/nobody/Organization')).status).toBe(404);
  });
});

describe('the update client of a gateway', () => {
  it('syncs the directories its root names on demand, and shows each one’s result and lag', async () => {
    const payloadType = [{ coding: [{ system: PAYLOAD_TYPE_SYSTEM, code: PAYLOAD_TYPES.adminDirectory }] }];
    root.put('lrza', { resourceType: 'Endpoint', id: 'vvt-directory', status: 'active', payloadType, address: publishedUrl() });
    root.put('lrza', { resourceType: 'Organization', id: 'vvt', identifier: [{ system: URA_SYSTEM, value: providerUra() }], endpoint: [{ reference: 'Endpoint/vvt-directory' }] });

    expect((await request(hospital.url).post('/fhir/$directory-update').set('Authorization', `Bearer ${await provider.token('vvt')}`)).status).toBe(401);
    const update = await request(hospital.url).post('/fhir/$directory-update').set('Authorization', hospitalEhr);
    expect(update.status).toBe(200);
    const parts = (name: string) =>
      update.body.parameter.map((directory: { part: { name: string; valueString?: string; valueUri?: string; valueCode?: string; valueInteger?: number }[] }) =>
        directory.part.find((part) => part.name === name),
      );
    expect(parts('base').map((part: { valueUri: string }) => part.valueUri)).toEqual([root.base('lrza'), publishedUrl()]);
    expect(parts('result').map((part: { valueCode: string }) => part.valueCode)).toEqual(['ok', 'ok']);
    expect(parts('created')[1].valueInteger).toBeGreaterThanOrEqual(5);

    const status = await request(hospital.url).get('/fhir/$directory-status').set('Authorization', hospitalEhr);
    expect(status.status).toBe(200);
    expect(JSON.stringify(status.body)).toContain('lagSeconds');
    const metrics = await request(hospital.url).get('/metrics');
    expect(metrics.text).toContain(`directory_sync_lag_seconds{directory="${publishedUrl()}"}`);
    expect(metrics.text).toContain(`directory_sync_failed{directory="${publishedUrl()}"} 0`);
  });
});

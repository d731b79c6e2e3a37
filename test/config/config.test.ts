import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/config.js';

const minimal = { publicBaseUrl: 'https://gw.example', organizations: [{ id: 'org-a', name: 'A', roles: ['sender'] }] };

describe('configuration', () => {
  it('fills defaults for a minimal file', () => {
    const config = parseConfig(minimal, {}, '/etc/gw');
    expect(config).toMatchObject({ mode: 'production', port: 8080, dataDir: '/etc/gw/data', trusted: [] });
    expect(config.organizations[0]).toMatchObject({ keys: [], ehrClients: [] });
  });

  it('keeps the outbox retention it is given', () => {
    expect(parseConfig({ ...minimal, outbox: { deliveredRetentionHours: 24 } }).outbox).toEqual({ deliveredRetentionHours: 24 });
  });

  it('names the coordination point by URA, with no trusted organisation needed', () => {
    expect(parseConfig({ ...minimal, coordinationPoint: { ura: '44444444' } }).coordinationPoint).toEqual({ ura: '44444444' });
  });

  it('lets the environment override port, base URL and database', () => {
    const config = parseConfig(minimal, { PORT: '9000', PUBLIC_BASE_URL: 'https://other/', DATABASE_URL: 'postgres://db/x' });
    expect(config).toMatchObject({ port: 9000, publicBaseUrl: 'https://other', databaseUrl: 'postgres://db/x' });
  });

  it.each([
    [{ ...minimal, publicBaseUrl: undefined }, /publicBaseUrl|required property 'publicBaseUrl'/],
    [{ ...minimal, organizations: [{ id: 'a', name: 'A', roles: ['bogus'] }] }, /organizations\.0\.roles\.0/],
    [{ ...minimal, colour: 'red' }, /additional properties 'colour'/],
    [{ ...minimal, trusted: [{ id: 't', name: 'T' }] }, /trusted\.0/],
    [{ ...minimal, coordinationPoint: { organization: 'nobody' } }, /coordinationPoint\.organization 'nobody'/],
    [{ ...minimal, coordinationPoint: { ura: '1234' } }, /coordinationPoint\.ura/],
    [{ ...minimal, coordinationPoint: {} }, /coordinationPoint/],
    [{ ...minimal, trusted: [{ id: 't', name: 'T', jwks: { keys: [] } }], coordinationPoint: { organization: 't', ura: '12345678' } }, /coordinationPoint/],
    [{ ...minimal, trusted: [{ id: 'org-a', name: 'T', jwks: { keys: [] } }] }, /'org-a' appears twice/],
    [{ ...minimal, outbox: { deliveredRetentionHours: 0 } }, /outbox\.deliveredRetentionHours/],
    [{ ...minimal, subscriptions: { eventRetentionHours: 0 } }, /subscriptions\.eventRetentionHours/],
    [{ ...minimal, trusted: [{ id: 't', name: 'T', jwks: { keys: [] }, notificationShape: 'fax' }] }, /trusted\.0\.notificationShape/],
    [{ ...minimal, trusted: [{ id: 't', name: 'T', jwks: { keys: [] }, notificationShape: 'twiin' }] }, /trusted\.0.*'ura'/],
  ])('refuses invalid configuration naming the field (%#)', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  });

  it('runs in development mode with one demo tenant when no file is given', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/gw-data' });
    expect(config.mode).toBe('development');
    expect(config.organizations.map((org) => org.id)).toEqual(['demo']);
    expect(config.organizations[0].keys[0].file).toBe('/tmp/gw-data/keys/demo.private.jwk.json');
  });

  it('names an unreadable config file', () => {
    expect(() => loadConfig({ GATEWAY_CONFIG: '/nonexistent/gw.json' })).toThrow(/GATEWAY_CONFIG '\/nonexistent\/gw.json'/);
  });
});

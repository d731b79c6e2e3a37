import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import request from 'supertest';
import { createAuth } from '../../src/auth/index.js';
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_CLIENT_ASSERTION } from '../../src/auth/rules.js';
import { createMemoryGate } from '../../src/http/bodies.js';
import { oauthRouter } from '../../src/http/oauth.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/repository.js';
import { temporaryFolder } from '../harness/folders.js';
import { world } from './support.js';

/**
 * The token and introspection endpoints read their body before they know the caller: at most
 * limits.unauthenticatedBodyBytes of it, and only with room in the gateway's memory gate (limits.inFlightBytes).
 */
const bodies = createMemoryGate(4096, { maxWaiting: 0, maxWaitMs: 60_000 });
let store: Store;
let app: express.Express;

beforeAll(async () => {
  const { config } = await world({ limits: { unauthenticatedBodyBytes: 1024 } });
  store = await openStore({ dataDir: temporaryFolder('auth-test-') });
  const auth = await createAuth(config, store);
  app = express().use(oauthRouter({ ...auth, bodyBytes: config.limits.unauthenticatedBodyBytes, bodies }));
});
afterAll(() => store.close());

const form = (bytes: number) => ({ grant_type: CLIENT_CREDENTIALS_GRANT, client_assertion_type: JWT_BEARER_CLIENT_ASSERTION, client_assertion: 'x'.repeat(bytes) });

describe.each(['/oauth2/token', '/oauth2/introspect'])('%s', (endpoint) => {
  it('refuses a body beyond limits.unauthenticatedBodyBytes with 413 invalid_request naming the limit', async () => {
    const response = await request(app).post(endpoint).type('form').send(form(2000));
    expect(response.status).toBe(413);
    expect(response.body).toEqual({ error: 'invalid_request', error_description: 'the body exceeds limits.unauthenticatedBodyBytes (1024 bytes)' });
    expect((await request(app).post(endpoint).type('form').send(form(500))).status).not.toBe(413);
  });

  it('answers 429 temporarily_unavailable with Retry-After when request bodies in flight leave no room', async () => {
    const held = await bodies.reserve(4096);
    try {
      const response = await request(app).post(endpoint).type('form').send(form(500));
      expect(response.status).toBe(429);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body).toEqual({ error: 'temporarily_unavailable', error_description: 'Request bodies in flight are at limits.inFlightBytes (4096); retry later' });
    } finally {
      held!();
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/logging/logger.js';
import { startGateway } from '../../src/main.js';
import { world } from '../auth/support.js';
import { startTestGateway } from '../harness/gateways.js';

/**
 * Development mode (generated keys, a demo organisation) answers on loopback only; production on every interface.
 * Checked through an address of this machine that is not loopback.
 */
const external = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && !address.internal && address.family === 'IPv4')?.address;

const healthzAt = (host: string, port: string) =>
  fetch(`http://${host}:${port}/healthz`, { signal: AbortSignal.timeout(10_000) }).then(
    (response) => response.status,
    (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
  );

describe('the interfaces a gateway listens on', () => {
  it('development mode: loopback only', async () => {
    expect(external).toBeDefined();
    const gateway = await startTestGateway();
    try {
      const port = new URL(gateway.url).port;
      expect(await healthzAt('127.0.0.1', port)).toBe(200);
      expect(await healthzAt(external!, port)).toBe('ECONNREFUSED');
    } finally {
      await gateway.close();
    }
  });

  it('development mode: the interface listenHost names, when it names one', async () => {
    const gateway = await startTestGateway(['tenant-a'], { listenHost: '0.0.0.0' });
    try {
      expect(await healthzAt(external!, new URL(gateway.url).port)).toBe(200);
    } finally {
      await gateway.close();
    }
  });

  it('production mode: every interface', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-listen-'));
    const { config } = await world({ mode: 'production', port: 0, dataDir });
    const gateway = await startGateway(config, { logger: createLogger('silent') });
    try {
      const port = new URL(gateway.url).port;
      expect(await healthzAt('127.0.0.1', port)).toBe(200);
      expect(await healthzAt(external!, port)).toBe(200);
    } finally {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

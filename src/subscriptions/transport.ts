import http from 'node:http';
import https from 'node:https';
import { GatewayError } from '../errors.js';
import { guardedLookup } from './endpoints.js';

/**
 * The HTTP client notifications go out with: keep-alive connections, at most `maxConcurrentPerEndpoint` requests in
 * flight per host and port (the rest wait their turn, and their timeout starts only when they go), a timeout per
 * attempt, redirects never followed, TLS verified. Connections that may not reach private addresses resolve names
 * through `guardedLookup`.
 */
export interface Delivery {
  url: URL;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  privateAllowed: boolean;
}

export class DeliveryError extends GatewayError {
  static override readonly code = 'ERR_DELIVERY_FAILED';

  constructor(
    message: string,
    /** The HTTP status, when the endpoint answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

interface Agents {
  http: http.Agent;
  https: https.Agent;
}

export class Transport {
  private readonly guarded: Agents;
  private readonly open: Agents;
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly maxConcurrentPerEndpoint: number) {
    this.guarded = agents({ lookup: guardedLookup });
    this.open = agents({});
  }

  /** Resolves with the status of a 2xx answer; rejects with a DeliveryError otherwise. */
  async send(delivery: Delivery): Promise<number> {
    const endpoint = delivery.url.host;
    await this.acquire(endpoint);
    try {
      const status = await this.request(delivery);
      if (status < 200 || status > 299) throw new DeliveryError(`${delivery.url.origin} answered ${status}`, status);
      return status;
    } finally {
      this.release(endpoint);
    }
  }

  close(): void {
    for (const set of [this.guarded, this.open]) {
      set.http.destroy();
      set.https.destroy();
    }
  }

  private request(delivery: Delivery): Promise<number> {
    const set = delivery.privateAllowed ? this.open : this.guarded;
    const agent = delivery.url.protocol === 'https:' ? set.https : set.http;
    const client = delivery.url.protocol === 'https:' ? https : http;
    const headers: Record<string, string | number> = { ...delivery.headers };
    if (delivery.body !== undefined) headers['content-length'] = Buffer.byteLength(delivery.body);
    return new Promise((resolve, reject) => {
      const request = client.request(delivery.url, { method: delivery.method, headers, agent }, (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', (error) => reject(new DeliveryError(`${delivery.url.origin}: ${error.message}`)));
      });
      const deadline = setTimeout(() => request.destroy(new Error(`no answer within ${delivery.timeoutMs} ms`)), delivery.timeoutMs);
      request.once('close', () => clearTimeout(deadline));
      request.once('error', (error) => reject(new DeliveryError(`${delivery.url.origin}: ${error.message}`)));
      request.end(delivery.body);
    });
  }

  private acquire(endpoint: string): Promise<void> {
    let slot = this.slots.get(endpoint);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.slots.set(endpoint, slot);
    }
    if (slot.active < this.maxConcurrentPerEndpoint) {
      slot.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => slot.waiting.push(resolve));
  }

  /** Hands the slot to the next waiting request, or frees it. */
  private release(endpoint: string): void {
    const slot = this.slots.get(endpoint);
    if (!slot) return;
    const next = slot.waiting.shift();
    if (next) return next();
    slot.active -= 1;
    if (slot.active === 0) this.slots.delete(endpoint);
  }
}

function agents(options: { lookup?: typeof guardedLookup }): Agents {
  const common = { keepAlive: true, ...options };
  return { http: new http.Agent(common), https: new https.Agent(common) };
}

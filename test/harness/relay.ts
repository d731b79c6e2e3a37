import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request that passed through a relay, as it arrived. */
export interface Exchange {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RelayAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Endpoints of an organisation with some of them moved behind a relay. A DPoP proof signs the URL the client called
 * (the relay's), which the gateway behind it does not answer to, so calls to such an organisation use bearer tokens:
 * its authorization server is left unnamed.
 */
export function relayedEndpoints(endpoints: Record<string, string>, moved: Record<string, string>): Record<string, string> {
  const { authorizationServer: _dpop, ...rest } = endpoints;
  return { ...rest, ...moved };
}

const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept', 'if-match'];
const RETURNED_HEADERS = ['content-type', 'etag', 'location', 'last-modified'];

/**
 * Stands between two gateways (configure the caller with the relay's URL in place of the target's): forwards every
 * request to `target` and records it. While `holding`, it answers a POST with 202 and keeps it instead (to be
 * forwarded later, or again); `answer` may answer a request itself instead of forwarding it (a refusing peer).
 */
export class Relay {
  readonly forwarded: Exchange[] = [];
  readonly held: Exchange[] = [];
  /** Every request that arrived, forwarded, held or answered here. */
  readonly received: Exchange[] = [];
  holding = false;
  answer?: (exchange: Exchange) => RelayAnswer | undefined;
  private server?: http.Server;

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const exchange = { method: req.method ?? 'GET', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        this.received.push(exchange);
        const own = this.answer?.(exchange);
        if (own) {
          res.writeHead(own.status, own.headers).end(own.body);
          return;
        }
        if (this.holding && exchange.method === 'POST') {
          this.held.push(exchange);
          res.writeHead(202).end();
          return;
        }
        this.forward(exchange).then(
          (answer) => res.writeHead(answer.status, answer.headers).end(answer.body),
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async forward(exchange: Exchange): Promise<RelayAnswer> {
    const headers = Object.fromEntries(FORWARDED_HEADERS.flatMap((name) => (typeof exchange.headers[name] === 'string' ? [[name, exchange.headers[name] as string]] : [])));
    const response = await fetch(`${this.target}${exchange.path}`, { method: exchange.method, headers, ...(exchange.body ? { body: exchange.body } : {}) });
    this.forwarded.push(exchange);
    const returned = Object.fromEntries(RETURNED_HEADERS.flatMap((name) => (response.headers.has(name) ? [[name, response.headers.get(name)!]] : [])));
    return { status: response.status, headers: returned, body: await response.text() };
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

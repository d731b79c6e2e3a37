import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The body of a request to a stand-in server, as text. */
export const requestBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });

/**
 * A stand-in remote on loopback answering JSON: `handle` gives status and body; a handler that throws is answered
 * `onError` (default 500) with `{ error }`.
 */
export async function jsonStandIn(handle: (req: IncomingMessage) => Promise<[number, object]>, onError = 500): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    handle(req).then(
      ([status, json]) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json)),
      (error: Error) => res.writeHead(onError, { 'content-type': 'application/json' }).end(JSON.stringify({ error: error.message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

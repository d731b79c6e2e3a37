import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `head` (request line and header lines) and `body` as written, over a socket of its own, and reads until the
 * server closes it: for requests a client library will not send (two Authorization headers, a body shorter than its
 * Content-Length). The request asks for `Connection: close` unless `head` says otherwise.
 */
export function rawRequest(url: string, head: string[], body = ''): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  const lines = head.some((line) => /^connection:/i.test(line)) ? head : [...head, 'Connection: close'];
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(parse(Buffer.concat(chunks).toString('latin1'))));
    socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

function parse(text: string): RawAnswer {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

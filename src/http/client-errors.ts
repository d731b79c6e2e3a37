import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest, headersTooLarge, type OperationOutcome } from '../fhir/outcome.js';
import { CONTENT_TYPES, serialize } from './format.js';
import { statusLine } from '../rest/status.js';

/**
 * Requests Node's HTTP parser refuses before express sees them (a request line or headers over `maxHeaderSize`,
 * malformed syntax) are answered with an OperationOutcome too, instead of Node's bare status line.
 */
export function answerClientErrors(server: http.Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    socket.end(rawResponse(refusalOf(error)));
  });
}

function refusalOf(error: NodeJS.ErrnoException): OperationOutcome {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return headersTooLarge('The request line and headers exceed the server limit (16 KiB); send long searches as POST [type]/_search');
  }
  return badRequest('The request is not well-formed HTTP');
}

function rawResponse(refusal: OperationOutcome): string {
  const body = serialize(refusal, 'json', 'r4', false);
  return [
    `HTTP/1.1 ${statusLine(refusal)}`,
    `Content-Type: ${CONTENT_TYPES.json}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

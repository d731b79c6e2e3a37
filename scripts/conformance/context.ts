import type { FhirVersion, Resource } from '../../src/fhir/version.js';

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  resource?: Resource;
}

export interface ReceivedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  resource?: Resource;
  /** Why the body could not be read as a resource, when it has one. */
  parseError?: string;
}

export interface Exchange {
  request: SentRequest;
  response: ReceivedResponse;
}

/**
 * What a running script has seen: its fixtures, every exchange kept under its `requestId`/`responseId`, and the
 * last exchange (the one an assert without `sourceId` is about).
 */
export class RunContext {
  readonly fixtures: Map<string, Resource>;
  readonly requests = new Map<string, SentRequest>();
  readonly responses = new Map<string, ReceivedResponse>();
  last?: Exchange;

  constructor(
    readonly version: FhirVersion,
    fixtures: Map<string, Resource>,
  ) {
    this.fixtures = fixtures;
  }

  record(exchange: Exchange, requestId?: string, responseId?: string): void {
    this.last = exchange;
    if (requestId) this.requests.set(requestId, exchange.request);
    if (responseId) this.responses.set(responseId, exchange.response);
  }

  /** The resource a fixture id, a request id or a response id names. */
  resource(id: string): Resource | undefined {
    return this.fixtures.get(id) ?? this.responses.get(id)?.resource ?? this.requests.get(id)?.resource;
  }

  /** The headers of the response (or request) an id names. */
  headers(id: string): Record<string, string> | undefined {
    return this.responses.get(id)?.headers ?? this.requests.get(id)?.headers;
  }

  knows(id: string): boolean {
    return this.fixtures.has(id) || this.responses.has(id) || this.requests.has(id);
  }
}

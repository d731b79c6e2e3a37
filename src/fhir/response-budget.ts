import { OperationOutcomeError, tooManyRequests } from './outcome.js';

/** How long a request that found no room for its answer is asked to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * Memory that all requests in flight draw on together (the HTTP layer's gate, `limits.inFlightBytes`): what a
 * request claims is held until its answer has gone out.
 */
export interface SharedBytes {
  /** Takes `bytes` if they fit now (and nobody waits for room); false otherwise. */
  claim(bytes: number): boolean;
  /** Takes `bytes` whether they fit or not (they are already held: a handler's answer). */
  claimAnyway(bytes: number): void;
  giveBack(bytes: number): void;
}

/**
 * What one request may gather into its answer (`limits.responseBytes`), drawn from what all requests in flight share
 * (`SharedBytes`): the JSON of every resource it reads for the answer is counted before it is read, so memory is
 * bounded per request and across requests by design. Whatever the request gathers first always fits its own limit, so
 * that a page of one large resource can still be served (and paging always moves on); when the shared memory has no
 * room even for that, the request is asked to come back (429).
 */
export class ResponseBudget {
  private spentBytes = 0;
  /** What something did not fit (this request's limit, or the memory all requests share): what comes after it would not fit either. */
  private refusedBy?: 'request' | 'shared';

  constructor(
    readonly limitBytes: number,
    private readonly shared?: SharedBytes,
  ) {}

  /** An effectively unlimited budget, for the gateway's own searches. */
  static unlimited(): ResponseBudget {
    return new ResponseBudget(Number.POSITIVE_INFINITY);
  }

  get spent(): number {
    return this.spentBytes;
  }

  get exhausted(): boolean {
    return this.refusedBy !== undefined || this.spentBytes >= this.limitBytes;
  }

  /** Whether `bytes` more can be gathered; if so, they are counted. Throws 429 when nothing at all can be gathered now. */
  take(bytes: number): boolean {
    if (this.spentBytes > 0 && this.spentBytes + bytes > this.limitBytes) return this.refuse('request');
    if (this.shared && !this.shared.claim(bytes)) {
      if (this.spentBytes > 0) return this.refuse('shared');
      this.refusedBy = 'shared';
      throw new OperationOutcomeError(tooManyRequests(`The answers in flight use up limits.inFlightBytes; retry in ${BUSY_RETRY_AFTER_SECONDS} s`));
    }
    this.spentBytes += bytes;
    return true;
  }

  /** Bytes already gathered by other means (e.g. a resource a handler returns), counted whether or not they fit. */
  spend(bytes: number): void {
    this.shared?.claimAnyway(bytes);
    this.spentBytes += bytes;
  }

  /** Gives what was gathered back to the shared memory, once the answer has gone out. */
  release(): void {
    this.shared?.giveBack(this.spentBytes);
    this.spentBytes = 0;
  }

  private refuse(by: 'request' | 'shared'): false {
    this.refusedBy = by;
    return false;
  }

  describe(): string {
    return this.refusedBy === 'shared' ? 'limits.inFlightBytes (the memory all requests in flight share)' : `limits.responseBytes (${this.limitBytes})`;
  }
}

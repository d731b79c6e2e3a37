/**
 * What one request may gather into its answer (`limits.responseBytes`): the JSON of every resource it reads for the
 * answer is counted before it is read, so memory is bounded per request by design. Whatever the request gathers
 * first always fits, so that a page of one large resource can still be served (and paging always moves on).
 */
export class ResponseBudget {
  private spentBytes = 0;
  /** Something did not fit: what comes after it in the answer would not either, however small. */
  private refused = false;

  constructor(readonly limitBytes: number) {}

  /** An effectively unlimited budget, for the gateway's own searches. */
  static unlimited(): ResponseBudget {
    return new ResponseBudget(Number.POSITIVE_INFINITY);
  }

  get spent(): number {
    return this.spentBytes;
  }

  get exhausted(): boolean {
    return this.refused || this.spentBytes >= this.limitBytes;
  }

  /** Whether `bytes` more can be gathered; if so, they are counted. */
  take(bytes: number): boolean {
    if (this.spentBytes > 0 && this.spentBytes + bytes > this.limitBytes) {
      this.refused = true;
      return false;
    }
    this.spentBytes += bytes;
    return true;
  }

  /** Bytes already gathered by other means (e.g. a resource a handler returns), counted whether or not they fit. */
  spend(bytes: number): void {
    this.spentBytes += bytes;
  }

  describe(): string {
    return `limits.responseBytes (${this.limitBytes})`;
  }
}

import type { Request, RequestHandler, Response } from 'express';
import { GatewayError } from '../errors.js';
import { issue, outcome, type OperationOutcome } from '../fhir/outcome.js';
import type { SharedBytes } from '../fhir/response-budget.js';
import { outcomeKindFor } from '../rest/status.js';

/**
 * One gate for the memory that requests hold, all callers and routes together (`limits.inFlightBytes`): the bodies
 * being read and worked on, and the answers being gathered (`SharedBytes`, which a request's response budget draws
 * on). A request reserves what its body may cost before a parser reads it and gives it back when it is answered; one
 * that does not fit waits its turn in a bounded queue for a bounded time, else it is refused (429, Retry-After). An
 * answer cannot wait in the middle of a search: what finds no room is not gathered.
 */
export interface MemoryGate extends SharedBytes {
  readonly totalBytes: number;
  /** Resolves with the function that gives the bytes back, or with undefined when the request is to be refused. */
  reserve(bytes: number): Promise<Release | undefined>;
}

export type Release = () => void;

export interface BodyQueue {
  /** Requests that may wait for room at once; beyond it a request is refused at once. */
  maxWaiting: number;
  /** How long a request may wait for room before it is refused. */
  maxWaitMs: number;
}

export const DEFAULT_BODY_QUEUE: BodyQueue = { maxWaiting: 64, maxWaitMs: 5_000 };
export const BODY_BUDGET_RETRY_AFTER_SECONDS = 1;

interface Waiting {
  bytes: number;
  admit: (release: Release | undefined) => void;
  timer: NodeJS.Timeout;
}

export function createMemoryGate(totalBytes: number, queue: BodyQueue = DEFAULT_BODY_QUEUE): MemoryGate {
  let reserved = 0;
  const waiting: Waiting[] = [];
  const fits = (bytes: number) => reserved + bytes <= totalBytes;

  function take(bytes: number): Release {
    reserved += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      giveBack(bytes);
    };
  }

  function giveBack(bytes: number): void {
    reserved -= bytes;
    admitWaiting();
  }

  // First come, first served: a large body at the head is not overtaken by smaller ones behind it.
  function admitWaiting(): void {
    while (waiting.length > 0 && fits(waiting[0]!.bytes)) {
      const next = waiting.shift()!;
      clearTimeout(next.timer);
      next.admit(take(next.bytes));
    }
  }

  function giveUp(entry: Waiting): void {
    waiting.splice(waiting.indexOf(entry), 1);
    entry.admit(undefined);
    admitWaiting();
  }

  return {
    totalBytes,
    claim(bytes) {
      if (waiting.length > 0 || !fits(bytes)) return false;
      reserved += bytes;
      return true;
    },
    claimAnyway(bytes) {
      reserved += bytes;
    },
    giveBack,
    reserve(requested) {
      // A body larger than the whole budget may still be read, alone.
      const bytes = Math.min(requested, totalBytes);
      if (waiting.length === 0 && fits(bytes)) return Promise.resolve(take(bytes));
      if (waiting.length >= queue.maxWaiting) return Promise.resolve(undefined);
      return new Promise((admit) => {
        const entry: Waiting = { bytes, admit, timer: setTimeout(() => giveUp(entry), queue.maxWaitMs) };
        waiting.push(entry);
      });
    },
  };
}

/** The refusal of a request whose body finds no room; the router's error handler answers it in its own format. */
export class BodyBudgetExhausted extends GatewayError {
  static override readonly code = 'ERR_BODY_BUDGET_EXHAUSTED';
  readonly status = 429;

  constructor(totalBytes: number) {
    super(`Request bodies in flight are at limits.inFlightBytes (${totalBytes}); retry later`);
  }
}

/** A body whose Content-Length is beyond the route's limit, refused before any of it is read. */
export class BodyTooLarge extends GatewayError {
  static override readonly code = 'ERR_BODY_TOO_LARGE';
  readonly status = 413;

  constructor(limitBytes: number) {
    super(`The body is longer than the limit of ${limitBytes} bytes`);
  }
}

/**
 * Middleware before a body parser whose limit is `limitBytes`: refuses a declared length beyond it at once (body
 * parsers would read it off first), reserves the body's Content-Length (sent in chunks: the limit) and gives it back
 * when the request is answered or its connection closes.
 */
export function reserveBody(budget: MemoryGate, limitBytes: number): RequestHandler {
  return async (req, res, next) => {
    const bytes = bytesToReserve(req, limitBytes);
    if (bytes > limitBytes) return next(new BodyTooLarge(limitBytes));
    if (bytes === 0) return next();
    const release = await budget.reserve(bytes);
    if (!release) {
      res.set('Retry-After', String(BODY_BUDGET_RETRY_AFTER_SECONDS));
      return next(new BodyBudgetExhausted(budget.totalBytes));
    }
    releaseWhenClosed(res, release);
    next();
  };
}

function bytesToReserve(req: Request, limitBytes: number): number {
  const declared = req.headers['content-length'];
  if (declared === undefined) return req.headers['transfer-encoding'] === undefined ? 0 : limitBytes;
  return Number(declared);
}

function releaseWhenClosed(res: Response, release: Release): void {
  if (res.closed) release();
  else res.once('close', release);
}

/**
 * A caller refused before its body was read (not authenticated): a body longer than `limitBytes`, or one sent in
 * chunks, is never read; the connection closes after the answer instead of draining it.
 */
export function leaveBodyUnread(req: Request, res: Response, limitBytes: number): void {
  const declared = req.headers['content-length'];
  const unbounded = declared === undefined ? req.headers['transfer-encoding'] !== undefined : Number(declared) > limitBytes;
  if (unbounded) res.set('Connection', 'close');
}

/** A body refused before all of it arrived (too long, no room) is not drained either: the connection closes. */
export function closeIfUnread(req: Request, res: Response): void {
  if (!req.complete) res.set('Connection', 'close');
}

const ISSUE_CODES: Record<number, string> = { 413: 'too-costly', 429: 'throttled' };

/**
 * The outcome for an error raised while a body was waited for or read (too large, no room, bad encoding, aborted),
 * which carries its 4xx status; undefined for anything else. `limit` names the body limit the parser had.
 */
export function bodyErrorOutcome(error: unknown, req: Request, res: Response, limit: { name: string; bytes: number }): OperationOutcome | undefined {
  const status = (error as { status?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  closeIfUnread(req, res);
  const text = status === 413 ? `The body exceeds ${limit.name} (${limit.bytes} bytes)` : (error as Error).message;
  return outcome(outcomeKindFor(status), [issue('error', ISSUE_CODES[status] ?? 'invalid', text)]);
}

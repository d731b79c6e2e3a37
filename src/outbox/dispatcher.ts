import { GatewayError } from '../errors.js';
import type { Outbox, OutboxMessage } from '../store/repository.js';
import { OUTBOX_CHANGED, type ChangeFeed } from '../store/repository.js';
import { DEFAULT_BACKOFF, nextAttempt, type BackoffPolicy } from './backoff.js';

/**
 * Delivers outbox messages: claims due messages, hands each to the handler registered for its kind, and records
 * the result. Handlers throw to signal failure; a `PermanentFailure` dead-letters at once, anything else retries with
 * backoff until the horizon. A crashed process leaves its claims to expire, so another worker (or the restarted one)
 * delivers them: at-least-once, never lost.
 */
export type OutboxHandler = (message: OutboxMessage) => Promise<void>;

export class PermanentFailure extends GatewayError {
  static override readonly code = 'ERR_OUTBOX_PERMANENT_FAILURE';
}

export interface DispatcherOptions {
  outbox: Outbox;
  /** The store's change feed: its OUTBOX_CHANGED signals (work enqueued by any instance) wake the dispatcher. */
  changes?: Pick<ChangeFeed, 'subscribe'>;
  handlers: Record<string, OutboxHandler>;
  backoff?: BackoffPolicy;
  /** Messages claimed per round. */
  batchSize?: number;
  /** How long a claim stays ours; must exceed the slowest handler's timeout. */
  leaseMs?: number;
  /** Idle polling interval (retries, expired leases); a wake starts a round at once. */
  pollMs?: number;
  onError?: (error: unknown, message?: OutboxMessage) => void;
}

export interface Dispatcher {
  /** Starts the rounds; resolves once the change feed wakes the dispatcher. */
  start(): Promise<void>;
  /** Starts a round now, or at `dueAt` (epoch ms) when that is later (as an OUTBOX_CHANGED signal asks). */
  wake(dueAt?: number): void;
  /** Runs rounds until nothing due is left; for tests and shutdown draining. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { outbox, handlers } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const batchSize = options.batchSize ?? 50;
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1000;
  const kinds = Object.keys(handlers);
  let running = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let current: Promise<number> | undefined;
  let wakeRequested = false;
  /** The earliest time work announced for later falls due. */
  let dueLater = Infinity;
  let stopListening: (() => void) | undefined;

  /** Runs the handler; true when it succeeded, else the failure is recorded (retry or dead letter). */
  async function deliver(message: OutboxMessage): Promise<boolean> {
    try {
      await handlers[message.kind](message);
      return true;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const retryAt =
        error instanceof PermanentFailure ? undefined : nextAttempt(backoff, message.createdAt, message.attempts, Date.now());
      await outbox.fail(message.id, reason, retryAt);
      return false;
    }
  }

  /** The round's deliveries are marked complete together (one statement, not one commit each); a crash before that redelivers them. */
  async function round(): Promise<number> {
    const messages = await outbox.claim(kinds, batchSize, leaseMs);
    const delivered = await Promise.all(
      messages.map((message) =>
        deliver(message).catch((error) => {
          options.onError?.(error, message);
          return false;
        }),
      ),
    );
    await outbox.completeAll(messages.filter((_, i) => delivered[i]).map((message) => message.id));
    return messages.length;
  }

  /** One round at a time: a wake during a round asks for another one right after. */
  function runRound(): Promise<number> {
    if (!current) {
      current = round()
        .catch((error) => {
          options.onError?.(error);
          return 0;
        })
        .finally(() => {
          current = undefined;
        });
    }
    return current;
  }

  function schedule(delay: number): void {
    if (!running) return;
    clearTimeout(timer);
    timerAt = Date.now() + delay;
    timer = setTimeout(async () => {
      wakeRequested = false;
      if (dueLater <= Date.now()) dueLater = Infinity;
      const handled = await runRound();
      // Anything handled may have unblocked the next message of its ordering key: only an empty round means idle.
      schedule(handled > 0 || wakeRequested ? 0 : Math.min(pollMs, dueLater - Date.now()));
    }, delay);
  }

  function wake(dueAt = Date.now()): void {
    if (dueAt > Date.now()) {
      dueLater = Math.min(dueLater, dueAt);
      if (running && !current && dueAt < timerAt) schedule(dueAt - Date.now());
      return;
    }
    wakeRequested = true;
    if (running && !current) schedule(0);
  }

  return {
    async start() {
      running = true;
      schedule(0);
      // The signal's message, when there is one, is when the work it announces falls due (store/outbox.ts).
      const unsubscribe = await options.changes?.subscribe(OUTBOX_CHANGED, (message) => wake(message === undefined ? undefined : Number(message)));
      if (running) stopListening = unsubscribe;
      else unsubscribe?.();
    },
    wake,
    async drain() {
      while ((await runRound()) > 0);
    },
    async stop() {
      running = false;
      stopListening?.();
      clearTimeout(timer);
      await current;
    },
  };
}

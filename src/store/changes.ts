import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * How change signals travel (the `ChangeFeed` of repository.ts; KyselyStore collects a transaction's signals and
 * hands them over here). PostgreSQL: NOTIFY on one channel per schema, sent inside the transaction (the server
 * delivers at commit), and one LISTEN connection per instance that dispatches to the local subscribers. SQLite: the
 * database belongs to one process, so signals are delivered in-process once the transaction has committed.
 */
export interface Signal {
  topic: string;
  message?: string;
}

type Listener = (message?: string) => void;

export interface SignalTransport {
  /** True: `send` runs inside the transaction, before commit (PostgreSQL). False: after the commit (in-process). */
  readonly sendsInTransaction: boolean;
  send(signals: Signal[], db: Kysely<Database>): Promise<void>;
  subscribe(topic: string, listener: Listener): Promise<() => void>;
  close(): Promise<void>;
}

/** NOTIFY payloads must stay below 8000 bytes; a signal is a hint, so a long message is a programming error. */
const MAX_PAYLOAD = 4000;

class Subscribers {
  private readonly byTopic = new Map<string, Set<Listener>>();

  add(topic: string, listener: Listener): () => void {
    let listeners = this.byTopic.get(topic);
    if (!listeners) {
      listeners = new Set();
      this.byTopic.set(topic, listeners);
    }
    const own = (message?: string) => listener(message);
    listeners.add(own);
    return () => listeners.delete(own);
  }

  deliver(topic: string, message?: string): void {
    for (const listener of this.byTopic.get(topic) ?? []) call(listener, message);
  }

  /** Signals may have been missed: every listener looks at everything. */
  deliverEverywhere(): void {
    for (const listeners of this.byTopic.values()) for (const listener of listeners) call(listener, undefined);
  }
}

/** A listener that throws must not stop the others, nor the transaction that sent the signal. */
function call(listener: Listener, message: string | undefined): void {
  try {
    listener(message);
  } catch {
    // the listener's own error handling is its business
  }
}

export class InProcessSignals implements SignalTransport {
  readonly sendsInTransaction = false;
  private readonly subscribers = new Subscribers();

  async send(signals: Signal[]): Promise<void> {
    for (const signal of signals) this.subscribers.deliver(signal.topic, signal.message);
  }

  async subscribe(topic: string, listener: Listener): Promise<() => void> {
    return this.subscribers.add(topic, listener);
  }

  async close(): Promise<void> {}
}

const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 5000;

export class PostgresSignals implements SignalTransport {
  readonly sendsInTransaction = true;
  private readonly subscribers = new Subscribers();
  /** Channel names are identifiers: at most 63 bytes. */
  private readonly channel: string;
  private listening?: Promise<void>;
  private client?: pg.Client;
  private reconnectTimer?: NodeJS.Timeout;
  private reconnectDelay = RECONNECT_FIRST_MS;
  private closed = false;

  constructor(
    private readonly connectionString: string,
    schema: string,
  ) {
    this.channel = `vz_changes:${schema}`.slice(0, 63);
  }

  async send(signals: Signal[], db: Kysely<Database>): Promise<void> {
    if (signals.length === 0) return;
    const payloads = signals.map(({ topic, message }) => {
      const payload = JSON.stringify(message === undefined ? [topic] : [topic, message]);
      if (payload.length > MAX_PAYLOAD) throw new Error(`Change signal '${topic}' is too long for NOTIFY`);
      return payload;
    });
    await sql`select pg_notify(${this.channel}, payload) from unnest(${payloads}::text[]) as payload`.execute(db);
  }

  async subscribe(topic: string, listener: Listener): Promise<() => void> {
    const unsubscribe = this.subscribers.add(topic, listener);
    this.listening ??= this.listen();
    await this.listening;
    return unsubscribe;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    await this.listening?.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }

  /** One connection that only listens; when it is lost, a new one listens again and everybody looks again. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString });
    this.client = client;
    client.on('notification', (notification) => {
      if (notification.channel === this.channel && notification.payload !== undefined) this.dispatch(notification.payload);
    });
    client.on('error', () => this.reconnect(client));
    client.on('end', () => this.reconnect(client));
    await client.connect();
    await client.query(`listen "${this.channel.replaceAll('"', '""')}"`);
    this.reconnectDelay = RECONNECT_FIRST_MS;
  }

  private dispatch(payload: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return;
    }
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') return;
    this.subscribers.deliver(parsed[0], typeof parsed[1] === 'string' ? parsed[1] : undefined);
  }

  private reconnect(lost: pg.Client): void {
    if (this.closed || this.client !== lost || this.reconnectTimer) return;
    this.client = undefined;
    lost.end().catch(() => undefined);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.listening = this.listen().then(
        () => this.subscribers.deliverEverywhere(),
        () => this.reconnect(this.client as pg.Client),
      );
    }, this.reconnectDelay);
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
  }
}

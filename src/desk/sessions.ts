import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Who is signed in at the desk, for which hosted organisations, and the form token of their session. */
export interface DeskSession {
  id: string;
  /** The identity provider's subject (development: the demo user). */
  subject: string;
  name: string;
  /** Hosted organisations the person may use the desk for (configuration: desk.people). */
  organizations: string[];
  /** The organisation the desk shows now, one of `organizations`. */
  tenant: string;
  /** Sent back with every form that changes something (CSRF). */
  csrf: string;
  expiresAt: number;
}

export const SESSION_COOKIE = 'desk_session';
export const DEFAULT_SESSION_MINUTES = 480;

const token = () => randomBytes(32).toString('base64url');

/**
 * Desk sessions, held in this process (a desk user signs in again after a restart, or at another instance behind a
 * load balancer without sticky sessions). A session ends `lifetimeMs` after sign-in, or at sign-out.
 */
export class DeskSessions {
  private readonly sessions = new Map<string, DeskSession>();

  constructor(
    private readonly lifetimeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  open(person: Pick<DeskSession, 'subject' | 'name' | 'organizations'>): DeskSession {
    this.forgetExpired();
    const session: DeskSession = { ...person, id: token(), tenant: person.organizations[0], csrf: token(), expiresAt: this.clock() + this.lifetimeMs };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The session a cookie names, while it lasts. */
  find(id: string | undefined): DeskSession | undefined {
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt > this.clock()) return session;
    this.sessions.delete(session.id);
    return undefined;
  }

  close(id: string): void {
    this.sessions.delete(id);
  }

  get cookieSeconds(): number {
    return Math.floor(this.lifetimeMs / 1000);
  }

  private forgetExpired(): void {
    const now = this.clock();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}

/** Whether a posted form carries the session's token (compared in constant time). */
export function carriesFormToken(session: DeskSession, sent: string | undefined): boolean {
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(sent ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
